"""The leave note (请假, LV): a technician away from a date (and time) to a date (and time).

Flat keys, shown one by one in Obsidian's Properties panel. Without `开始时间` the leave starts at the
start of `开始日期`; without `结束时间` it lasts until the end of `结束日期` (which defaults to the
start date). The booking rules treat the technician as unavailable in between, like a 休息日.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar

from .fields import Date, DateTime, Record, Text, Time, ref


class Leave(Record):
    kind: ClassVar[str] = "LV"
    id_key: ClassVar[str] = "请假编号"
    id_pattern: ClassVar[re.Pattern] = re.compile(r"^LV-(?:[A-Z][A-Z0-9]{1,9}-)?\d{4}-\d{3,}$")

    id: str = ref("请假编号")
    store: Text = ref("门店")  # the store of a chain that made it (chain of stores only)
    technician: Text = ref("技师")
    first_day: Date = ref("开始日期")
    start_time: Time = ref("开始时间")
    last_day: Date = ref("结束日期")
    end_time: Time = ref("结束时间")
    reason: Text = ref("原因")
    created_at: DateTime = ref("登记时间")
    created_by: Text = ref("登记人")

    @property
    def period(self) -> tuple[dt.datetime, dt.datetime] | None:
        """[start, end) of the leave; None when the note lacks its technician or start date."""
        if not self.technician or self.first_day is None:
            return None
        start = dt.datetime.combine(self.first_day, self.start_time or dt.time(0))
        last = self.last_day or self.first_day
        end = (dt.datetime.combine(last, self.end_time) if self.end_time
               else dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0)))
        return (start, end) if end > start else None


__all__ = ["Leave"]
