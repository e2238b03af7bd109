"""The state of one day's reminders as its note keeps it: what was listed, sent or done, and when.

The day note `提醒/YYYY-MM-DD.md` is what a user reads, so its frontmatter (`提醒状态表`) is the state
itself, not a copy of a hidden file: each entry, under its short 编号 (`R-0212-01`), keeps the
reminder's identity (提醒项, 关联记录, 到期时间), the text as listed or sent, its 状态 and 完成时间.

Reconciling a day with what is due now keeps the history (已发送 and 已完成 entries never change),
refreshes the text of entries still 待发送, drops 待发送 entries whose reminder is gone (a cancelled
or moved appointment) and adds new reminders under the next free 编号. Pure: no files here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.reminder_kinds import KIND_ORDER, KINDS
from ..values import ChoiceEnum, parse_datetime, parse_list, parse_text
from .rules import Identified, Reminder

ID_PATTERN = re.compile(r"^R-(\d{4})-(\d{2,})$")


class ReminderStatus(ChoiceEnum):
    """提醒状态 — whether a reminder still waits, went out, or was handled by hand."""

    PENDING = "待发送"
    SENT = "已发送"
    DONE = "已完成"

    @classmethod
    def aliases(cls):
        return {"pending": cls.PENDING, "waiting": cls.PENDING, "sent": cls.SENT, "done": cls.DONE,
                "completed": cls.DONE}


@dataclass
class Entry(Identified):
    """One row of the day's 提醒记录: a reminder as the note remembers it."""

    id: str
    kind: str
    record: str
    due: dt.datetime
    content: str
    customer: str | None = None
    status: ReminderStatus = ReminderStatus.PENDING
    done_at: dt.datetime | None = None
    sent_to: list[str] = field(default_factory=list)  # channels it reached (several may be configured)
    reminder: Reminder | None = None  # the live reminder, while it is due


    @property
    def waiting(self) -> bool:
        """Due now and neither sent nor done: what `remind` lists and `--send` delivers."""
        return self.status is ReminderStatus.PENDING and self.reminder is not None

    @property
    def due_label(self) -> str:
        return f"{self.due:%Y-%m-%d %H:%M}"

    @property
    def done_label(self) -> str:
        return f"{self.done_at:%Y-%m-%d %H:%M}" if self.done_at else "-"

    def sort_key(self) -> tuple:
        return self.due, KIND_ORDER.get(self.kind, 99), self.id

    def state(self) -> dict:
        """The entry as the note's frontmatter holds it."""
        data = {"提醒项": self.kind, "关联记录": self.record, "到期时间": self.due, "提醒内容": self.content,
                "关联客户": self.customer, "状态": self.status, "完成时间": self.done_at}
        if self.sent_to:
            data["已发送至"] = list(self.sent_to)
        return data

    def to_json(self) -> dict:
        return {"编号": self.id, "提醒类型": self.group, "提醒项": self.kind, "到期时间": self.due_label,
                "提醒内容": self.content, "关联客户": self.customer, "关联记录": self.record,
                "对象": self.audience.value, "提醒状态": self.status.value,
                "完成时间": self.done_label if self.done_at else None}


def _entry(entry_id: str, data: object) -> Entry:
    if not ID_PATTERN.match(entry_id):
        raise ValueError(f"提醒编号「{entry_id}」应写作 R-0212-01")
    if not isinstance(data, dict):
        raise ValueError(f"{entry_id} 应为键值（提醒项、关联记录、到期时间、状态……）")
    kind = parse_text(data.get("提醒项"))
    if kind not in KINDS:
        raise ValueError(f"{entry_id} 的 提醒项「{kind}」未知，可选：{'、'.join(KINDS)}")
    record, due = parse_text(data.get("关联记录")), parse_datetime(data.get("到期时间"))
    if record is None or due is None:
        raise ValueError(f"{entry_id} 缺少 关联记录 或 到期时间")
    return Entry(entry_id, kind, record, due, parse_text(data.get("提醒内容")) or kind,
                 parse_text(data.get("关联客户")), ReminderStatus.parse(data.get("状态")) or ReminderStatus.PENDING,
                 parse_datetime(data.get("完成时间")), parse_list(data.get("已发送至")))


class DayLog:
    """The entries of one day note, by 编号."""

    def __init__(self, day: dt.date, entries: Iterable[Entry] = ()):
        self.day = day
        self.entries: dict[str, Entry] = {e.id: e for e in entries}

    @classmethod
    def parse(cls, day: dt.date, table: object) -> DayLog:
        """From the `提醒状态表` property; ValueError (in Chinese) when an entry cannot be read."""
        if table is None:
            return cls(day)
        if not isinstance(table, dict):
            raise ValueError("提醒状态表 应为 编号 → 提醒 的键值")
        try:
            return cls(day, (_entry(str(k), v) for k, v in table.items()))
        except ValueError as exc:
            raise ValueError(f"提醒状态表：{str(exc).removeprefix('Value error, ')}") from None

    def rows(self) -> list[Entry]:
        return sorted(self.entries.values(), key=Entry.sort_key)

    def state(self) -> dict:
        return {e.id: e.state() for e in self.rows()}

    def waiting(self) -> list[Entry]:
        return [e for e in self.rows() if e.waiting]

    def reconcile(self, due: Iterable[Reminder], at: dt.datetime) -> None:
        """Take in the reminders of this day due at `at`; drop waiting entries that no longer are."""
        by_key = {e.key: e for e in self.entries.values()}
        for entry in self.entries.values():
            entry.reminder = None
        for reminder in due:
            entry = by_key.get(reminder.key)
            if entry is None:
                entry = Entry(self._next_id(), reminder.kind, reminder.record, reminder.due, reminder.content,
                              reminder.customer)
                self.entries[entry.id] = entry
            elif entry.status is ReminderStatus.PENDING:
                entry.content, entry.customer = reminder.content, reminder.customer
            entry.reminder = reminder
        for entry in list(self.entries.values()):
            gone = entry.reminder is None and entry.due <= at
            if gone and entry.status is ReminderStatus.PENDING and not entry.sent_to:
                del self.entries[entry.id]

    def _next_id(self) -> str:
        numbers = [int(m[2]) for m in map(ID_PATTERN.match, self.entries) if m]
        return f"R-{self.day:%m%d}-{max(numbers, default=0) + 1:02d}"

    def mark(self, entry_id: str, status: ReminderStatus, at: dt.datetime) -> bool:
        """Set an entry's status and 完成时间; False when it already had that status."""
        entry = self.entries[entry_id]
        if entry.status is status:
            return False
        entry.status, entry.done_at = status, at
        return True
