"""The day note as the reminders' state: any state written reads back the same, created or updated."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultcrm.core.config import Settings
from vaultcrm.core.reminder_kinds import KINDS
from vaultcrm.reminders.day_notes import read_day, write_day
from vaultcrm.reminders.day_state import DayLog, Entry, ReminderStatus
from vaultcrm.reminders.rules import Reminder
from vaultcrm.values import PLACEHOLDERS

DAY = dt.date(2026, 2, 12)
# Characters that stress YAML quoting and Markdown tables: colons, quotes, hashes, pipes, brackets.
TEXT = st.text(st.sampled_from("张三耳穴调理李师傅房间A01: '\"#|[]-—，（）%@!&*\\"), min_size=1, max_size=20).filter(
    lambda s: s == s.strip() and s not in PLACEHOLDERS)
TIMES = st.datetimes(dt.datetime(2026, 2, 12), dt.datetime(2026, 2, 12, 23, 59)).map(
    lambda t: t.replace(second=0, microsecond=0))


@st.composite
def entries(draw) -> list[Entry]:
    found = []
    for n in range(1, draw(st.integers(0, 6)) + 1):
        status = draw(st.sampled_from(list(ReminderStatus)))
        found.append(Entry(f"R-0212-{n:02d}", draw(st.sampled_from(list(KINDS))), draw(TEXT), draw(TIMES),
                           draw(TEXT), draw(st.none() | TEXT), status,
                           None if status is ReminderStatus.PENDING else draw(TIMES),
                           draw(st.lists(st.sampled_from(["企业微信", "邮件", "店长 群"]), unique=True, max_size=2))))
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=entries(), second=entries())
def test_any_state_reads_back_after_create_and_update(tmp_path_factory, first, second):
    root = tmp_path_factory.mktemp("vault")
    conf = Settings()
    note = read_day(root, conf, DAY)
    note.log = DayLog(DAY, first)
    write_day(root, conf, note)
    assert read_day(root, conf, DAY).log.state() == DayLog(DAY, first).state()
    again = read_day(root, conf, DAY)
    again.log = DayLog(DAY, second)
    write_day(root, conf, again)
    assert read_day(root, conf, DAY).log.state() == DayLog(DAY, second).state()


def reminder(kind: str, record: str, hour: int, content: str = "x") -> Reminder:
    return Reminder(kind, record, dt.datetime(2026, 2, 12, hour), content)


def test_reconcile_keeps_ids_and_history_and_drops_what_is_gone():
    log = DayLog(DAY)
    log.reconcile([reminder("技师排班提醒", "李师傅", 8), reminder("服务前30分钟准备", "APP-2026-001", 9)],
                  dt.datetime(2026, 2, 12, 9))
    assert [(e.id, e.record) for e in log.rows()] == [("R-0212-01", "李师傅"), ("R-0212-02", "APP-2026-001")]
    log.mark("R-0212-01", ReminderStatus.SENT, dt.datetime(2026, 2, 12, 9))
    # The appointment moved to 10:30: its 09:00 reminder is gone, a 10:00 one comes; the sent one stays.
    log.reconcile([reminder("技师排班提醒", "李师傅", 8, "changed"), reminder("服务前30分钟准备", "APP-2026-001", 10)],
                  dt.datetime(2026, 2, 12, 10))
    assert [(e.id, e.due.hour, e.status.value, e.content) for e in log.rows()] == [
        ("R-0212-01", 8, "已发送", "x"), ("R-0212-03", 10, "待发送", "x")]
    assert [e.id for e in log.waiting()] == ["R-0212-03"]
    # A waiting entry due later than the run's time is left for a later run to judge.
    log.reconcile([], dt.datetime(2026, 2, 12, 9, 59))
    assert [e.id for e in log.rows()] == ["R-0212-01", "R-0212-03"]
