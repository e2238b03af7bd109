"""Series (疗程): N appointments of one service at a fixed interval, planned all at once.

`book … --repeat weekly --times 8` expands into its dates here and checks every occurrence with the
very predicate a single `book` uses (`plan_booking` → `slots.place`): hours, 休息日, skills, rooms, the
buffer, the customer's own appointments, starts already past — and the series' own occurrences, which
are passed along as appointments not yet written. A failing date keeps its reason and the nearest
free alternative, found by the search behind `free` (`slots.openings`), so what is offered can be booked.

When no technician is named, the first occurrence picks one as `book` would and the others keep that
technician where they can (a customer on a 疗程 expects the same hands), else any free one with the skill.

A series that draws on a 次卡 (`--package`) reserves one visit of the card per occurrence: the card must
cover the service, hold enough visits not already reserved by other active appointments, and be
valid on the last occurrence. The visit is taken from the card when the service is logged, as always.
Pure: index, settings and the request in; a `SeriesPlan` out (or a VaultCRMError for the whole series).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from ..core.config import Settings
from ..core.index import VaultIndex
from ..customers.membership import is_active, is_session_package
from ..customers.resolve import new_customer, resolve_customer
from ..errors import ConflictError, VaultCRMError
from ..models import Appointment, Customer
from ..models.customer import Package
from ..values import CN_WEEKDAYS
from .actions import BookingPlan, BookingRequest, plan_booking
from .availability import candidates, customers_own
from .safety import Briefing, brief
from .slots import Slot, blocking, openings

MAX_TIMES = 52  # a year of weekly visits
MAX_INTERVAL = 92  # days between two occurrences: a quarter
SEARCH_DAYS = 3  # an alternative is looked for this many days either side of a failing date

_WORDS = {"daily": 1, "每天": 1, "每日": 1, "weekly": 7, "每周": 7, "每星期": 7, "biweekly": 14, "fortnightly": 14,
          "每两周": 14, "隔周": 14, "每隔一周": 14}
_EVERY_N = re.compile(r"^(?:每)?\s*(\d+)\s*(?:d|天|日)$", re.IGNORECASE)


def parse_repeat(value: str) -> int:
    """The interval in days: daily|weekly|biweekly|Nd, 每天|每周|每两周|N天. ValueError when unknown."""
    text = value.strip().lower()
    if text in _WORDS:
        return _WORDS[text]
    m = _EVERY_N.match(text)
    if m and 1 <= int(m[1]) <= MAX_INTERVAL:
        return int(m[1])
    if m:
        raise ValueError(f"间隔应在 1–{MAX_INTERVAL} 天之间，而不是「{value}」")
    raise ValueError(f"无法识别的重复方式「{value}」，可用：每天(daily)、每周(weekly)、每两周(biweekly)、N天(Nd，如 3d)")


def describe_interval(days: int) -> str:
    return {1: "每天", 7: "每周", 14: "每两周"}.get(days, f"每{days}天")


@dataclass(frozen=True)
class Repeat:
    every_days: int
    times: int

    def __post_init__(self) -> None:
        if not 2 <= self.times <= MAX_TIMES:
            raise VaultCRMError(f"疗程次数应在 2–{MAX_TIMES} 之间，收到 {self.times}")

    def dates(self, first: dt.date) -> list[dt.date]:
        return [first + dt.timedelta(days=self.every_days * i) for i in range(self.times)]

    def describe(self) -> str:
        return f"{describe_interval(self.every_days)} × {self.times} 次"


def day_text(day: dt.date) -> str:
    return f"{day}（周{CN_WEEKDAYS[day.weekday()]}）"


@dataclass
class Occurrence:
    """One date of the series: its plan, or why it cannot be booked and what could be instead."""

    number: int  # 1-based, in the series as asked
    date: dt.date
    time: dt.time
    plan: BookingPlan | None = None
    reason: str | None = None
    details: list[str] = field(default_factory=list)
    alternative: Slot | None = None

    @property
    def ok(self) -> bool:
        return self.plan is not None

    def alternative_text(self) -> str:
        s = self.alternative
        if s is None:
            return f"{day_text(self.date)}前后 {SEARCH_DAYS} 天内没有空闲时间"
        where = " ".join(x for x in (s.technician, s.room) if x)
        return f"{day_text(s.start.date())} {s.start:%H:%M}" + (f" {where}" if where else "")

    def failure_line(self) -> str:
        return (f"第 {self.number} 次 {day_text(self.date)} {self.time:%H:%M}：{self.reason}；"
                f"最近的空闲：{self.alternative_text()}")


@dataclass
class SeriesPlan:
    request: BookingRequest
    repeat: Repeat
    customer: Customer  # without an ID when new
    is_new_customer: bool
    briefing: Briefing
    occurrences: list[Occurrence]
    package: Package | None = None  # the 次卡 the series draws on
    namesakes: list[Customer] = field(default_factory=list)

    @property
    def booked(self) -> list[Occurrence]:
        return [o for o in self.occurrences if o.ok]

    @property
    def failed(self) -> list[Occurrence]:
        return [o for o in self.occurrences if not o.ok]

    @property
    def service(self) -> str:
        return self.request.service.strip()

    def overridden(self) -> list[str]:
        """What --force let through, each once (the same allergy is not repeated for every date)."""
        seen: dict[str, None] = {}
        for o in self.booked:
            for reason in o.plan.overridden:
                seen.setdefault(reason, None)
        return list(seen)

    def refusal(self, *, skip_conflicts: bool) -> VaultCRMError | None:
        """Why nothing may be written (every failing date listed), or None."""
        failed = self.failed
        if not failed:
            return None
        lines = [o.failure_line() for o in failed]
        if not self.booked:
            return ConflictError(f"未预约疗程：{self.repeat.times} 次都无法预约，未写入任何预约", details=lines)
        if skip_conflicts:
            return None
        return ConflictError(
            f"未预约疗程：{self.repeat.times} 次中有 {len(failed)} 次无法预约，未写入任何预约",
            details=[*lines, "可换时间或技师再约，或加 --skip-conflicts 只约其余各次"])


# -- planning --------------------------------------------------------------------------------------
def _placeholder(plan: BookingPlan, number: int) -> Appointment:
    """A planned occurrence as the others see it: blocking its technician, room and the customer."""
    return plan.appointment.model_copy(update={"id": f"本疗程第{number}次"})


def _refuse_unsafe(index: VaultIndex, settings: Settings, req: BookingRequest, today: dt.date) -> None:
    """Allergies, 禁忌 and the no-show limit refuse the whole series at once, as they refuse `book`."""
    customer = resolve_customer(index, req.customer, req.phone)
    if customer is None or req.force:
        return
    refusals = brief(customer, index.history(customer.id), req.service.strip(), settings, today).refusals()
    if refusals:
        raise ConflictError(f"未预约：{customer.name} {refusals[0]}",
                            details=[*refusals[1:], "已向客户确认无误的，可加 --force 强制预约"])


def _reason(exc: ConflictError) -> str:
    """The refusal without its heading (`无法预约 2026-02-16 10:00–11:00 全身推拿：`): the date is listed already."""
    head, sep, rest = exc.message.partition("：")
    return rest if sep and head.startswith("无法预约") else exc.message


def plan_series(index: VaultIndex, settings: Settings, req: BookingRequest, repeat: Repeat, now: dt.datetime, *,
                use_package: bool = False, skip_conflicts: bool = False) -> SeriesPlan:
    """Plan every occurrence of the series; failing dates carry their reason and nearest alternative."""
    _refuse_unsafe(index, settings, req, now.date())
    occurrences: list[Occurrence] = []
    planned: list[Appointment] = []
    chosen = req.technician
    for number, day in enumerate(repeat.dates(req.date), start=1):
        occurrence = Occurrence(number, day, req.time)
        attempts = [replace(req, date=day)]
        if chosen and not req.technician:  # the technician of the first occurrence, else any free one
            attempts.insert(0, replace(req, date=day, technician=chosen))
        for attempt in attempts:
            try:
                occurrence.plan = plan_booking(index, settings, attempt, now, also=planned)
                break
            except ConflictError as exc:  # the last attempt's reason is reported: the widest one
                occurrence.reason, occurrence.details = _reason(exc), exc.details
        if occurrence.plan is not None:
            occurrence.reason, occurrence.details = None, []
            chosen = chosen or occurrence.plan.appointment.service.technician
            planned.append(_placeholder(occurrence.plan, number))
        occurrences.append(occurrence)
    first = next((o.plan for o in occurrences if o.ok), None)
    if first is not None:
        plan = SeriesPlan(req, repeat, first.customer, first.is_new_customer, first.briefing, occurrences,
                          namesakes=first.namesakes)
    else:  # every date failed: the series is refused below whoever the customer is
        found = resolve_customer(index, req.customer, req.phone)
        plan = SeriesPlan(req, repeat, found or new_customer(req.customer, req.phone, req.channel), found is None,
                          Briefing(), occurrences)
    preferred = chosen or plan.customer.preferences.technician
    for o in plan.failed:
        o.alternative = nearest_alternative(index, settings, req, o.date, planned, plan.customer, now,
                                            preferred=preferred)
    if use_package and plan.booked and (skip_conflicts or not plan.failed):
        plan.package = pick_card(index, plan, now.date())
    return plan


def nearest_alternative(index: VaultIndex, settings: Settings, req: BookingRequest, day: dt.date,
                        planned: list[Appointment], customer: Customer, now: dt.datetime, *,
                        preferred: str | None = None) -> Slot | None:
    """The free start nearest the asked one within SEARCH_DAYS days either side, on a day without another
    occurrence of the series: `free`'s search (`openings`) with the series' planned occurrences blocking."""
    service = req.service.strip()
    minutes = req.duration or settings.service_duration(service)
    wanted = dt.datetime.combine(day, req.time)
    taken = {a.info.date for a in planned}
    technicians = candidates(settings, service, req.technician, preferred)
    best: Slot | None = None
    for offset in range(-SEARCH_DAYS, SEARCH_DAYS + 1):
        other = day + dt.timedelta(days=offset)
        if other < now.date() or (other != day and other in taken):
            continue
        appointments = index.appointments_on(other) + [a for a in planned if a.info.date == other]
        mine = customers_own(index, customer, appointments)
        for slot in openings(other, minutes, service, blocking(appointments, other), settings, technicians, now=now,
                             mine=blocking(mine, other)):
            if best is None or abs(slot.start - wanted) < abs(best.start - wanted):
                best = slot
    return best


# -- the 次卡 a series draws on ---------------------------------------------------------------------
def reserved_visits(index: VaultIndex, customer: Customer, card: str) -> int:
    """Visits of the card already promised: the customer's active appointments that draw on it."""
    if not customer.id:
        return 0
    return sum(1 for a in index.history(customer.id).appointments if a.is_active and a.info.package == card)


