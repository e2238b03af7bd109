"""The appointment note (APP), key for key as the seed's 预约记录模板."""

from __future__ import annotations

import datetime as dt
import re
from typing import ClassVar

from ..values import AppointmentStatus
from .fields import (ChannelField, Date, DateTime, Minutes, Money, Phone, Record, Section, Status,
                     StrengthField, Text, TextList, Time, ref)

ACTIVE_STATUSES = frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED, AppointmentStatus.IN_PROGRESS})
TERMINAL_STATUSES = frozenset({AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW})


class AppointmentInfo(Section):
    customer_name: Text = ref("客户姓名")
    customer_id: Text = ref("客户编号")
    customer_link: Text = ref("客户档案")  # vaultcrm's own: "[[C-0001 张三]]"
    phone: Phone = ref("联系方式")
    date: Date = ref("预约日期")
    time: Time = ref("预约时间")
    channel: ChannelField = ref("预约渠道")
    series: Text = ref("系列编号")  # vaultcrm's own: the 疗程 (series) this appointment belongs to
    series_position: Text = ref("疗程序号")  # vaultcrm's own: "3/8", its place in the series
    package: Text = ref("使用套餐")  # vaultcrm's own: the 次卡 the series draws on


class AppointmentService(Section):
    service: Text = ref("服务项目")
    duration: Minutes = ref("服务时长")
    price: Money = ref("预计费用")
    technician: Text = ref("技师安排")
    room: Text = ref("服务地点")  # vaultcrm's own, named as in the SRV template


class SpecialRequests(Section):
    preferred_technician: Text = ref("偏好技师")
    strength: StrengthField = ref("力度要求")
    other: Text = ref("其他需求")


class AppointmentState(Section):
    created_at: DateTime = ref("创建时间")
    created_by: Text = ref("创建人")
    status: Status = ref("当前状态")
    history: TextList = ref("状态更新", list)


class Appointment(Record):
    kind: ClassVar[str] = "APP"
    id_key: ClassVar[str] = "预约编号"
    id_pattern: ClassVar[re.Pattern] = re.compile(r"^APP-\d{4}-\d{3,}$")

    id: str = ref("预约编号")
    info: AppointmentInfo = ref("预约信息", AppointmentInfo)
    service: AppointmentService = ref("服务信息", AppointmentService)
    requests: SpecialRequests = ref("特殊要求", SpecialRequests)
    state: AppointmentState = ref("预约状态", AppointmentState)

    @property
    def status(self) -> AppointmentStatus:
        """An unfilled status reads as 待服务, the template's own default."""
        return self.state.status or AppointmentStatus.PENDING

    @property
    def start(self) -> dt.datetime | None:
        if self.info.date is None or self.info.time is None:
            return None
        return dt.datetime.combine(self.info.date, self.info.time)

    def end(self, default_minutes: int = 60) -> dt.datetime | None:
        start = self.start
        return None if start is None else start + dt.timedelta(minutes=self.service.duration or default_minutes)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
