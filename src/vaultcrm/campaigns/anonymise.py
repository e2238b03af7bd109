"""A forgotten customer's rows in the campaign notes, anonymised (for `customer forget` and `purge`).

Her rows stay, coupon, dates and send state included, so `report campaigns` counts what it counted;
only the 客户 cell becomes the pseudonym's profile link, a birthday row's 说明 (her birthday) becomes
「生日」, and her name and phone are replaced anywhere else on the row. Only the lines of her rows change:
the rest of the note stays byte for byte as the user left it. The send log (`.vaultcrm/campaigns/*.sent`)
holds coupon codes, channel labels and times only, so it needs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.config import Settings
from ..errors import VaultCRMError
from ..vault.blocks import markers
from ..vault.writer import FileStamp, read_stamped
from .notes import note_files, note_path, parse_note
from .roster import BLOCK, COLUMNS, ID_KEY

_BIRTHDAY_NOTE = re.compile(r"^\d{1,2}月\d{1,2}日生日$")
_CUSTOMER, _ID, _NOTE = COLUMNS.index("客户"), COLUMNS.index("客户编号"), COLUMNS.index("说明")


@dataclass
class Forgotten:
    """Who is forgotten: her ID, what her rows may show for her, and what they show instead."""

    customer_id: str
    shown_as: set[str]  # her profile link and name, as a 客户 cell may hold them
    new_link: str
    replacements: list[tuple[str, str]]  # (real name or phone, its stand-in) for the row's other cells


@dataclass
class CampaignEdit:
    relpath: str
    text: str  # the note with her rows anonymised
    stamp: FileStamp  # the note as read


def _is_hers(cells: list[str], who: Forgotten) -> bool:
    return cells[_ID] == who.customer_id or cells[_CUSTOMER] in who.shown_as


def anonymised(text: str, who: Forgotten) -> str:
    """The note's text with her roster rows anonymised (the same text when she has none)."""
    start, end = markers(BLOCK)
    first = text.find(start)
    last = text.find(end, first + 1) if first >= 0 else -1
    if last < 0:
        return text
    lines = text[first:last].split("\n")
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != len(COLUMNS) or not _is_hers(cells, who):
            continue
        cells[_CUSTOMER] = who.new_link
        if _BIRTHDAY_NOTE.match(cells[_NOTE]):
            cells[_NOTE] = "生日"
        row = "| " + " | ".join(cells) + " |"
        for old, new in who.replacements:
            row = row.replace(old, new)
        lines[i] = line[:len(line) - len(line.lstrip())] + row
    return text[:first] + "\n".join(lines) + text[last:]


def campaign_edits(root: Path, settings: Settings, who: Forgotten,
                   read: Callable[[str], bytes | None] | None = None) -> list[CampaignEdit]:
    """The campaign notes holding her (by ID, link, name or phone), each with its anonymised text.

    `read(relpath)` gives a note's bytes as an operation already staged them (purge: one note, many
    customers); a note that is not a readable campaign is left to `mentions` to report."""
    needles = [who.customer_id, *who.shown_as, *(old for old, _ in who.replacements)]
    wanted = [n.encode("utf-8") for n in needles if n]
    edits = []
    for relpath in note_files(root, settings):
        try:
            raw, stamp = read_stamped(note_path(root, relpath))
            staged = read(relpath) if read is not None else None
        except (OSError, VaultCRMError):
            continue
        data = staged if staged is not None else raw
        if ID_KEY.encode("utf-8") not in data[:4096] or not any(n in data for n in wanted):
            continue
        try:
            text = data.decode("utf-8")
            parse_note(relpath, text)
        except (UnicodeDecodeError, VaultCRMError):
            continue
        new = anonymised(text, who)
        if new != text:
            edits.append(CampaignEdit(relpath, new, stamp))
    return edits


__all__ = ["CampaignEdit", "Forgotten", "anonymised", "campaign_edits"]
