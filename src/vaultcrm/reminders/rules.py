"""Which reminders are due at a given time: pure rules over the vault's records, no I/O.

A reminder is identified by (kind, record, due time). Appointment reminders follow their appointment:
a moved appointment gets reminders with new due times (so new identities), a cancelled, finished or
started one gets none. A paused cron job must not flood the studio when it resumes, so each reminder
is due only within a window after its due time:
- 预约提醒 from their due time until the appointment starts (a 候补通知 — freed time offered to a waiting
  customer, recorded on the 候补 note — from when it was freed until that time starts);
- 服务提醒 (schedules, rooms, materials) from an hour before opening until closing time that day;
- 跟进提醒 (follow-ups, package expiry, birthdays) for FOLLOW_UP_WINDOW (7 days) after their due time.

Who a reminder's text is for is explicit (`Audience`): 客户 texts (提前1天, 提前2小时确认,
生日关怀提醒) carry only the appointment or birthday facts in CUSTOMER_FACTS, never health data;
a Reminder refuses anything else. The staff's 服务前30分钟准备 carries allergies, contraindications
and the last service's notes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.reminder_kinds import KIND_ORDER, KINDS, Audience
from ..models import Appointment, Customer, ServiceRecord
from ..values import AppointmentStatus, FollowUpStatus

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.index import VaultIndex


APPOINTMENT_OFFSETS = (("提前1天", dt.timedelta(hours=24)), ("提前2小时确认", dt.timedelta(hours=2)),
                       ("服务前30分钟准备", dt.timedelta(minutes=30)))
REMINDED_STATUSES = frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED})
OFF_SCHEDULE = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW})
FOLLOW_UP_WINDOW = dt.timedelta(days=7)
SCHEDULE_LEAD = dt.timedelta(hours=1)  # the day's 服务提醒 come an hour before opening
CUSTOMER_FACTS = frozenset({"name", "phone", "date", "time", "service", "technician", "birthday"})


class Identified:
    """What a reminder's (kind, record, due) tell: its group, its audience and its identity key."""

    kind: str
    record: str
    due: dt.datetime

    @property
    def group(self) -> str:
        return KINDS[self.kind].group

    @property
    def audience(self) -> Audience:
        return KINDS[self.kind].audience

    @property
    def key(self) -> str:
        return reminder_key(self.kind, self.record, self.due)


@dataclass(frozen=True)
class Reminder(Identified):
    kind: str  # 提醒项, a key of KINDS
    record: str  # what it is about: an APP/FLW/customer ID, a technician, a room, a day
    due: dt.datetime
    content: str  # 提醒内容: one line for the day note's table
    customer: str | None = None  # 关联客户
    facts: Mapping[str, str] = field(default_factory=dict)  # what a customer text may say
    details: tuple[str, ...] = ()  # further lines for staff

    def __post_init__(self) -> None:
        if self.audience is Audience.CUSTOMER and (self.details or not set(self.facts) <= CUSTOMER_FACTS):
            raise ValueError(f"{self.kind} is customer-facing: only {sorted(CUSTOMER_FACTS)}, no details")



def reminder_key(kind: str, record: str, due: dt.datetime) -> str:
    return f"{kind}|{record}|{due:%Y-%m-%d %H:%M}"


def due_reminders(index: VaultIndex, settings: Settings, at: dt.datetime) -> list[Reminder]:
    """Every reminder due at `at` (sent or not: what was sent is the day notes' business)."""
    found = [*_appointment_reminders(index, settings, at), *_waitlist_reminders(index, at),
             *_service_reminders(index, settings, at),
             *_follow_up_reminders(index, settings, at), *_package_reminders(index, settings, at),
             *_birthday_reminders(index, settings, at)]
    return sorted(found, key=lambda r: (r.due, KIND_ORDER[r.kind], r.record))


# -- helpers -------------------------------------------------------------------------------------
def _opening(settings: Settings) -> dt.time:
    return settings.business_hours.start or dt.time(9)


def _closing(settings: Settings) -> dt.time:
    return settings.business_hours.end or dt.time(21)


