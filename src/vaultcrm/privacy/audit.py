"""The audit log of erasures, `.vaultcrm/logs/audit.log`: one JSON line per forget or purge.

It records who erased which customer ID, when, and which notes were rewritten — never what was erased.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from ..core.config import STATE_DIR

AUDIT_LOG = f"{STATE_DIR}/logs/audit.log"


def audit_line(*, action: str, customer: str, operator: str, files: list[str], at: dt.datetime) -> str:
    """The log's line for one action, newline included."""
    entry = {"time": at.isoformat(timespec="seconds"), "action": action, "customer": customer,
             "operator": operator, "files": files}
    return json.dumps(entry, ensure_ascii=False) + "\n"


def append_audit(root: Path, *, action: str, customer: str, operator: str, files: list[str],
                 at: dt.datetime) -> None:
    """One JSON line per action; O_APPEND keeps lines of concurrent writers whole."""
    path = root / AUDIT_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    line = audit_line(action=action, customer=customer, operator=operator, files=files, at=at).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_audit(root: Path) -> list[dict]:
    try:
        lines = (root / AUDIT_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash
    return entries
