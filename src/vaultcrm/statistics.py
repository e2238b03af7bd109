"""The statistics of SPEC "Statistics (exact definitions)", computed from records: no I/O.

A `Ledger` buckets the vault's appointments and services by day and month in one pass over the
index; every daily or monthly figure is then a lookup plus a pass over that period's few records, so
`stats --date` costs one linear sweep and regenerating a thousand notes costs little more. Customers'
first-ever services (for 新客户服务) need every service once and are computed only when asked for.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from .index import VaultIndex
from .models import Appointment, ServiceRecord
from .periods import Month
from .values import AppointmentStatus, Channel

CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)  # 电话 微信 到店 在线
SLOTS: tuple[str, ...] = ("上午", "下午", "晚上", "其他")
_SLOT_BOUNDS = ((dt.time(9), dt.time(12), "上午"), (dt.time(12), dt.time(17), "下午"), (dt.time(17), dt.time(21), "晚上"))
FIGURES: tuple[str, ...] = ("总服务人次", "新客户服务", "老客户服务", "平均服务时长", "服务完成率")
TREND_MONTHS = 12


def time_slot(time: dt.time | None) -> str:
    """上午 [09:00, 12:00), 下午 [12:00, 17:00), 晚上 [17:00, 21:00), 其他 otherwise or when unknown."""
    if time is not None:
        for start, end, name in _SLOT_BOUNDS:
            if start <= time < end:
                return name
    return "其他"


def _one_decimal(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percent(part: int, whole: int) -> float | None:
    """part ÷ whole in percent, one decimal, half up; None (shown as —) when whole is 0."""
    if not whole:
        return None
    return _one_decimal(Decimal(part) * 100 / Decimal(whole))


def change(current: float | int | None, base: float | int | None) -> float | None:
    """环比 / 同比: the relative change in percent, one decimal; None when the base is 0 or unknown."""
    if current is None or not base:
        return None
    cur, old = Decimal(str(current)), Decimal(str(base))
    return _one_decimal((cur - old) * 100 / old)


def service_minutes(service: ServiceRecord) -> int | None:
    """服务时长, or else the length of a `14:00-14:30` 服务时间 range."""
    if service.basics.duration is not None:
        return service.basics.duration
    span = service.basics.time
    if span and len(span) == 11:
        start, end = int(span[:2]) * 60 + int(span[3:5]), int(span[6:8]) * 60 + int(span[9:11])
        if end > start:
            return end - start
    return None


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    share: float | None

    def to_json(self) -> dict:
        return {"数量": self.count, "占比": self.share}


@dataclass(frozen=True)
class Tally:
    """What a set of appointments adds up to: statuses, channels and time slots."""

    booked: int
    cancelled: int
    no_show: int
    completed: int
    channels: dict[str, int]
    unfilled_channel: int  # counted in no channel; the notes say how many
    slots: dict[str, int]

    @classmethod
    def of(cls, appointments: list[Appointment]) -> "Tally":
        status: dict[AppointmentStatus, int] = defaultdict(int)
        channels = dict.fromkeys(CHANNELS, 0)
        slots = dict.fromkeys(SLOTS, 0)
        unfilled = 0
        for app in appointments:
            status[app.status] += 1
            channel = app.info.channel
            if channel is None:
                unfilled += 1
            else:
                channels[channel.value] += 1
            slots[time_slot(app.info.time)] += 1
        return cls(len(appointments), status[AppointmentStatus.CANCELLED], status[AppointmentStatus.NO_SHOW],
                   status[AppointmentStatus.COMPLETED], channels, unfilled, slots)

    @property
    def completion_rate(self) -> float | None:
        """COMPLETED ÷ (booked − cancelled)."""
        return percent(self.completed, self.booked - self.cancelled)

    @staticmethod
    def _shares(counts: dict[str, int]) -> list[Share]:
        total = sum(counts.values())
        rows = [Share(label, n, percent(n, total)) for label, n in counts.items()]
        return rows + [Share("合计", total, percent(total, total))]

    def channel_shares(self) -> list[Share]:
        """The four channels and 合计 (their sum: appointments without a channel are left out)."""
        return self._shares(self.channels)

    def slot_shares(self) -> list[Share]:
        return self._shares(self.slots)


@dataclass(frozen=True)
class DailyFigures:
    day: dt.date
    appointments: Tally
    services: int

    def to_json(self) -> dict:
        a = self.appointments
        return {"date": self.day.isoformat(), "预约客户数": a.booked, "实际服务数": self.services,
                "取消预约数": a.cancelled, "未到客户数": a.no_show, "服务完成率": a.completion_rate,
                "预约来源统计": dict(a.channels), "预约时段分析": dict(a.slots)}


@dataclass(frozen=True)
class ServiceFigures:
    """One month's column of the 月度服务统计 table."""

    month: Month
    total: int
    new: int
    returning: int
    average_minutes: int | None
    completion_rate: float | None

    def values(self) -> tuple:
        return self.total, self.new, self.returning, self.average_minutes, self.completion_rate

    def to_json(self) -> dict:
        return dict(zip(FIGURES, self.values()))

    def changes_from(self, base: "ServiceFigures") -> dict[str, float | None]:
        return {name: change(cur, old) for name, cur, old in zip(FIGURES, self.values(), base.values())}