def _in_window(due: dt.datetime, at: dt.datetime) -> bool:
    return at - FOLLOW_UP_WINDOW <= due <= at


def _md(day: dt.date) -> str:
    return f"{day:%m-%d}"


def _joined(items: Iterable[str], empty: str = "无记录") -> str:
    return "、".join(items) or empty


def _service_label(a: Appointment) -> str:
    service = a.service.service or "未填写服务"
    return f"{service}（{a.service.technician}）" if a.service.technician else service


def _span(a: Appointment, settings: Settings) -> str:
    end = a.end(settings.service_duration(a.service.service))
    return f"{a.start:%H:%M}-{end:%H:%M}"


# -- 预约提醒 ------------------------------------------------------------------------------------
def _appointment_reminders(index: VaultIndex, settings: Settings, at: dt.datetime) -> Iterator[Reminder]:
    longest = max(offset for _, offset in APPOINTMENT_OFFSETS)
    for a in index.appointments_between(at.date(), (at + longest).date()):
        start = a.start
        if start is None or start <= at or a.status not in REMINDED_STATUSES:
            continue
        for kind, offset in APPOINTMENT_OFFSETS:
            due = start - offset
            if due > at:
                continue
            created = a.state.created_at
            if KINDS[kind].audience is Audience.CUSTOMER and created is not None and due < created:
                continue  # booked after it was due: the customer has just spoken to the studio
            yield _appointment_reminder(kind, a, due, index, settings)


def _appointment_reminder(kind: str, a: Appointment, due: dt.datetime, index: VaultIndex,
                          settings: Settings) -> Reminder:
    name = a.info.customer_name or "未填写姓名"
    if KINDS[kind].audience is Audience.CUSTOMER:
        facts = {"name": name, "phone": a.info.phone or "", "date": f"{a.start.month}月{a.start.day}日",
                 "time": f"{a.start:%H:%M}", "service": a.service.service or "服务",
                 "technician": a.service.technician or ""}
        content = f"{kind}：{name} {_md(a.start.date())} {a.start:%H:%M} {_service_label(a)}"
        return Reminder(kind, a.id, due, content, a.info.customer_name, facts=facts)
    room = a.service.room or "未安排房间"
    staff = "，".join(x for x in (a.service.technician, room) if x)
    content = f"{kind}：{name} {a.start:%H:%M} {a.service.service or '未填写服务'}（{staff}）"
    return Reminder(kind, a.id, due, content, a.info.customer_name,
                    details=tuple(_preparation(a, index, settings)))


def _preparation(a: Appointment, index: VaultIndex, settings: Settings) -> Iterator[str]:
    """What the technician must know before the customer walks in."""
    conf = settings.services.get(a.service.service or "")
    yield f"预约：{a.id} {_span(a, settings)} {a.service.service or '未填写服务'}，技师：{a.service.technician or '未安排'}"
    yield f"房间：{a.service.room or '未安排'}"
    yield f"材料：{_joined(conf.materials if conf else [], '无')}"
    if conf and conf.contraindications:
        yield f"服务禁忌：{_joined(conf.contraindications)}（请先与客户确认）"
    key = index.key_of(a)
    customer = index.customers.get(key) if key else None
    health = customer.health if customer else None
    yield f"过敏史：{_joined(health.allergies if health else [])}"
    yield f"禁忌事项：{_joined(health.contraindications if health else [])}"
    if health and health.concerns:
        yield f"健康关注：{health.concerns}"
    if a.requests.strength or a.requests.other:
        yield f"特殊要求：{'，'.join(x for x in (a.requests.strength and f'力度{a.requests.strength}', a.requests.other) if x)}"
    last = _last_service(index.services_of(key) if key else [], a.start)
    if last is None:
        yield "上次服务：无记录"
        return
    yield f"上次服务：{last.basics.date} {last.service.service or ''}（{last.service.technician or '技师未填写'}）"
    for label, value in (("服务前评估注意事项", last.details.before.cautions),
                         ("调整内容", last.details.during.adjustments),
                         ("服务后评估注意事项", last.details.after.cautions),
                         ("后续建议", last.aftercare.advice)):
        if value:
            yield f"{label}：{value}"


