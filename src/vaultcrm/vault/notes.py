"""Small helpers about note files as a whole: lines of keys, wikilinks, where new notes go."""

from __future__ import annotations

from pathlib import Path

from ..models import Record
from .checklist import items_with_lines
from .lines import key_line
from .reader import MAX_READ, split_body, split_frontmatter


def checklist_line(root: Path, record: Record, heading: str) -> int:
    """The line of the first unticked item of the body's `heading` checklist (2 if it cannot be told)."""
    try:
        with open(root / record.path, "rb") as fh:
            body, first = split_body(fh.read(MAX_READ))
    except Exception:  # noqa: BLE001 - only used to point at a line
        return 2
    items = items_with_lines(body.decode("utf-8", "replace"), heading)
    return next((first + line for line, _, done in items if not done), first + items[0][0] if items else 2)


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
