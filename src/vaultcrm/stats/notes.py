"""The statistics notes: which daily and monthly notes to regenerate, rendering them, writing only changes.

Each note is rendered whole from its template and compared with the file; `write_atomic` leaves a
note that would not change untouched (its mtime stays), so Obsidian and sync tools see a write only
when a figure moved. `vaultcrm watch` calls `affected_periods` with the records a save touched and
passes the result to `update_statistics`, which then regenerates just those notes, the monthly notes
that show them (上月, 去年同月, the twelve-month trend) and the dashboard's blocks.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from pathlib import Path

from ..core.index import VaultIndex
from ..core.render import render
from ..errors import ConcurrentChangeError, VaultCRMError
from ..models import Appointment, Record, ServiceRecord
from ..vault.blocks import replace_block
from ..vault.writer import (
    ConcurrentEditError,
    FileExistsConflict,
    UnsafePathError,
    create_exclusive,
    read_stamped,
    safe_path,
    write_atomic,
)
from .figures import TREND_MONTHS, Ledger
from .periods import Month
from .schedule_notes import update_schedule_notes

DASHBOARD_BLOCKS = ("每日统计", "月度统计", "预约来源", "预约时段")
WEEKDAYS = "一二三四五六日"
# A month's figures appear in its own note, the next eleven notes' trend (the next one's 上月 too) and
# in the note of the same month a year later (去年同月).
_SHOWN_AFTER = range(TREND_MONTHS + 1)
_DAY_NOTE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.md$")
_MONTH_NOTE = re.compile(r"^(\d{4}-\d{2})\.md$")


def _record_day(record: Record) -> dt.date | None:
    if isinstance(record, Appointment):
        return record.info.date
    if isinstance(record, ServiceRecord):
        return record.basics.date
    return None


def affected_periods(records: Iterable[Record], index: VaultIndex | None = None) -> tuple[set[dt.date], set[Month]]:
    """The days and months whose own figures a change to `records` can move.

    Pass both the old and the new version of an edited record (and a deleted one). With the index, a
    service also touches the months of its customer's other services: which one is the customer's
    first ever (新客户服务) may have changed. The monthly notes that merely show a month (the next
    month's 上月 column, next year's 同比, the trend) are added by `update_statistics` itself.
    """
    dates: set[dt.date] = set()
    months: set[Month] = set()
    ledger = Ledger(index) if index is not None else None
    for record in records:
        day = _record_day(record)
        if day is not None:
            dates.add(day)
            months.add(Month.of(day))
        if ledger is not None and isinstance(record, ServiceRecord):
            key = index.key_of(record)
            if key is not None:
                months.update(Month.of(d) for d in ledger.service_days_of(key))
    return dates, months


def daily_note_path(folder: str, day: dt.date) -> str:
    return f"{folder.strip('/')}/{day.isoformat()}.md" if folder.strip("/") else f"{day.isoformat()}.md"


def monthly_note_path(folder: str, month: Month) -> str:
    return f"{folder.strip('/')}/{month}.md" if folder.strip("/") else f"{month}.md"


def _link(relpath: str) -> str:
    return relpath.removesuffix(".md")


def _existing(root: Path, folder: str, pattern: re.Pattern, parse) -> set:
    """Periods that already have a note: regenerated even when their last record went away."""
    try:
        names = os.listdir(root / folder)
    except OSError:
        return set()
    found = set()
    for name in names:
        m = pattern.match(name)
        if m:
            try:
                found.add(parse(m[1]))
            except ValueError:
                continue
    return found


class _Writer:
    """Writes notes inside the vault, remembering which ones actually changed."""

    def __init__(self, root: Path):
        self.root = root
        self.written: list[str] = []

    def path(self, relpath: str) -> Path:
        try:
            return safe_path(self.root, relpath)
        except UnsafePathError:
            raise VaultCRMError(f"统计笔记的路径「{relpath}」不在库内，请检查 vaultcrm.yaml 的 目录 设置") from None

    def write(self, relpath: str, text: str) -> None:
        if write_atomic(self.path(relpath), text.encode("utf-8")):
            self.written.append(relpath)


def update_statistics(vault, *, dates: Iterable[dt.date] | None = None, months: Iterable[Month] | None = None,
                      today: dt.date | None = None) -> list[str]:
    """Regenerate the statistics notes and the dashboard blocks; the paths actually rewritten.

    None for `dates` / `months` means every period with records or with a note already; given sets
    (from `affected_periods`) limit the work to those days and the months whose notes show them.
    """
    settings, root = vault.settings, vault.root
    folders = settings.folders
    override = root / folders.templates
    today = today or settings.now().date()
    ledger = Ledger(vault.index)
    out = _Writer(root)

    all_days = ledger.days() | _existing(root, folders.daily, _DAY_NOTE, dt.date.fromisoformat)
    days = all_days if dates is None else all_days & set(dates)
    all_months = ledger.months() | _existing(root, folders.monthly, _MONTH_NOTE, Month.parse)
    if months is None:
        wanted = all_months
    else:
        wanted = all_months & {m.shift(k) for m in months for k in _SHOWN_AFTER}

    for day in sorted(days):
        month = Month.of(day)
        text = render("daily_stats.md.j2", override, d=ledger.daily(day), month=month,
                      weekday=f"周{WEEKDAYS[day.weekday()]}",
                      month_note=_link(monthly_note_path(folders.monthly, month)))
        out.write(daily_note_path(folders.daily, day), text)
    for month in sorted(wanted):
        text = render("monthly_stats.md.j2", override, m=ledger.monthly(month),
                      previous_note=_link(monthly_note_path(folders.monthly, month.previous())),
                      year_ago_note=_link(monthly_note_path(folders.monthly, month.year_ago())))
        out.write(monthly_note_path(folders.monthly, month), text)
    _update_dashboard(vault, ledger, today, all_days, all_months, out)
    out.written += update_schedule_notes(vault, dates)
    return out.written


def _update_dashboard(vault, ledger: Ledger, today: dt.date, note_days: set[dt.date], note_months: set[Month],
                      out: _Writer) -> None:
    """Rewrite only the text between the dashboard's statistics markers; create the dashboard if missing."""
    settings, root = vault.settings, vault.root
    folders = settings.folders
    override = root / folders.templates
    relpath = folders.dashboard
    path = out.path(relpath)
    if not path.exists():
        try:
            create_exclusive(path, render("dashboard.md.j2", override, today=today.isoformat()).encode("utf-8"))
            out.written.append(relpath)
        except FileExistsConflict:
            pass  # created meanwhile by someone else: update theirs
    try:
        raw, stamp = read_stamped(path)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VaultCRMError(f"{relpath} 不是 UTF-8 编码，无法更新其中的统计") from None
    month = Month.of(today)
    context = dict(d=ledger.daily(today), m=ledger.monthly(month),
                   day_note=_link(daily_note_path(folders.daily, today)) if today in note_days else None,
                   month_note=_link(monthly_note_path(folders.monthly, month)) if month in note_months else None)
    new = text
    for block in DASHBOARD_BLOCKS:
        new = replace_block(new, block, render("dashboard_stats.md.j2", override, block=block, **context))
    if new == text:
        return
    try:
        write_atomic(path, new.encode("utf-8"), expect=stamp)
    except ConcurrentEditError:
        raise ConcurrentChangeError(
            f"{relpath} 在读取后被修改（可能正在 Obsidian 中编辑），统计区块未更新；请重试") from None
    if relpath not in out.written:
        out.written.append(relpath)
