"""Markdown task lists in a note's body: `- [ ] 热敷` under a heading, as Obsidian shows and ticks them.

Obsidian writes a ticked box as `- [x]`; any other mark (`[/]`, `[-]`, which themes show as half done
or cancelled) does not count as done. The section runs from its heading to the next heading of the
same or a higher level. Only the first such section counts, so a user's own notes further down with
the same title cannot change what was recorded.
"""

from __future__ import annotations

import re

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_ITEM = re.compile(r"^[ \t]{0,3}[-*+][ \t]+\[(.)\][ \t]+(.*?)[ \t]*$")
DONE_MARKS = frozenset("xX")
MAX_ITEMS = 200  # an SOP is a handful of steps


def items_with_lines(body: str, heading: str) -> list[tuple[int, str, bool]]:
    """(0-based line within `body`, text, ticked) of each task line in the first `heading` section."""
    found: list[tuple[int, str, bool]] = []
    level = None
    fence = False
    for number, line in enumerate(body.splitlines()):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
            continue
        if fence:
            continue
        head = _HEADING.match(line)
        if head:
            if level is not None and len(head[1]) <= level:
                break
            if level is None and head[2].strip() == heading:
                level = len(head[1])
            continue
        if level is None:
            continue
        item = _ITEM.match(line)
        if item and item[2]:
            found.append((number, item[2], item[1] in DONE_MARKS))
            if len(found) >= MAX_ITEMS:
                break
    return found


def read_checklist(body: str, heading: str) -> list[dict]:
    """The section's items as `{"步骤": text, "完成": ticked}`."""
    return [{"步骤": text, "完成": done} for _, text, done in items_with_lines(body, heading)]


__all__ = ["DONE_MARKS", "items_with_lines", "read_checklist"]
