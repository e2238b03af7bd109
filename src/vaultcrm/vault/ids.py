"""ID allocation: `APP-2026-017`, `C-0042`, unique across processes, never overwriting a note.

Under an inter-process lock the next number is the larger of the vault's highest ID (notes may have
been made by hand) and a counter kept in `.vaultcrm/ids.json` (notes made a moment ago by another
vaultcrm process whose files this process's index has not seen). The note itself is created with a
no-overwrite link, so even a stale counter can never clobber a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from .lock import FileLock
from .state import clear_junk, read_state
from .writer import FileExistsConflict, create_exclusive, write_atomic

PREFIXES = {"APP": "APP-{year}-", "SRV": "SRV-{year}-", "FLW": "FLW-{year}-", "CUS": "C-", "SER": "SER-{year}-",
            "CMP": "CMP-{year}-", "WL": "WL-{year}-", "LV": "LV-{year}-"}
WIDTH = {"APP": 3, "SRV": 3, "FLW": 3, "CUS": 4, "SER": 3, "CMP": 3, "WL": 3, "LV": 3}


def prefix_of(kind: str, year: int | None = None, store: str | None = None) -> str:
    """`APP-2026-`, or in a chain the store-coded `APP-SH01-2026-` / `C-SH01-`: stores never share a prefix."""
    prefix = PREFIXES[kind].format(year=year)
    if store:
        head, _, rest = prefix.partition("-")
        prefix = f"{head}-{store}-{rest}"
    return prefix


def format_id(kind: str, number: int, year: int | None = None, store: str | None = None) -> str:
    return prefix_of(kind, year, store) + str(number).zfill(WIDTH[kind])


def highest(prefix: str, ids: Iterable[str]) -> int:
    """The largest number among IDs that are `prefix` and digits; 0 when there is none."""
    n = len(prefix)
    return max((int(i[n:]) for i in ids if i.startswith(prefix) and i[n:].isdecimal()), default=0)


def next_free(kind: str, year: int | None, known_ids: Iterable[str], store: str | None = None) -> str:
    """The ID after the highest of `known_ids`, for an ID that names no note of its own (a series'
    `系列编号`, written into its appointments): the caller holds the lock that every writer of such
    IDs holds, so the vault's own IDs are the whole truth and no counter is kept. In a chain the store's
    code is part of the ID (`SER-SH01-2026-001`), since other stores' writers hold other locks."""
    return format_id(kind, highest(prefix_of(kind, year, store), known_ids) + 1, year, store)


def _counter_file(root: Path) -> Path:
    return root / ".vaultcrm" / "ids.json"


MAX_COUNTERS = 1 << 20  # bytes: a few dozen prefixes are a few hundred bytes
MAX_NUMBER = 10**9


def _read_counters(root: Path) -> dict[str, int]:
    """The counters kept in `.vaultcrm/ids.json`; whatever is not a plain counter there is ignored."""
    raw = read_state(_counter_file(root), MAX_COUNTERS)
    try:
        data = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if type(v) is int and 0 <= v < MAX_NUMBER}


def _save_counters(root: Path, counters: dict[str, int]) -> None:
    """Best effort: the note itself was created without overwriting, whatever the counter says."""
    target = _counter_file(root)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if clear_junk(target):  # a symlink or FIFO planted there goes; a folder stays, and no counter is kept
            write_atomic(target, json.dumps(counters, ensure_ascii=False, indent=1).encode(), within=root)
    except (OSError, ValueError):
        pass


def _scan_folder_ids(folder: Path, prefix: str) -> Iterable[str]:
    """IDs of files in the target folder, which a concurrent process may have just made."""
    try:
        return [name.split(" ")[0].removesuffix(".md") for name in os.listdir(folder) if name.startswith(prefix)]
    except OSError:
        return []


def create_with_new_id(root: Path, kind: str, year: int | None, known_ids: Iterable[str], folder: str,
                       build: Callable[[str], tuple[str, bytes]],
                       create: Callable[[Path, bytes], None] | None = None,
                       store: str | None = None) -> tuple[str, str]:
    """Allocate the next ID and create the note `build(id)` returns as (relative path, bytes).

    `folder` is where new notes of this kind go; its file names are consulted as well. `create`
    replaces `create_exclusive` (raising FileExistsConflict alike) to stage the note in an operation's
    journal: the counter is then left alone, so an operation that never gets written leaves no gap.
    `store` (a chain's store code) goes into the ID, so two stores allocating at once never collide.
    """
    staged = create is not None
    create = create or create_exclusive
    prefix = prefix_of(kind, year, store)
    with FileLock(root, "ids", timeout=30):
        counters = _read_counters(root)
        number = max(counters.get(prefix, 0), highest(prefix, known_ids),
                     highest(prefix, _scan_folder_ids(root / folder, prefix)))
        for _ in range(10_000):
            number += 1
            record_id = format_id(kind, number, year, store)
            relpath, data = build(record_id)
            target = root / relpath
            try:
                create(target, data)
            except FileExistsConflict:
                continue
            if staged:
                return record_id, relpath
            counters[prefix] = number
            _save_counters(root, counters)
            return record_id, relpath
    raise RuntimeError("no free ID")  # pragma: no cover - ten thousand collisions
