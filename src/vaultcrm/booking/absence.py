"""Leave (请假) as the booking rules see it: a technician unavailable over [start, end), like a 休息日.

Pure: leave notes in, `Away` periods and the problems they cause for a slot out. The slot rules
(`slots.time_rule_problems`) ask `leave_problem`, so `book`, `free`, `reschedule` and `agenda` agree.
A slot that only touches a leave (ends as it starts, or starts as it ends) is fine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ..models import Leave


@dataclass(frozen=True)
class Away:
    technician: str
    start: dt.datetime
    end: dt.datetime
    leave_id: str = ""
    reason: str | None = None

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return start < self.end and self.start < end

    def span(self) -> str:
        """`2026-12-01 14:00 至 18:00`, `2026-12-01 至 12-03`, `2026-12-01 全天` — as a person says it."""
        last = self.end - dt.timedelta(microseconds=1)
        whole_days = self.start.time() == dt.time(0) and self.end.time() == dt.time(0)
        if whole_days:
            if self.start.date() == last.date():
                return f"{self.start:%Y-%m-%d} 全天"
            return f"{self.start:%Y-%m-%d} 至 {last:%Y-%m-%d}"
        end = "24:00" if self.end.time() == dt.time(0) else f"{self.end:%H:%M}"
        if self.start.date() == last.date():
            return f"{self.start:%Y-%m-%d} {self.start:%H:%M} 至 {end}"
        end_day = last.date() if self.end.time() == dt.time(0) else self.end.date()
        return f"{self.start:%Y-%m-%d %H:%M} 至 {end_day:%Y-%m-%d} {end}"

    def on(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The part of the leave that falls on `day`."""
        first = max(self.start, dt.datetime.combine(day, dt.time(0)))
        last = min(self.end, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0)))
        return (first, last) if first < last else None


def away_of(leaves: Iterable[Leave]) -> list[Away]:
    """The periods of the leave notes that have a technician and a valid period, in time order."""
    found = []
    for leave in leaves:
        period = leave.period
        if period is not None:
            found.append(Away(leave.technician or "", *period, leave.id, leave.reason))
    return sorted(found, key=lambda a: (a.start, a.technician, a.leave_id))


def leave_problem(technician: str | None, start: dt.datetime, end: dt.datetime,
                  away: Iterable[Away]) -> str | None:
    """Why the technician cannot work [start, end): the first leave overlapping it, else None."""
    for a in away:
        if technician and a.technician == technician and a.overlaps(start, end):
            why = f"，{a.reason}" if a.reason else ""
            return f"技师 {technician} 请假（{a.leave_id} {a.span()}{why}）"
    return None


def on_leave_all_day(technician: str | None, first: dt.datetime, last: dt.datetime, away: Iterable[Away]) -> bool:
    """Whether a leave covers the whole of [first, last) (a lane with no working time left)."""
    return any(a.technician == technician and a.start <= first and last <= a.end for a in away)


__all__ = ["Away", "away_of", "leave_problem", "on_leave_all_day"]