def pick_card(index: VaultIndex, plan: SeriesPlan, today: dt.date) -> Package:
    """The 次卡 that pays for every booked occurrence: for this service (or any), valid from the first
    to the last date, with a visit free for each. Service-specific cards first, then the one expiring first."""
    booked = plan.booked
    first, last, count = booked[0].date, booked[-1].date, len(booked)
    who, service = plan.customer.name or plan.request.customer, plan.service
    cards = [p for p in plan.customer.packages if is_session_package(p) and (not p.service or p.service == service)]
    if not cards:
        raise VaultCRMError(f"未预约疗程：客户 {who} 没有可用于「{service}」的次卡"
                            "（可先用 vaultcrm customer package add 添加，或去掉 --package）")
    cards.sort(key=lambda p: (0 if p.service else 1, p.end or dt.date.max))
    problems = []
    for card in cards:
        name = card.name or "次卡"
        left = card.sessions_left or 0
        reserved = reserved_visits(index, plan.customer, name)
        if not is_active(card, first):
            problems.append(f"次卡「{name}」在 {first} 不在有效期（{card.start or '—'} 至 {card.end or '长期'}）")
        elif card.end is not None and card.end < last:
            problems.append(f"次卡「{name}」{card.end} 到期，早于疗程最后一次 {last}")
        elif left - reserved < count:
            held = f"（其中 {reserved} 次已被其他预约占用）" if reserved else ""
            problems.append(f"次卡「{name}」剩余 {left} 次{held}，不够本疗程 {count} 次")
        else:
            return card
    raise VaultCRMError(f"未预约疗程：{problems[0]}", details=problems[1:])


__all__ = ["MAX_TIMES", "Occurrence", "Repeat", "SeriesPlan", "day_text", "describe_interval", "nearest_alternative",
           "parse_repeat", "pick_card", "plan_series", "reserved_visits"]
