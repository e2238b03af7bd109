"""The core of `book`, `status` and `reschedule`: decide with the pure rules, then write through the store.

Booking and moving hold the vault's `booking` lock from reading the vault to creating the note, so two
desks booking at the same moment see each other's appointments: the second is refused instead of
double-booking the technician. Status changes need no lock: `update_record` refuses to overwrite a
note that changed since it was read. Nothing here prints; a refusal is a VaultCRMError and nothing
is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..core import store
from ..core.config import Settings
from ..core.index import VaultIndex
from ..core.journal import transaction
from ..core.loader import Vault, load_vault
from ..core.locks import BOOKING, booking_lock
from ..core.operator import operator_name
from ..customers.membership import discounted_price
from ..customers.resolve import new_customer, resolve_customer
from ..diagnostics import Diagnostic
from ..errors import ConflictError, NotFoundError, VaultCRMError
from ..models import Appointment, Customer
from ..values import AppointmentStatus, Channel, Strength
from . import lifecycle
from .absence import away_of
from .availability import customers_own
from .safety import Briefing, brief
from .slots import Slot, check_names, place
from .waitlist import Offer
from .waitlist_actions import close_for, offer_freed

Loader = Callable[[Path], Vault]


@dataclass
class BookingRequest:
    customer: str  # 客户编号, phone or name
    date: dt.date
    time: dt.time
    service: str
    phone: str | None = None
    technician: str | None = None
    room: str | None = None
    channel: Channel | None = None
    duration: int | None = None
    strength: Strength | None = None
    note: str | None = None
    operator: str | None = None
    force: bool = False
    now: dt.datetime | None = None
    coupon: str | None = None  # a campaign's coupon, stored on the APP and redeemed when the visit is logged


@dataclass
class BookingPlan:
    customer: Customer  # without an ID when it is new
    is_new_customer: bool
    appointment: Appointment  # without an ID
    briefing: Briefing
    overridden: list[str] = field(default_factory=list)  # what --force let through
    namesakes: list[Customer] = field(default_factory=list)  # other profiles of a new customer's name


@dataclass
class Booked:
    appointment: Appointment
    customer: Customer
    plan: BookingPlan
    diagnostics: list[Diagnostic]
    waitlisted: list[str] = field(default_factory=list)  # 候补 entries this booking closed


@dataclass
class StatusChange:
    appointment: Appointment
    old: AppointmentStatus
    new: AppointmentStatus
    changed: bool
    offers: list[Offer] = field(default_factory=list)  # waiting customers who can take the freed time


@dataclass
class Move:
    appointment: Appointment
    old: Slot | None
    new: Slot
    changed: bool
    overridden: list[str] = field(default_factory=list)  # what --force let through
    offers: list[Offer] = field(default_factory=list)  # waiting customers who can take the freed time


def find_appointment(index: VaultIndex, appointment_id: str) -> Appointment:
    key = appointment_id.strip().upper()
    found = index.appointments.get(key)
    if found is None:
        raise NotFoundError(f"找不到预约 {appointment_id}（预约编号形如 APP-2026-001）")
    return found


# -- book -----------------------------------------------------------------------------------------
def _coupon(index: VaultIndex, settings: Settings, req: BookingRequest, customer_key: str | None) -> str:
    """The request's coupon, checked for this customer and day (the campaigns load only for one)."""
    from ..campaigns.redeem import validate_for_booking

    return validate_for_booking(index.root, settings, index, req.coupon, customer_key, req.date)