@dataclass(frozen=True)
class MonthlyFigures:
    month: Month
    current: ServiceFigures
    previous: ServiceFigures
    year_ago: ServiceFigures
    appointments: Tally
    trend: tuple[tuple[Month, int], ...]  # 总服务人次 of the twelve months ending with this one

    @property
    def month_on_month(self) -> dict[str, float | None]:
        return self.current.changes_from(self.previous)

    @property
    def year_on_year(self) -> dict[str, float | None]:
        return self.current.changes_from(self.year_ago)

    def to_json(self) -> dict:
        a = self.appointments
        return {"month": str(self.month), "本月": self.current.to_json(), "上月": self.previous.to_json(),
                "去年同月": self.year_ago.to_json(), "环比": self.month_on_month, "同比": self.year_on_year,
                "预约来源统计": {s.label: s.to_json() for s in a.channel_shares()},
                "预约时段分析": {s.label: s.to_json() for s in a.slot_shares()}}


class Ledger:
    """The vault's appointments and services bucketed by day and by month, built in one pass."""

    def __init__(self, index: VaultIndex):
        self.index = index
        self.apps_by_day: dict[dt.date, list[Appointment]] = defaultdict(list)
        self.apps_by_month: dict[Month, list[Appointment]] = defaultdict(list)
        self.services_by_day: dict[dt.date, list[ServiceRecord]] = defaultdict(list)
        self.services_by_month: dict[Month, list[ServiceRecord]] = defaultdict(list)
        months: dict[tuple[int, int], Month] = {}
        for by_day, by_month, records, date_of in (
                (self.apps_by_day, self.apps_by_month, index.appointments.values(), lambda a: a.info.date),
                (self.services_by_day, self.services_by_month, index.services.values(), lambda s: s.basics.date)):
            for record in records:
                day = date_of(record)
                if day is None:
                    continue
                by_day[day].append(record)
                ym = (day.year, day.month)
                month = months.get(ym) or months.setdefault(ym, Month(*ym))
                by_month[month].append(record)

    @cached_property
    def first_services(self) -> frozenset[str]:
        """IDs of the services that are their customer's first ever (a service without a customer is its own)."""
        earliest: dict[str, tuple] = {}
        anonymous: list[str] = []
        key_of = self.index.key_of
        for service in self.index.services.values():
            if service.basics.date is None:
                continue
            key = key_of(service)
            if key is None:
                anonymous.append(service.id)
                continue
            order = (service.basics.date, service.basics.time or "", service.id)
            best = earliest.get(key)
            if best is None or order < best:
                earliest[key] = order
        return frozenset([order[2] for order in earliest.values()] + anonymous)

    def days(self) -> set[dt.date]:
        return set(self.apps_by_day) | set(self.services_by_day)

    def months(self) -> set[Month]:
        return set(self.apps_by_month) | set(self.services_by_month)

    def daily(self, day: dt.date) -> DailyFigures:
        return DailyFigures(day, Tally.of(self.apps_by_day.get(day, [])), len(self.services_by_day.get(day, [])))

    def service_figures(self, month: Month) -> ServiceFigures:
        services = self.services_by_month.get(month, [])
        first = self.first_services
        new = sum(1 for s in services if s.id in first)
        minutes = [m for m in map(service_minutes, services) if m is not None]
        average = (int((Decimal(sum(minutes)) / len(minutes)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                   if minutes else None)
        rate = Tally.of(self.apps_by_month.get(month, [])).completion_rate
        return ServiceFigures(month, len(services), new, len(services) - new, average, rate)

    def monthly(self, month: Month) -> MonthlyFigures:
        trend = tuple((m, len(self.services_by_month.get(m, [])))
                      for m in (month.shift(-i) for i in range(TREND_MONTHS - 1, -1, -1)))
        return MonthlyFigures(month, self.service_figures(month), self.service_figures(month.previous()),
                              self.service_figures(month.year_ago()), Tally.of(self.apps_by_month.get(month, [])),
                              trend)


def daily_figures(index: VaultIndex, day: dt.date) -> DailyFigures:
    """One day's figures with one pass over the vault (no month buckets, no first-service search)."""
    apps = [a for a in index.appointments.values() if a.info.date == day]
    services = sum(1 for s in index.services.values() if s.basics.date == day)
    return DailyFigures(day, Tally.of(apps), services)


def monthly_figures(index: VaultIndex, month: Month) -> MonthlyFigures:
    return Ledger(index).monthly(month)
