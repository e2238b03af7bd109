"""When can an appointment go where? The slot rules of SPEC "Appointment lifecycle", as pure functions.

An appointment occupies [start, start + duration) of its technician and of its room. Active ones
(待服务, 已确认, 服务中) block. A technician also needs the buffer between two appointments; a room
does not (the next customer may walk in as the last one walks out). The slot must lie inside business
hours, the technician's working hours, not on their 休息日, and they must have the service's skill; a
room that lists its services (`房间: {足疗区: {服务项目: [足疗]}}`) serves only those. One customer is in
one place at a time, and a start already past is not booked.

Rules about the clock, the skill, the room's services and the customer's own other appointments can be
overridden (`--force`, the owner knows best); a double booking of a technician or room never can.
`openings` walks a day's grid with the very predicate `place` applies, so what `free` offers and what
`book` accepts cannot disagree. Records and settings in, a `Placement` or a ConflictError
whose details name the clash and offer the nearest free times and the free technicians.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ..core.config import Hours, Settings
from ..errors import ConflictError, VaultCRMError
from ..models import Appointment
from ..values import CN_WEEKDAYS as _CN_DAYS
from ..values import parse_date, weekday_of
from .absence import Away, leave_problem

GRID_MINUTES = 10  # suggested start times fall on this grid
SUGGESTIONS = 3  # free start times offered on each side of the asked one


@dataclass(frozen=True)
class Slot:
    start: dt.datetime
    minutes: int
    technician: str | None = None
    room: str | None = None

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.minutes)

    def span(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class Clash:
    appointment: Appointment
    resource: str  # 技师 or 房间
    name: str
    start: dt.datetime
    end: dt.datetime

    def describe(self) -> str:
        a = self.appointment
        who = a.info.customer_name or a.info.customer_id or "（未填客户）"
        return f"{self.resource} {self.name} 已有预约 {a.id} {who} {self.start:%Y-%m-%d} {self.start:%H:%M}–{self.end:%H:%M}"


@dataclass
class Placement:
    """Where the appointment goes, and which rules `--force` overrode to put it there."""

    slot: Slot
    overridden: list[str] = field(default_factory=list)


# -- the rules ------------------------------------------------------------------------------------
def is_day_off(days_off: Iterable[str], day: dt.date) -> str | None:
    """The 休息日 entry that makes `day` a day off (a weekday, or a date written out), else None."""
    for entry in days_off:
        if weekday_of(entry) == day.weekday():
            return entry
        try:
            if parse_date(entry) == day:
                return entry
        except ValueError:
            continue
    return None


def within(hours: Hours | None, slot: Slot) -> bool:
    """The whole interval lies inside the hours; ending exactly at closing time is fine."""
    if hours is None or hours.start is None or hours.end is None:
        return True
    day = slot.start.date()
    return dt.datetime.combine(day, hours.start) <= slot.start and slot.end <= dt.datetime.combine(day, hours.end)


def _hours_text(hours: Hours) -> str:
    return f"{hours.start:%H:%M}–{hours.end:%H:%M}"


def time_rule_problems(slot: Slot, settings: Settings, away: Iterable[Away] = ()) -> list[str]:
    """Business hours, the technician's working hours, days off and leave (`away`, see absence.py)."""
    problems = []
    if not within(settings.business_hours, slot):
        problems.append(f"{slot.span()} 超出营业时间 {_hours_text(settings.business_hours)}")
    tech = settings.technicians.get(slot.technician or "")
    if tech is not None:
        if not within(tech.hours, slot):
            problems.append(f"{slot.span()} 超出技师 {slot.technician} 的工作时间 {_hours_text(tech.hours)}")
        off = is_day_off(tech.days_off, slot.start.date())
        if off:
            problems.append(f"{slot.start:%Y-%m-%d}（{'周' + _CN_DAYS[slot.start.weekday()]}）是技师 "
                            f"{slot.technician} 的休息日（{off}）")
    on_leave = leave_problem(slot.technician, slot.start, slot.end, away)
    if on_leave:
        problems.append(f"{slot.span()} {on_leave}")
    return problems


def skill_problem(technician: str | None, service: str | None, settings: Settings) -> str | None:
    conf = settings.services.get(service or "")
    tech = settings.technicians.get(technician or "")
    if conf is None or not conf.skill or tech is None or conf.skill in tech.skills:
        return None
    return f"技师 {technician} 没有「{conf.skill}」技能（{service} 需要）"


