"""The audit log of erasures, `.vaultcrm/logs/audit.log`: one JSON line per forget or purge.

It records who erased which customer ID, when, and which notes were rewritten — never what was erased.
Lines are appended as a step of the erasure's journalled operation (core/journal.py), owner-only.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..core.config import STATE_DIR
from ..vault.state import read_state

AUDIT_LOG = f"{STATE_DIR}/logs/audit.log"


def audit_line(*, action: str, customer: str, operator: str, files: list[str], at: dt.datetime) -> str:
    """The log's line for one action, newline included."""
    entry = {"time": at.isoformat(timespec="seconds"), "action": action, "customer": customer,
             "operator": operator, "files": files}
    return json.dumps(entry, ensure_ascii=False) + "\n"


def read_audit(root: Path) -> list[dict]:
    raw = read_state(root / AUDIT_LOG, 64 << 20)  # never blocks on a FIFO planted there
    try:
        lines = raw.decode("utf-8").splitlines() if raw is not None else []
    except UnicodeDecodeError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash
    return entries