def _last_service(services: list[ServiceRecord], before: dt.datetime) -> ServiceRecord | None:
    earlier = [s for s in services if s.basics.date is not None
               and dt.datetime.combine(s.basics.date, s.start_time or dt.time()) < before]
    return earlier[-1] if earlier else None


# -- 候补通知 ------------------------------------------------------------------------------------
def _waitlist_reminders(index: VaultIndex, at: dt.datetime) -> Iterator[Reminder]:
    """A waiting customer offered freed time: due when it was freed, until that time starts (or the entry
    is booked or removed). A later offer is a new reminder (its own due time)."""
    for w in index.waitlist.values():
        offered, noticed = w.offered_at, w.noticed_at
        if not w.is_open or offered is None or noticed is None or not noticed <= at < offered:
            continue
        name = w.customer_name or w.customer_id or "未填写姓名"
        who = f" {w.offered_technician}" if w.offered_technician else ""
        window = f"{w.earliest.strftime('%H:%M') if w.earliest else '不限'}–{w.latest.strftime('%H:%M') if w.latest else '不限'}"
        details = tuple(x for x in (w.phone and f"联系方式：{w.phone}", f"候补：{w.date} {window} {w.service or ''}".rstrip(),
                                    f"预约：vaultcrm book -c {w.customer_id or name} -d {offered:%Y-%m-%d} -t {offered:%H:%M} "
                                    f"-s {w.service or ''}" + (f" --technician {w.offered_technician}" if who else "")) if x)
        yield Reminder("候补通知", w.id, noticed,
                       f"候补通知：{name} {_md(offered.date())} {offered:%H:%M}{who} {w.service or ''}（{w.id}）".replace(" （", "（"),
                       w.customer_name, details=details)


# -- 服务提醒 ------------------------------------------------------------------------------------
def _service_reminders(index: VaultIndex, settings: Settings, at: dt.datetime) -> Iterator[Reminder]:
    for day in (at.date(), at.date() + dt.timedelta(days=1)):  # an early opening falls due the day before
        due = dt.datetime.combine(day, _opening(settings)) - SCHEDULE_LEAD
        if not due <= at < dt.datetime.combine(day, _closing(settings)):
            continue
        planned = [a for a in index.appointments_on(day) if a.start and a.status not in OFF_SCHEDULE]
        yield from _day_schedules(day, due, planned, settings)


def _day_schedules(day: dt.date, due: dt.datetime, planned: list[Appointment],
                   settings: Settings) -> Iterator[Reminder]:
    by_technician: dict[str, list[Appointment]] = defaultdict(list)
    by_room: dict[str, list[Appointment]] = defaultdict(list)
    materials: Counter[str] = Counter()
    for a in planned:
        if a.service.technician:
            by_technician[a.service.technician].append(a)
        if a.service.room:
            by_room[a.service.room].append(a)
        conf = settings.services.get(a.service.service or "")
        materials.update(conf.materials if conf else [])
    for technician, items in sorted(by_technician.items()):
        listing = "、".join(f"{a.start:%H:%M} {a.service.service or '未填写服务'}（{a.info.customer_name or '-'}）"
                            for a in items)
        yield Reminder("技师排班提醒", technician, due,
                       f"技师排班提醒：{technician} {_md(day)} 共{len(items)}个预约：{listing}",
                       details=tuple(f"{_span(a, settings)} {a.service.service or '未填写服务'} "
                                     f"{a.info.customer_name or '-'} {a.service.room or ''}".rstrip()
                                     for a in items))
    for room, items in sorted(by_room.items()):
        listing = "、".join(f"{a.start:%H:%M} {_service_label(a)}" for a in items)
        yield Reminder("房间准备提醒", room, due, f"房间准备提醒：{room} {_md(day)} 共{len(items)}个预约：{listing}",
                       details=tuple(f"{_span(a, settings)} {_service_label(a)}" for a in items))
    if materials:
        totals = "、".join(f"{name}×{count}" for name, count in sorted(materials.items()))
        yield Reminder("材料准备提醒", day.isoformat(), due, f"材料准备提醒：{_md(day)} {totals}",
                       details=tuple(f"{name}：{count} 份" for name, count in sorted(materials.items())))


