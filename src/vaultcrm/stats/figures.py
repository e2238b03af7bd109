"""The statistics of SPEC "Statistics (exact definitions)", computed from records: no I/O.

A warm 100,000-note vault keeps its records as plain cached data until a model is asked for, and
building every model costs seconds. So the `Ledger` reads only the handful of fields the figures need,
one column at a time straight from the record tables (each a single pass) without building models:
regenerating a thousand notes costs a few linear sweeps. Customers' first-ever services (for
新客户服务) come from the same columns; only services without a 客户编号 are built, to be matched by
phone or name.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from ..core.index import RecordTable, VaultIndex
from ..models import Appointment
from ..values import AppointmentStatus, Channel
from .periods import Month

CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)  # 电话 微信 到店 在线
SLOTS: tuple[str, ...] = ("上午", "下午", "晚上", "其他")
_SLOT_BOUNDS = ((dt.time(9), dt.time(12), "上午"), (dt.time(12), dt.time(17), "下午"),
                (dt.time(17), dt.time(21), "晚上"))
# What counting needs of an appointment: (当前状态, 预约渠道, 预约时间).
AppointmentFacts = tuple["AppointmentStatus | None", "Channel | None", "dt.time | None"]
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


def service_minutes(duration: int | None, span: str | None) -> int | None:
    """服务时长, or else the length of a `14:00-14:30` 服务时间 range."""
    if duration is not None:
        return duration
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
    def of(cls, appointments: Iterable[AppointmentFacts]) -> "Tally":
        status: dict[AppointmentStatus | None, int] = defaultdict(int)
        channels = dict.fromkeys(CHANNELS, 0)
        slots = dict.fromkeys(SLOTS, 0)
        unfilled = booked = 0
        for state, channel, time in appointments:
            booked += 1
            status[state] += 1
            if channel is None:
                unfilled += 1
            else:
                channels[channel.value] += 1
            slots[time_slot(time)] += 1
        return cls(booked, status[AppointmentStatus.CANCELLED], status[AppointmentStatus.NO_SHOW],
                   status[AppointmentStatus.COMPLETED], channels, unfilled, slots)

    @classmethod
    def of_records(cls, appointments: Iterable[Appointment]) -> "Tally":
        return cls.of((a.status, a.info.channel, a.info.time) for a in appointments)

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
        return dict(zip(FIGURES, self.values(), strict=True))

    def changes_from(self, base: "ServiceFigures") -> dict[str, float | None]:
        """From the values as shown (whole minutes, one-decimal rates), so the table adds up by hand."""
        return {name: change(cur, old) for name, cur, old in zip(FIGURES, self.values(), base.values(), strict=True)}


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


def _column(table: RecordTable, section: str, key: str) -> dict[str, object]:
    """record ID → the value at `section.key`, for records where it is filled, without building models.

    `RecordTable.dates` groups IDs by the value of any scalar field; turned around it is a column.
    """
    return {record_id: value for value, ids in table.dates(section, key).items() for record_id in ids}


class Ledger:
    """The fields the figures need, as columns over the vault's appointments and services."""

    def __init__(self, index: VaultIndex):
        self.index = index
        self._months: dict[Month, ServiceFigures] = {}  # each month is also some note's 上月 and 去年同月

    @cached_property
    def _app_days(self) -> dict[dt.date, list[str]]:
        return self.index.appointments.dates("info", "date")

    @cached_property
    def _service_days(self) -> dict[dt.date, list[str]]:
        return self.index.services.dates("basics", "date")

    @cached_property
    def _app_columns(self) -> tuple[dict, dict, dict]:
        table = self.index.appointments
        return _column(table, "state", "status"), _column(table, "info", "channel"), _column(table, "info", "time")

    @cached_property
    def _service_minutes(self) -> dict[str, int]:
        table = self.index.services
        duration, span = _column(table, "basics", "duration"), _column(table, "basics", "time")
        found = {}
        for ids in self._service_days.values():
            for i in ids:
                minutes = service_minutes(duration.get(i), span.get(i))
                if minutes is not None:
                    found[i] = minutes
        return found

    @cached_property
    def _day_of_service(self) -> dict[str, dt.date]:
        return {i: day for day, ids in self._service_days.items() for i in ids}

    @cached_property
    def customer_services(self) -> tuple[dict[str, list[str]], list[str]]:
        """Dated service IDs by customer (as `index.key_of` tells them apart), and those without a customer.

        Only services without a 客户编号 need their model built for that.
        """
        services, key_of, day_of = self.index.services, self.index.key_of, self._day_of_service
        groups: dict[str, list[str]] = defaultdict(list)
        for customer_id, ids in services.dates("customer", "customer_id").items():
            groups[customer_id].extend(i for i in ids if i in day_of)
        grouped = {i for ids in groups.values() for i in ids}
        anonymous: list[str] = []
        for i in day_of.keys() - grouped:
            key = key_of(services[i])
            (anonymous if key is None else groups[key]).append(i)
        return groups, anonymous

    def service_days_of(self, customer_key: str) -> set[dt.date]:
        day_of = self._day_of_service
        return {day_of[i] for i in self.customer_services[0].get(customer_key, ())}

    @cached_property
    def first_services(self) -> frozenset[str]:
        """IDs of the services that are their customer's first ever (a service without a customer is its own).

        Order: 服务日期, then 服务时间, then ID.
        """
        groups, anonymous = self.customer_services
        day_of, services = self._day_of_service, self.index.services
        first = list(anonymous)
        for ids in groups.values():
            if not ids:
                continue
            earliest = min(day_of[i] for i in ids)
            ties = [i for i in ids if day_of[i] == earliest]
            if len(ties) > 1:
                ties.sort(key=lambda i: (services[i].basics.time or "", i))
            first.append(ties[0])
        return frozenset(first)

    def days(self) -> set[dt.date]:
        return set(self._app_days) | set(self._service_days)

    def months(self) -> set[Month]:
        return {Month.of(day) for day in self.days()}

    def _app_ids(self, days: Iterable[dt.date]) -> list[str]:
        return [i for day in days for i in self._app_days.get(day, ())]

    def _service_ids(self, days: Iterable[dt.date]) -> list[str]:
        return [i for day in days for i in self._service_days.get(day, ())]

    def tally(self, days: Iterable[dt.date]) -> Tally:
        status, channel, time = self._app_columns
        pending = AppointmentStatus.PENDING  # an unfilled 当前状态 reads as the template's default
        return Tally.of((status.get(i, pending), channel.get(i), time.get(i)) for i in self._app_ids(days))

    def daily(self, day: dt.date) -> DailyFigures:
        return DailyFigures(day, self.tally([day]), len(self._service_days.get(day, ())))

    def service_figures(self, month: Month) -> ServiceFigures:
        if month not in self._months:
            self._months[month] = self._service_figures(month)
        return self._months[month]

    def _service_figures(self, month: Month) -> ServiceFigures:
        days = month.days()
        services = self._service_ids(days)
        first = self.first_services
        new = sum(1 for i in services if i in first)
        minutes = [m for m in map(self._service_minutes.get, services) if m is not None]
        average = (int((Decimal(sum(minutes)) / len(minutes)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                   if minutes else None)
        return ServiceFigures(month, len(services), new, len(services) - new, average,
                              self.tally(days).completion_rate)

    def monthly(self, month: Month) -> MonthlyFigures:
        trend = tuple((m, len(self._service_ids(m.days())))
                      for m in (month.shift(-i) for i in range(TREND_MONTHS - 1, -1, -1)))
        return MonthlyFigures(month, self.service_figures(month), self.service_figures(month.previous()),
                              self.service_figures(month.year_ago()), self.tally(month.days()), trend)


def daily_figures(index: VaultIndex, day: dt.date) -> DailyFigures:
    """One day alone: two passes over the date columns and that day's few models, no whole columns."""
    return DailyFigures(day, Tally.of_records(index.appointments_on(day)), len(index.services_on(day)))


def monthly_figures(index: VaultIndex, month: Month) -> MonthlyFigures:
    return Ledger(index).monthly(month)