def serves(room: str, service: str | None, settings: Settings) -> bool:
    """A room that lists its services takes only those; a room without a list (or unknown) takes any."""
    conf = settings.rooms.get(room)
    return conf is None or not conf.services or (service or "") in conf.services


def room_problem(room: str | None, service: str | None, settings: Settings) -> str | None:
    if not room or serves(room, service, settings):
        return None
    able = [r for r in settings.rooms if serves(r, service, settings)]
    return f"房间 {room} 不做「{service}」，可做的房间：{'、'.join(able) or '无'}"


def past_problem(slot: Slot, now: dt.datetime | None) -> str | None:
    if now is None or slot.start >= now:
        return None
    return f"开始时间 {slot.start:%Y-%m-%d %H:%M} 已经过去（现在 {now:%Y-%m-%d %H:%M}；到店后补登请用 vaultcrm log）"


def customer_problems(slot: Slot, mine: Iterable[Appointment], settings: Settings) -> list[str]:
    """The customer's own active appointments that overlap the slot (touching ones do not)."""
    found = []
    for other in mine:
        span = occupancy(other, settings)
        if span is not None and slot.start < span[1] and span[0] < slot.end:
            a = other
            where = "，".join(x for x in (a.service.service, a.service.technician, a.service.room) if x)
            found.append(f"客户 {a.info.customer_name or a.info.customer_id or ''} 同一时间已有预约 {a.id} "
                         f"{span[0]:%Y-%m-%d} {span[0]:%H:%M}–{span[1]:%H:%M}" + (f"（{where}）" if where else ""))
    return found


def soft_problems(slot: Slot, service: str | None, settings: Settings, *, now: dt.datetime | None = None,
                  mine: Iterable[Appointment] = (), away: Iterable[Away] = ()) -> list[str]:
    """Everything `--force` may override: the clock (leave too), the skill, the room's services, the past,
    the customer."""
    problems = time_rule_problems(slot, settings, away)
    problems += [p for p in (skill_problem(slot.technician, service, settings),
                             room_problem(slot.room, service, settings), past_problem(slot, now)) if p]
    return problems + customer_problems(slot, mine, settings)


def check_names(service: str | None, technician: str | None, room: str | None, settings: Settings) -> None:
    """Once the config lists services, technicians or rooms, other names are refused as typos."""
    for label, name, known in (("服务项目", service, list(settings.services)),
                               ("技师", technician, list(settings.technicians)),
                               ("房间", room, list(settings.rooms))):
        if name and known and name not in known:
            raise VaultCRMError(f"未知的{label}「{name}」，vaultcrm.yaml 中有：{'、'.join(known)}")


def occupancy(appointment: Appointment, settings: Settings) -> tuple[dt.datetime, dt.datetime] | None:
    start = appointment.start
    if start is None:
        return None
    minutes = appointment.service.duration or settings.service_duration(appointment.service.service)
    return start, start + dt.timedelta(minutes=minutes)


def blocking(appointments: Iterable[Appointment], day: dt.date, ignore_id: str | None = None) -> list[Appointment]:
    """The active appointments of a day that can clash, without the one being moved."""
    return [a for a in appointments if a.info.date == day and a.is_active and a.id != ignore_id]


def clashes(slot: Slot, others: Iterable[Appointment], settings: Settings) -> list[Clash]:
    buffer = dt.timedelta(minutes=settings.buffer_minutes or 0)
    found = []
    for other in others:
        same_technician = bool(slot.technician) and (other.service.technician or "").strip() == slot.technician
        same_room = bool(slot.room) and (other.service.room or "").strip() == slot.room
        if not (same_technician or same_room):
            continue
        span = occupancy(other, settings)
        if span is None:
            continue
        start, end = span
        if same_technician and slot.start < end + buffer and start < slot.end + buffer:
            found.append(Clash(other, "技师", slot.technician, start, end))
        elif same_room and slot.start < end and start < slot.end:
            found.append(Clash(other, "房间", slot.room, start, end))
    return found


def fits(slot: Slot, service: str | None, others: list[Appointment], settings: Settings, *,
         now: dt.datetime | None = None, mine: Iterable[Appointment] = (), away: Iterable[Away] = ()) -> bool:
    """Every rule holds and nothing clashes; without a room, a free configured room serving it will do."""
    if soft_problems(slot, service, settings, now=now, mine=mine, away=away):
        return False
    if clashes(slot, others, settings):
        return False
    return bool(slot.room or not settings.rooms or free_rooms(slot, others, settings, service))