# -- 跟进提醒 ------------------------------------------------------------------------------------
def _follow_up_reminders(index: VaultIndex, settings: Settings, at: dt.datetime) -> Iterator[Reminder]:
    first = (at - FOLLOW_UP_WINDOW).date()
    for day, ids in index.followups.dates("basics", "due").items():
        if not first <= day <= at.date():
            continue
        for f in (index.followups[i] for i in ids):
            due = dt.datetime.combine(day, _opening(settings))
            if f.basics.status is not FollowUpStatus.PLANNED or not _in_window(due, at):
                continue
            name = f.customer.customer_name or "未填写姓名"
            owner = f.plan.owner or f.basics.staff
            about = "，".join(x for x in (f.id, f.basics.service_id and f"服务 {f.basics.service_id}",
                                         owner and f"负责人 {owner}") if x)
            details = [f"联系方式：{f.customer.phone}"] if f.customer.phone else []
            if f.content.purposes:
                details.append(f"跟进目的：{_joined(f.content.purposes)}")
            yield Reminder("回访时间提醒", f.id, due, f"回访时间提醒：{name} {f.basics.kind or '回访'}（{about}）",
                           f.customer.customer_name, details=tuple(details))


def _package_reminders(index: VaultIndex, settings: Settings, at: dt.datetime) -> Iterator[Reminder]:
    lead = dt.timedelta(days=settings.reminders.package_expiry_days)
    holders = [i for i, packages in index.customers.column("packages").items() if packages]  # no model built
    for c in (index.customers[i] for i in holders):
        for p in c.packages:
            if p.end is None or p.sessions_left == 0 or p.value_left == 0:
                continue  # no end date, or used up: nothing to expire
            due = dt.datetime.combine(p.end - lead, _opening(settings))
            if not _in_window(due, at):
                continue
            left = "，".join(x for x in (p.sessions_left is not None and f"剩余 {p.sessions_left} 次",
                                        p.value_left is not None and f"余额 ¥{p.value_left}") if x)
            name = c.name or c.id
            yield Reminder("套餐到期提醒", f"{c.id}/{p.name or '套餐'}", due,
                           f"套餐到期提醒：{name} 的「{p.name or '套餐'}」将于 {_md(p.end)} 到期"
                           + (f"（{left}）" if left else ""), c.name,
                           details=(f"联系方式：{c.phone}",) if c.phone else ())


def birthday_in(birthday: dt.date, year: int) -> dt.date:
    """The birthday as celebrated in `year`: 2月29日 falls on 2月28日 outside leap years."""
    try:
        return birthday.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def _birthday_reminders(index: VaultIndex, settings: Settings, at: dt.datetime) -> Iterator[Reminder]:
    if settings.campaigns.birthday.enabled:  # the standing campaign `campaign birthday` greets instead
        return
    lead = dt.timedelta(days=settings.reminders.birthday_days)
    for customer_id, birthday in index.customers.column("birthday").items():  # models only for those due
        if birthday is None:
            continue
        for year in (at.year - 1, at.year, at.year + 1):
            day = birthday_in(birthday, year)
            due = dt.datetime.combine(day - lead, _opening(settings))
            if _in_window(due, at):
                c = index.customers[customer_id]
                if c.consent.marketing is not False:  # said no to marketing: no greetings
                    yield _birthday(c, day, due)


def _birthday(c: Customer, day: dt.date, due: dt.datetime) -> Reminder:
    name = c.name or c.id
    return Reminder("生日关怀提醒", c.id, due, f"生日关怀提醒：{name} {_md(day)} 生日", c.name,
                    facts={"name": name, "phone": c.phone or "", "birthday": f"{day.month}月{day.day}日"})
