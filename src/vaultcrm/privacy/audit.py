"""The audit log of erasures, `.vaultcrm/logs/audit.log`: one JSON line per forget or purge.

It records who erased which customer ID, when, and which notes were rewritten — never what was erased.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from ..core.config import STATE_DIR
from ..vault.perms import PRIVATE_FILE, make_private

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
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = audit_line(action=action, customer=customer, operator=operator, files=files, at=at).encode("utf-8")
    flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_CLOEXEC", 0))  # O_NONBLOCK: a FIFO planted here fails instead of hanging
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        make_private(fd)  # also a log created before this rule, or by a copy with another umask
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