def plan_booking(index: VaultIndex, settings: Settings, req: BookingRequest, now: dt.datetime, *,
                 also: Iterable[Appointment] = ()) -> BookingPlan:
    """Everything `book` decides, without writing: who, where, when, and what staff must know.

    `also` are appointments planned but not yet written (a series' other occurrences): they block too."""
    service = req.service.strip()
    check_names(service, req.technician, req.room, settings)
    customer = resolve_customer(index, req.customer, req.phone)
    is_new = customer is None
    if customer is None:
        customer = new_customer(req.customer, req.phone, req.channel)
    minutes = req.duration or settings.service_duration(service)
    day = index.appointments_on(req.date) + [a for a in also if a.info.date == req.date]
    placement = place(Slot(dt.datetime.combine(req.date, req.time), minutes, req.technician, req.room), service,
                      day, settings, preferred=customer.preferences.technician, force=req.force, now=now,
                      mine=customers_own(index, customer, day), away=away_of(index.leaves_between(req.date, req.date)))
    briefing = brief(None if is_new else customer, None if is_new else index.history(customer.id), service,
                     settings, now.date())
    refusals = briefing.refusals()
    if refusals and not req.force:
        raise ConflictError(f"未预约：{customer.name} {refusals[0]}",
                            details=[*refusals[1:], "已向客户确认无误的，可加 --force 强制预约"])
    conf = settings.services.get(service)
    slot = placement.slot
    overridden = placement.overridden + (refusals if req.force else [])
    operator = operator_name(req.operator, settings)
    # Staff opening the note in Obsidian must see who let what through, and when.
    forced = [lifecycle.entry(now, f"强制预约：{reason}", operator, forced=True) for reason in overridden]
    appointment = Appointment.model_validate({
        "预约编号": "",
        "预约信息": {"客户姓名": customer.name, "客户编号": customer.id or None,
                     "客户档案": customer.link if customer.id else None, "联系方式": req.phone or customer.phone,
                     "预约日期": req.date, "预约时间": req.time, "预约渠道": req.channel},
        "服务信息": {"服务项目": service, "服务时长": minutes,
                     "预计费用": discounted_price(settings, customer, conf.price) if conf else None,
                     "技师安排": slot.technician, "服务地点": slot.room,
                     "优惠券": req.coupon and _coupon(index, settings, req, customer.id or None)},
        "特殊要求": {"偏好技师": customer.preferences.technician,
                     "力度要求": req.strength or customer.preferences.strength, "其他需求": req.note},
        "预约状态": {"创建时间": now, "创建人": operator, "当前状态": AppointmentStatus.PENDING,
                     "状态更新": forced},
    })
    namesakes = sorted(index.find_customers(customer.name or ""), key=lambda c: c.id) if is_new else []
    return BookingPlan(customer, is_new, appointment, briefing, overridden, namesakes)


def book(root: Path, req: BookingRequest, *, load: Loader = load_vault) -> Booked:
    """Plan and create the appointment (and the profile of a new customer) under the booking lock.

    Both notes are one journalled operation (core/journal.py): a refusal writes neither, and a kill
    half way is finished by the next vaultcrm command. The same request run again right after such a
    kill reports the appointment that was finished instead of booking it twice.
    """
    with booking_lock(root):
        vault = load(root)
        settings = vault.settings
        now = req.now or settings.now()
        key = request_key(req)
        again = _finished_before(vault, key, now)
        if again is not None:
            return Booked(again.appointment, again.customer, again, vault.diagnostics)
        plan = plan_booking(vault.index, settings, req, now)
        with transaction(vault.root, "book", lock=BOOKING, key=key) as journal:
            customer = plan.customer
            if plan.is_new_customer:
                customer = store.create_record(vault.root, settings, customer, vault.index.customers.keys())
            info = plan.appointment.info.model_copy(update={"customer_id": customer.id,
                                                            "customer_link": customer.link})
            appointment = store.create_record(vault.root, settings,
                                              plan.appointment.model_copy(update={"info": info}),
                                              vault.index.appointments.keys(), year=now.year)
            closed = close_for(vault, appointment, customer, now, appointment.state.created_by or "")
            journal.result = {"appointment": appointment.id, "customer": customer.id, "new": plan.is_new_customer}
    return Booked(appointment, customer, plan, vault.diagnostics, [w.id for w in closed])


def request_key(req: BookingRequest) -> str:
    """What identifies one `book` request (not the moment it was made)."""
    fields = {k: v for k, v in dataclasses.asdict(req).items() if k != "now"}
    text = json.dumps(fields, default=str, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _finished_before(vault: Vault, key: str, now: dt.datetime) -> BookingPlan | None:
    """This very request as booked, when loading the vault has just finished its interrupted run
    (planning it again would clash with its own appointment)."""
    for done in vault.recovered:
        if done.op != "book" or done.key != key or done.problems:
            continue
        appointment = vault.index.appointments.get(done.result.get("appointment") or "")
        customer = vault.index.customers.get(done.result.get("customer") or "")
        if appointment is None or customer is None:
            return None
        new = bool(done.result.get("new"))
        briefing = brief(None if new else customer, None if new else vault.index.history(customer.id),
                         appointment.service.service or "", vault.settings, now.date())
        return BookingPlan(customer, new, appointment, briefing)
    return None


# -- status ---------------------------------------------------------------------------------------
def change_status(root: Path, appointment_id: str, new: AppointmentStatus, *, operator: str | None = None,
                  force: bool = False, now: dt.datetime | None = None, load: Loader = load_vault) -> StatusChange:
    """Held under the booking lock: a cancellation or no-show frees time that the waitlist is offered,
    in one journalled operation with the status change."""
    with booking_lock(root):
        vault = load(root)
        appointment = find_appointment(vault.index, appointment_id)
        old = appointment.status
        if old is new:
            return StatusChange(appointment, old, new, False)
        lifecycle.check_transition(appointment.id, old, new, force=force)
        when = now or vault.settings.now()
        early = lifecycle.check_no_show(appointment.id, new, appointment.start, when, force=force)
        who = operator_name(operator, vault.settings)
        line = (lifecycle.entry(when, f"{old.value} → {new.value}", who, forced=True) if early
                else lifecycle.transition_entry(when, old, new, who, forced=force))
        with transaction(vault.root, "status", lock=BOOKING):
            store.update_record(root, appointment, {("预约状态", "当前状态"): new},
                                append={("预约状态", "状态更新"): [line]}, loaded=vault.loaded_stamp(appointment))
            found = []
            if appointment.is_active and new in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW) \
                    and appointment.info.date is not None:
                before = vault.index.appointments_on(appointment.info.date)
                after = [_with_status(a, new) if a.id == appointment.id else a for a in before]
                found = offer_freed(vault, appointment.info.date, before, after, now=when,
                                    cause=f"{appointment.id} {new.value}",
                                    freed_by=[appointment.service.technician or ""])
    return StatusChange(appointment, old, new, True, found)


