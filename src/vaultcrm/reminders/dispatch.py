"""The `remind` job: reconcile the day notes with what is due, deliver what waits, record every attempt.

Everything from reading the day notes to writing them back happens under the `remind` lock, so two
cron runs that overlap (behind a slow mail server, say) never both send a reminder: the second waits,
then reads what the first wrote. A delivery is written to its note as soon as it succeeds; a crash in
between can at worst repeat the one delivery in flight, never lose a 已发送. A failed delivery leaves
the reminder 待发送, so the next run tries again. Each attempt is one line of `.vaultcrm/logs/remind.log`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import STATE_DIR, ReminderChannel, Settings
from ..core.index import VaultIndex
from ..errors import VaultCRMError
from ..vault.lock import FileLock, LockTimeout
from ..vault.state import append_text
from .channels import DeliveryError, accepts, deliver
from .day_notes import DayNote, days_with_notes, find_entry, read_day, write_day
from .day_state import Entry, ReminderStatus
from .rules import FOLLOW_UP_WINDOW, due_reminders

LOCK_TIMEOUT = 120.0  # seconds a run waits for an overlapping one (several slow deliveries)
LOG_PATH = f"{STATE_DIR}/logs/remind.log"


@dataclass
class Failure:
    entry: Entry
    channel: str
    reason: str


@dataclass
class RemindReport:
    at: dt.datetime
    listed: list[Entry] = field(default_factory=list)  # due and waiting when the run began
    sent: list[Entry] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    unrouted: list[Entry] = field(default_factory=list)  # no configured channel takes them


def _locked(root: Path) -> FileLock:
    return FileLock(root, "remind", timeout=LOCK_TIMEOUT)


def run_remind(root: Path, settings: Settings, index: VaultIndex, at: dt.datetime, *, send: bool) -> RemindReport:
    """List (and with `send`, deliver) every reminder due at `at`, keeping the day notes current."""
    channels = settings.reminders.channels
    if send and not channels:
        raise VaultCRMError("未配置发送渠道：请在 vaultcrm.yaml 的 提醒规则.发送渠道 中添加（企业微信、钉钉、飞书、"
                            "webhook、邮件 或 命令），或去掉 --send 只列出提醒")
    due = due_reminders(index, settings, at)
    report = RemindReport(at)
    try:
        with _locked(root):
            notes = _reconcile(root, settings, due, at)
            report.listed = [e for note in notes for e in note.log.waiting()]
            if send:
                for note in notes:
                    _send_day(root, settings, note, channels, report)
    except LockTimeout as exc:
        raise VaultCRMError(str(exc)) from None
    return report


def _reconcile(root: Path, settings: Settings, due, at: dt.datetime) -> list[DayNote]:
    """Bring every day note of the window up to date; returns them, oldest first."""
    first = (at - FOLLOW_UP_WINDOW).date()
    days = sorted({r.due.date() for r in due} | set(days_with_notes(root, settings, first, at.date())))
    notes = []
    for day in days:
        note = read_day(root, settings, day)
        note.log.reconcile([r for r in due if r.due.date() == day], at)
        if note.log.entries or note.text is not None:
            write_day(root, settings, note)
        notes.append(note)
    return notes


def _send_day(root: Path, settings: Settings, note: DayNote, channels: list[ReminderChannel],
              report: RemindReport) -> None:
    for entry in note.log.waiting():
        targets = [c for c in channels if accepts(c, entry.reminder)]
        if not targets:
            report.unrouted.append(entry)
            continue
        for channel in targets:
            if channel.label in entry.sent_to:
                continue  # reached on an earlier run; another channel failed then
            try:
                deliver(channel, entry.reminder, entry.to_json(), settings, root)
            except DeliveryError as exc:
                report.failures.append(Failure(entry, channel.label, str(exc)))
                _log(root, settings, report.at, entry, channel.label, f"失败：{exc}")
                continue
            entry.sent_to.append(channel.label)
            _log(root, settings, report.at, entry, channel.label, "成功")
            if all(c.label in entry.sent_to for c in targets):
                note.log.mark(entry.id, ReminderStatus.SENT, report.at)
                report.sent.append(entry)
            write_day(root, settings, note)


def _log(root: Path, settings: Settings, at: dt.datetime, entry: Entry, channel: str, outcome: str) -> None:
    now = dt.datetime.now(settings.tz).replace(tzinfo=None, microsecond=0)
    line = (f"{now:%Y-%m-%d %H:%M:%S} [at {at:%Y-%m-%d %H:%M}] {entry.id} {entry.kind} {entry.record} "
            f"→ {channel} {outcome}")
    append_text(root / LOG_PATH, line.replace("\n", " ") + "\n")


def mark_done(root: Path, settings: Settings, entry_id: str, at: dt.datetime) -> tuple[Entry, bool]:
    """Mark one reminder 已完成 by hand; (entry, False) when it already was."""
    entry_id = entry_id.strip().upper()
    try:
        with _locked(root):
            note = find_entry(root, settings, entry_id, at.date())
            changed = note.log.mark(entry_id, ReminderStatus.DONE, at)
            if changed:
                write_day(root, settings, note)
            return note.log.entries[entry_id], changed
    except LockTimeout as exc:
        raise VaultCRMError(str(exc)) from None