# -- finding alternatives -------------------------------------------------------------------------
def free_rooms(slot: Slot, others: list[Appointment], settings: Settings, service: str | None = None) -> list[str]:
    """Configured rooms free for the slot and serving `service`, the first to pick first: rooms that list
    the service (the 足疗区 for 足疗) before rooms that take anything, each in config order."""
    rooms = [room for room in settings.rooms if serves(room, service, settings)
             and not clashes(Slot(slot.start, slot.minutes, None, room), others, settings)]
    return sorted(rooms, key=lambda room: not settings.rooms[room].services)


def free_technicians(slot: Slot, service: str | None, others: list[Appointment], settings: Settings, *,
                     now: dt.datetime | None = None, mine: Iterable[Appointment] = (),
                     away: Iterable[Away] = ()) -> list[str]:
    """Configured technicians with the skill who could take the slot (its room aside)."""
    return [name for name in settings.technicians
            if fits(replace(slot, technician=name, room=None), service, others, settings, now=now, mine=mine,
                    away=away)]


def day_bounds(day: dt.date, settings: Settings, technician: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The part of the day a start may fall in: business hours within the technician's (whole day if unset)."""
    first, last = dt.datetime.combine(day, dt.time(0)), dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0))
    tech = settings.technicians.get(technician or "")
    for hours in (settings.business_hours, tech.hours if tech else None):
        if hours is not None and hours.start is not None and hours.end is not None:
            first = max(first, dt.datetime.combine(day, hours.start))
            last = min(last, dt.datetime.combine(day, hours.end))
    return first, last


