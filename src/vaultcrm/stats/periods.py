"""Calendar months and the ways a studio writes them, for statistics and reports.

Monthly figures compare a month with the one before and with the same month a year earlier, and the
trend chart walks back twelve months: month arithmetic is needed often enough to deserve a type, and
January's previous month (December of the year before) is exactly the kind of edge it gets right.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_MONTH_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: dt.date) -> "Month":
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> "Month":
        """`2026-02`, `2026-2`, `2026/02` or `2026年2月`; ValueError with a Chinese message otherwise."""
        m = _MONTH_RE.match(str(text).strip())
        if not m or not 1 <= int(m[2]) <= 12:
            raise ValueError(f"无法识别的月份「{text}」，应写作 2026-02")
        return cls(int(m[1]), int(m[2]))

    def shift(self, months: int) -> "Month":
        n = self.year * 12 + self.month - 1 + months
        return Month(n // 12, n % 12 + 1)

    def previous(self) -> "Month":
        return self.shift(-1)

    def year_ago(self) -> "Month":
        return Month(self.year - 1, self.month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def days(self) -> list[dt.date]:
        """Every day of the month (none for a month outside the calendar, as year 0 is)."""
        if not dt.MINYEAR <= self.year <= dt.MAXYEAR:
            return []
        first = self.first_day
        return [first + dt.timedelta(days=i) for i in range(self.last_day.day)]

    @property
    def label(self) -> str:
        """How a note titles the month: 2026年2月."""
        return f"{self.year}年{self.month}月"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

