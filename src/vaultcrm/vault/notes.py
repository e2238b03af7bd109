"""Small helpers about note files as a whole: lines of keys, wikilinks, where new notes go."""

from __future__ import annotations

from pathlib import Path

from ..models import Record
from .lines import key_line
from .reader import MAX_READ, split_frontmatter


def record_line(root: Path, record: Record, key_path: tuple) -> int:
    """The line of a key in a record's note (2 — the line after the fence — if it cannot be told)."""
    try:
        with open(root / record.path, "rb") as fh:
            raw = fh.read(MAX_READ)
        split = split_frontmatter(raw)
    except Exception:  # noqa: BLE001 - only used to point at a line
        return 2
    if split is None:
        return 2
    fm, first = split
    return key_line(fm.decode("utf-8", "replace"), key_path, first)