def grid_starts(first: dt.datetime, last: dt.datetime) -> Iterable[dt.datetime]:
    """Starts on the 10-minute grid (counted from midnight) in [first, last)."""
    step = dt.timedelta(minutes=GRID_MINUTES)
    midnight = dt.datetime.combine(first.date(), dt.time(0))
    t = midnight + step * -(-(first - midnight) // step)  # round up onto the grid
    while t < last:
        yield t
        t += step


def openings(day: dt.date, minutes: int, service: str | None, others: list[Appointment], settings: Settings,
             technicians: Iterable[str | None], *, now: dt.datetime | None = None,
             mine: Iterable[Appointment] = (), away: Iterable[Away] = ()) -> list[Slot]:
    """Every grid start of `day` at which `place` (without --force) accepts the service for one of
    `technicians` (None: no technician named), earliest first, with the room `place` would choose.

    `others` and `mine` are the day's blocking appointments (see `blocking`). This is the one search
    behind `free` and behind the times a refused `book` suggests.
    """
    mine, away = list(mine), list(away)
    found: list[Slot] = []
    for name in technicians:
        tech = settings.technicians.get(name or "")
        if skill_problem(name, service, settings) or (tech is not None and is_day_off(tech.days_off, day)):
            continue  # `fits` refuses every start of the day: no need to ask it each time
        first, last = day_bounds(day, settings, name)
        if now is not None:
            first = max(first, now)  # earlier starts are past
        for start in grid_starts(first, last):
            slot = Slot(start, minutes, name, None)  # what follows is `fits`, keeping the rooms it finds
            if soft_problems(slot, service, settings, now=now, mine=mine, away=away) or clashes(slot, others, settings):
                continue
            rooms = free_rooms(slot, others, settings, service) if settings.rooms else []
            if rooms or not settings.rooms:
                found.append(replace(slot, room=rooms[0] if rooms else None))
    return sorted(found, key=lambda s: s.start)  # stable: at one time, technicians keep their order


def suggest_starts(slot: Slot, service: str | None, others: list[Appointment], settings: Settings,
                   technicians: list[str | None], count: int = SUGGESTIONS, *, now: dt.datetime | None = None,
                   mine: Iterable[Appointment] = (), away: Iterable[Away] = ()) -> list[dt.time]:
    """The nearest free start times that day (up to `count` before and after), for any of `technicians`."""
    free = openings(slot.start.date(), slot.minutes, service, others, settings, technicians, now=now, mine=mine,
                    away=away)
    candidates = sorted({s.start for s in free if s.start != slot.start})
    before = [t for t in candidates if t < slot.start][-count:]
    after = [t for t in candidates if t > slot.start][:count]
    return [t.time() for t in before + after]


def _alternatives(slot: Slot, service: str | None, others: list[Appointment], settings: Settings,
                  technicians: list[str | None], now: dt.datetime | None = None,
                  mine: Iterable[Appointment] = (), away: Iterable[Away] = ()) -> list[str]:
    lines = []
    starts = suggest_starts(slot, service, others, settings, technicians, now=now, mine=mine, away=away)
    who = slot.technician or ("会" + settings.services[service].skill + "的技师"
                              if service in settings.services and settings.services[service].skill else "")
    times = "、".join(t.strftime("%H:%M") for t in starts) or "当天没有"
    lines.append(f"{who + ' ' if who else ''}{slot.start:%Y-%m-%d} 最近的空闲时间：{times}")
    if settings.technicians:
        techs = [t for t in free_technicians(slot, service, others, settings, now=now, mine=mine, away=away)
                 if t != slot.technician]
        lines.append(f"{slot.start:%H:%M} 有空的技师：{'、'.join(techs) or '无'}")
    if slot.room and settings.rooms:
        rooms = [r for r in free_rooms(slot, others, settings, service) if r != slot.room]
        lines.append(f"{slot.start:%H:%M} 空闲的房间：{'、'.join(rooms) or '无'}")
    return lines


# -- the whole decision ---------------------------------------------------------------------------
def place(slot: Slot, service: str | None, appointments: Iterable[Appointment], settings: Settings, *,
          preferred: str | None = None, ignore_id: str | None = None, force: bool = False,
          pick: bool = True, now: dt.datetime | None = None, mine: Iterable[Appointment] = (),
          away: Iterable[Away] = ()) -> Placement:
    """Settle the technician and room of `slot` and check every rule; raise ConflictError if refused.

    With `pick`, a missing technician is chosen when the config lists technicians (a free one with the
    skill, the customer's `preferred` first) and a missing room is the first free configured room that
    serves the service. `now` makes a start already past need `--force`; `mine` are the customer's own
    appointments, which the slot may not overlap without `--force`; `away` the technicians' leave.
    """
    check_names(service, slot.technician, slot.room, settings)
    day = slot.start.date()
    others = blocking(appointments, day, ignore_id)
    own = blocking(mine, day, ignore_id)
    away = list(away)
    heading = f"无法预约 {slot.start:%Y-%m-%d} {slot.span()} {service or ''}".rstrip()

    def alternatives(technicians: list[str | None]) -> list[str]:
        return _alternatives(slot, service, others, settings, technicians, now, own, away)

    if pick and not slot.technician and settings.technicians:
        skilled = [n for n in settings.technicians if not skill_problem(n, service, settings)]
        free = free_technicians(slot, service, others, settings, away=away)
        if not free and force:  # the clock may be overridden, a double booking not
            free = [n for n in skilled if not clashes(replace(slot, technician=n, room=None), others, settings)]
        if not free:
            reason = "；".join(time_rule_problems(slot, settings, away)) or "此时没有空闲的技师"
            raise ConflictError(f"{heading}：{reason}", details=alternatives(skilled))
        slot = replace(slot, technician=preferred if preferred in free else free[0])
    soft = soft_problems(slot, service, settings, now=now, mine=own, away=away)
    found = clashes(slot, others, settings)
    hard = [c.describe() for c in found]
    if any(c.resource == "技师" and (c.end <= slot.start or slot.end <= c.start) for c in found):
        hard.append(f"（同一技师的两个预约之间需间隔 {settings.buffer_minutes} 分钟）")
    if hard or (soft and not force):
        problems = hard + soft
        if soft and not hard:
            problems.append("如确需安排，可加 --force")
        raise ConflictError(f"{heading}：{problems[0]}", details=problems[1:] + alternatives([slot.technician]))
    if pick and not slot.room and settings.rooms:
        rooms = free_rooms(slot, others, settings, service)
        if not rooms:
            able = [r for r in settings.rooms if serves(r, service, settings)]
            reason = "此时没有空闲的房间" if able else f"没有能做「{service}」的房间（见 vaultcrm.yaml 的 房间）"
            raise ConflictError(f"{heading}：{reason}", details=alternatives([slot.technician]))
        slot = replace(slot, room=rooms[0])
    return Placement(slot, soft)


__all__ = ["Clash", "GRID_MINUTES", "Placement", "SUGGESTIONS", "Slot", "blocking", "check_names", "clashes",
           "customer_problems", "day_bounds", "fits", "free_rooms", "free_technicians", "grid_starts",
           "is_day_off", "occupancy", "openings", "past_problem", "place", "room_problem", "serves",
           "skill_problem", "soft_problems", "suggest_starts", "time_rule_problems", "weekday_of", "within"]
