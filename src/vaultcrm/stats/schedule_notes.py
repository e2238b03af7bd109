"""The 排班 notes: the day board of every day with appointments, kept by `stats` and `watch`.

`排班/YYYY-MM-DD.md` holds the board as tables (one per technician, free gaps and clashes included) and
a Mermaid gantt chart with a section per technician, rendered from `schedule_day.md.j2`. A note that
would not change is left untouched; a day whose last appointment went away keeps a note that says so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from ..booking.board import build_board, gantt_sections
from ..core.render import render
from ..errors import VaultCRMError
from ..vault.writer import UnsafePathError, safe_path, write_atomic

WEEKDAYS = "一二三四五六日"
_NOTE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.md$")


def schedule_note_path(folder: str, day: dt.date) -> str:
    folder = folder.strip("/")
    return f"{folder}/{day.isoformat()}.md" if folder else f"{day.isoformat()}.md"


def _existing(root, folder: str) -> set[dt.date]:
    found = set()
    path = root / folder.strip("/") if folder.strip("/") else root
    if not path.is_dir():
        return found
    for child in path.iterdir():
        m = _NOTE.match(child.name)
        if m:
            try:
                found.add(dt.date.fromisoformat(m[1]))
            except ValueError:
                continue
    return found


def render_schedule(vault, day: dt.date) -> str:
    settings = vault.settings
    board = build_board(day, vault.index.appointments_on(day), settings)
    return render("schedule_day.md.j2", vault.root / settings.folders.templates, board=board,
                  gantt=gantt_sections(board), weekday=f"周{WEEKDAYS[day.weekday()]}")


def update_schedule_notes(vault, dates: Iterable[dt.date] | None = None) -> list[str]:
    """Rewrite the 排班 notes of `dates` (None: every day with appointments or a note); paths rewritten."""
    folder = vault.settings.folders.schedule
    existing = _existing(vault.root, folder)
    if dates is None:
        days = set(vault.index.appointments.dates("info", "date")) | existing
    else:  # `watch`: only the days a save touched, without a pass over every appointment
        days = {d for d in dates if d in existing or vault.index.appointments_on(d)}
    written = []
    for day in sorted(days):
        relpath = schedule_note_path(folder, day)
        try:
            path = safe_path(vault.root, relpath)
        except UnsafePathError:
            raise VaultCRMError(f"排班笔记的路径「{relpath}」不在库内，请检查 vaultcrm.yaml 的 目录.排班 设置") from None
        if write_atomic(path, render_schedule(vault, day).encode("utf-8")):
            written.append(relpath)
    return written


__all__ = ["render_schedule", "schedule_note_path", "update_schedule_notes"]
