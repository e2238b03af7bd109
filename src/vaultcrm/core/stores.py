"""Which store of a chain this machine is, and which store a record belongs to.

The machine's store is machine state, not vault content: `init --store CODE` writes it to
`.vaultcrm/store`, which `.gitignore` keeps out of the shared repository (every store's clone has its
own); `$VAULTCRM_STORE` overrides it, for a second terminal or a test. A single-store vault has none.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from ..vault.state import clear_junk, read_state
from ..vault.writer import write_atomic

STORE_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
STORE_FILE = ".vaultcrm/store"
ENV = "VAULTCRM_STORE"
# The store code inside an ID: APP-SH01-2026-001, C-SH01-0001.
_CODE_IN_ID = re.compile(r"^(?:APP|SRV|FLW|C)-([A-Z][A-Z0-9]{1,9})-\d")

R = TypeVar("R")


def read_machine_store(root: Path) -> tuple[str | None, str]:
    """(code, where it came from): `$VAULTCRM_STORE`, else `.vaultcrm/store`; (None, "") when neither."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return env.upper(), f"${ENV}"
    raw = read_state(Path(root) / STORE_FILE, 256)
    if raw is None:
        return None, ""
    code = raw.decode("utf-8", "replace").strip().upper()
    return (code, STORE_FILE) if code else (None, "")


def write_machine_store(root: Path, code: str) -> None:
    target = Path(root) / STORE_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    clear_junk(target)
    write_atomic(target, (code + "\n").encode("ascii"), within=Path(root))


def store_of(record) -> str | None:
    """The record's `门店`, else the store coded in its ID; None for a single-store record."""
    store = getattr(record, "store", None)
    if store:
        return store
    m = _CODE_IN_ID.match(getattr(record, "record_id", "") or "")
    return m[1] if m else None


def of_store(records: Iterable[R], store: str | None) -> list[R]:
    """The records of one store (all of them when `store` is None)."""
    return list(records) if store is None else [r for r in records if store_of(r) == store]


__all__ = ["ENV", "STORE_CODE", "STORE_FILE", "of_store", "read_machine_store", "store_of", "write_machine_store"]
