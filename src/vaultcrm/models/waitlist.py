"""The waitlist entry (候补, WL): a customer waiting for a service on a day, within a window of time.

Flat keys, so Obsidian's Properties panel and Bases show each one. The customer is named by `客户`
(not `客户姓名`, which with `客户编号` at the top level would make the note a customer profile).
When a cancellation, reschedule or no-show frees a slot the entry could take, the command records the
offer in `可约时间`/`可约技师`/`通知时间` (and a line of `通知记录`): `remind` turns that into a 候补通知.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar

from ..values import WaitlistStatus
from .fields import Date, DateTime, Phone, Record, Text, TextList, Time, WaitlistStatusField, ref


class WaitlistEntry(Record):
    kind: ClassVar[str] = "WL"
    id_key: ClassVar[str] = "候补编号"
    id_pattern: ClassVar[re.Pattern] = re.compile(r"^WL-(?:[A-Z][A-Z0-9]{1,9}-)?\d{4}-\d{3,}$")

    id: str = ref("候补编号")
    store: Text = ref("门店")  # the store of a chain that made it (chain of stores only)
    customer_name: Text = ref("客户")
    customer_id: Text = ref("客户编号")
    customer_link: Text = ref("客户档案")
    phone: Phone = ref("联系方式")
    service: Text = ref("服务项目")
    date: Date = ref("日期")
    earliest: Time = ref("最早")
    latest: Time = ref("最晚")
    technician: Text = ref("技师")
    status: WaitlistStatusField = ref("状态")
    created_at: DateTime = ref("创建时间")
    created_by: Text = ref("创建人")
    appointment_id: Text = ref("关联预约")
    offered_at: DateTime = ref("可约时间")  # the freed slot last offered to this customer
    offered_technician: Text = ref("可约技师")
    noticed_at: DateTime = ref("通知时间")  # when it was freed: the 候补通知's due time
    notices: TextList = ref("通知记录", list)

    @property
    def is_open(self) -> bool:
        """An unfilled status reads as 等待中: a note typed by hand still waits."""
        return (self.status or WaitlistStatus.WAITING) is WaitlistStatus.WAITING

    def window(self) -> tuple[dt.datetime, dt.datetime] | None:
        """[最早, 最晚] on its day: the service must start and end inside (the whole day when unset)."""
        if self.date is None:
            return None
        first = dt.datetime.combine(self.date, self.earliest or dt.time(0))
        last = (dt.datetime.combine(self.date, self.latest) if self.latest
                else dt.datetime.combine(self.date + dt.timedelta(days=1), dt.time(0)))
        return first, last


__all__ = ["WaitlistEntry"]