def _with_status(a: Appointment, status: AppointmentStatus) -> Appointment:
    return a.model_copy(update={"state": a.state.model_copy(update={"status": status})})


# -- reschedule -----------------------------------------------------------------------------------
def _slot_text(slot: Slot | None) -> str:
    return f"{slot.start:%Y-%m-%d %H:%M}" if slot else "未定"


def reschedule(root: Path, appointment_id: str, date: dt.date | None, time: dt.time | None, *,
               technician: str | None = None, room: str | None = None, operator: str | None = None,
               force: bool = False, now: dt.datetime | None = None, load: Loader = load_vault) -> Move:
    """Move an active appointment, checking the new slot against every other appointment.

    A date or time not given stays as it is (`--time 17:00` moves it within its day)."""
    with booking_lock(root):
        vault = load(root)
        settings = vault.settings
        appointment = find_appointment(vault.index, appointment_id)
        if not appointment.is_active:
            raise ConflictError(f"{appointment.id} 已是「{appointment.status.value}」，只能改期待服务、已确认或服务中的预约")
        date, time = date or appointment.info.date, time or appointment.info.time
        if date is None or time is None:
            raise VaultCRMError(f"{appointment.id} 还没有预约{'日期' if date is None else '时间'}，"
                                f"请用 {'--date' if date is None else '--time'} 给出")
        service = appointment.service.service
        minutes = appointment.service.duration or settings.service_duration(service)
        old_tech, old_room = appointment.service.technician, appointment.service.room
        old = Slot(appointment.start, minutes, old_tech, old_room) if appointment.start else None
        wanted = Slot(dt.datetime.combine(date, time), minutes, technician or old_tech, room or old_room)
        day = vault.index.appointments_on(date)
        key = vault.index.key_of(appointment)
        placement = place(wanted, service, day, settings, ignore_id=appointment.id, force=force, pick=False,
                          now=now or settings.now(), mine=[a for a in day if key and vault.index.key_of(a) == key],
                          away=away_of(vault.index.leaves_between(date, date)))
        new = placement.slot
        changes: dict[tuple, object] = {}
        what = []
        if old is None or new.start != old.start:
            changes[("预约信息", "预约日期")] = date
            changes[("预约信息", "预约时间")] = time
            what.append(f"改期 {_slot_text(old)} → {_slot_text(new)}")
        for key, label, before, after in (("技师安排", "技师", old_tech, new.technician),
                                          ("服务地点", "房间", old_room, new.room)):
            if after != before:
                changes[("服务信息", key)] = after
                what.append(f"{label} {before or '未定'} → {after or '未定'}")
        if not changes:
            return Move(appointment, old, new, False, placement.overridden)
        when = now or settings.now()
        line = lifecycle.entry(when, "，".join(what), operator_name(operator, settings),
                               forced=bool(placement.overridden))
        with transaction(vault.root, "reschedule", lock=BOOKING):
            store.update_record(root, appointment, changes, append={("预约状态", "状态更新"): [line]},
                                loaded=vault.loaded_stamp(appointment))
            found = _offer_old_time(vault, appointment, new, when) if old is not None else []
    return Move(appointment, old, new, True, placement.overridden, found)


def _offer_old_time(vault: Vault, appointment: Appointment, new: Slot, now: dt.datetime) -> list[Offer]:
    """The time the appointment left, offered to the waitlist of its old day."""
    day = appointment.info.date
    moved = appointment.model_copy(update={
        "info": appointment.info.model_copy(update={"date": new.start.date(), "time": new.start.time()}),
        "service": appointment.service.model_copy(update={"technician": new.technician, "room": new.room})})
    before = vault.index.appointments_on(day)
    after = [moved if a.id == appointment.id else a for a in before if a.id != appointment.id or moved.info.date == day]
    return offer_freed(vault, day, before, after, now=now, cause=f"{appointment.id} 改期",
                       freed_by=[appointment.service.technician or ""])


__all__ = ["Booked", "BookingPlan", "BookingRequest", "Move", "StatusChange", "book", "change_status",
           "find_appointment", "plan_booking", "reschedule"]
