"""`leave`: record a technician's leave, and deal with the appointments it touches.

The leave note (请假/LV-YYYY-NNN.md) is what makes the booking rules treat the technician as away
(see absence.py). Appointments of that technician overlapping the leave (touching ones are fine) are
listed with the colleagues who have the skill and are free then; with `reassign` each goes to the
first of them — the customer's preferred technician first, then the config's order — and the change is
written to its 状态更新. Appointments nobody can take stay as they are, listed for a phone call. Any time
the change frees is offered to the waitlist.

Everything is decided under the booking lock and written as one journalled operation: a kill at any
write is finished by the next vaultcrm command. The same leave typed again is not recorded twice: the
note already there is used, and only what is still to do is done.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core import store
from ..core.config import Settings
from ..core.index import VaultIndex
from ..core.journal import transaction
from ..core.loader import Vault, load_vault
from ..core.locks import BOOKING, booking_lock
from ..core.operator import operator_name
from ..diagnostics import Diagnostic
from ..errors import VaultCRMError
from ..models import Appointment, Leave
from . import lifecycle
from .absence import Away, away_of
from .slots import Slot, blocking, check_names, clashes, occupancy, soft_problems
from .waitlist import Offer
from .waitlist_actions import offer_freed

Loader = Callable[[Path], Vault]


@dataclass
class LeaveRequest:
    technician: str
    first_day: dt.date
    last_day: dt.date | None = None
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    reason: str | None = None
    reassign: bool = False
    operator: str | None = None
    now: dt.datetime | None = None


@dataclass
class Affected:
    appointment: Appointment
    free: list[str]  # colleagues with the skill free then (best first)
    moved_to: str | None = None  # with reassign: who takes it

    @property
    def outcome(self) -> str:
        if self.moved_to:
            return f"改派 {self.moved_to}"
        if self.free:
            return f"未改派（可接：{'、'.join(self.free)}）"
        return "待电话联系（无人可接）"


@dataclass
class LeavePlan:
    leave: Leave  # without an ID when it is new
    away: Away
    existing: bool  # the same leave is recorded already
    affected: list[Affected] = field(default_factory=list)
    reassign: bool = False

    @property
    def moves(self) -> list[Affected]:
        return [a for a in self.affected if a.moved_to]

    @property
    def to_call(self) -> list[Affected]:
        return [a for a in self.affected if not a.moved_to and (self.reassign or not a.free)]


@dataclass
class LeaveResult:
    plan: LeavePlan
    leave: Leave
    offers: list[Offer]
    diagnostics: list[Diagnostic]


def _period(req: LeaveRequest) -> tuple[dt.datetime, dt.datetime]:
    last = req.last_day or req.first_day
    if last < req.first_day:
        raise VaultCRMError(f"请假结束日期 {last} 早于开始日期 {req.first_day}")
    start = dt.datetime.combine(req.first_day, req.start_time or dt.time(0))
    end = (dt.datetime.combine(last, req.end_time) if req.end_time
           else dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0)))
    if end <= start:
        raise VaultCRMError(f"请假结束时间 {end:%Y-%m-%d %H:%M} 应晚于开始时间 {start:%Y-%m-%d %H:%M}")
    return start, end


def affected_appointments(index: VaultIndex, settings: Settings, away: Away) -> list[Appointment]:
    """The technician's active appointments overlapping the leave, in time order (touching ones are not)."""
    found = []
    last = (away.end - dt.timedelta(microseconds=1)).date()
    for a in index.appointments_between(away.start.date(), last):
        span = occupancy(a, settings)
        if a.is_active and (a.service.technician or "").strip() == away.technician and span is not None \
                and away.overlaps(*span):
            found.append(a)
    return found


def _colleagues(index: VaultIndex, settings: Settings, a: Appointment, day: list[Appointment],
                away: list[Away], now: dt.datetime) -> list[str]:
    """Who could take `a` at its time and room, the customer's preferred technician first."""
    key = index.key_of(a)
    profile = index.customers.get(key or "")
    preferred = a.requests.preferred_technician or (profile.preferences.technician if profile else None)
    names = list(settings.technicians)
    if preferred in names:
        names.remove(preferred)
        names.insert(0, preferred)
    minutes = a.service.duration or settings.service_duration(a.service.service)
    others = blocking(day, a.info.date, a.id)
    mine = [x for x in others if key and index.key_of(x) == key]
    free = []
    for name in names:  # what `reschedule --technician NAME` (place without --force) accepts
        slot = Slot(a.start, minutes, name, a.service.room)
        if name != a.service.technician and not soft_problems(slot, a.service.service, settings, now=now, mine=mine,
                                                              away=away) \
                and not clashes(slot, others, settings):
            free.append(name)
    return free


def plan_leave(index: VaultIndex, settings: Settings, req: LeaveRequest, now: dt.datetime) -> LeavePlan:
    """What `leave` would record and do, without writing."""
    technician = req.technician.strip()
    if not technician:
        raise VaultCRMError("请给出请假的技师")
    check_names(None, technician, None, settings)
    start, end = _period(req)
    existing = next((lv for lv in index.leaves.values()
                     if lv.technician == technician and lv.period == (start, end)), None)
    leave = existing or Leave.model_validate({
        "请假编号": "", "技师": technician, "开始日期": req.first_day, "开始时间": req.start_time,
        "结束日期": req.last_day or req.first_day, "结束时间": req.end_time, "原因": req.reason,
        "登记时间": now, "登记人": operator_name(req.operator, settings)})
    away = Away(technician, start, end, leave.id or "（本次）", leave.reason)
    all_away = away_of(index.leaves_between(start.date(), end.date()))
    if existing is None:
        all_away.append(away)
    plan = LeavePlan(leave, away, existing is not None, reassign=req.reassign)
    days: dict[dt.date, list[Appointment]] = {}
    for a in affected_appointments(index, settings, away):
        day = days.setdefault(a.info.date, index.appointments_on(a.info.date))
        free = _colleagues(index, settings, a, day, all_away, now)
        item = Affected(a, free)
        if req.reassign and free:
            item.moved_to = free[0]
            moved = a.model_copy(update={"service": a.service.model_copy(update={"technician": free[0]})})
            days[a.info.date] = [moved if x.id == a.id else x for x in day]
        plan.affected.append(item)
    return plan


def _period_text(away: Away) -> str:
    return away.span()


def record_leave(root: Path, req: LeaveRequest, *, load: Loader = load_vault) -> LeaveResult:
    """Plan under the booking lock, then write the leave note, the moves and the waitlist's offers at once."""
    with booking_lock(root):
        vault = load(root)
        settings, index = vault.settings, vault.index
        now = req.now or settings.now()
        plan = plan_leave(index, settings, req, now)
        operator = operator_name(req.operator, settings)
        with transaction(vault.root, "leave", lock=BOOKING):
            leave = plan.leave
            if not plan.existing:
                rows = [{"id": x.appointment.id, "time": f"{x.appointment.start:%m-%d %H:%M}",
                         "customer": x.appointment.info.customer_name, "service": x.appointment.service.service,
                         "outcome": x.outcome} for x in plan.affected]
                leave = store.create_record(vault.root, settings, leave, index.leaves.keys(), year=now.year,
                                            body={"period": _period_text(plan.away), "affected": rows})
                plan.away = replace(plan.away, leave_id=leave.id)
            for item in plan.moves:
                a = item.appointment
                line = lifecycle.entry(now, f"请假改派：技师 {a.service.technician} → {item.moved_to}"
                                            f"（{leave.id} {a.service.technician}请假）", operator)
                store.update_record(vault.root, a, {("服务信息", "技师安排"): item.moved_to},
                                    append={("预约状态", "状态更新"): [line]}, loaded=vault.loaded_stamp(a))
            found = _offer(vault, plan, now)
    return LeaveResult(plan, leave, found, vault.diagnostics)


def _offer(vault: Vault, plan: LeavePlan, now: dt.datetime) -> list[Offer]:
    """Whatever the leave and its moves free (seldom anything: the leave takes time) goes to the waitlist."""
    found: list[Offer] = []
    moved = {x.appointment.id: x.moved_to for x in plan.moves}
    first, last = plan.away.start.date(), (plan.away.end - dt.timedelta(microseconds=1)).date()
    before_away = away_of(vault.index.leaves_between(first, last))
    after_away = before_away if plan.existing else [*before_away, plan.away]
    day = first
    while day <= last:
        before = vault.index.appointments_on(day)
        after = [a.model_copy(update={"service": a.service.model_copy(update={"technician": moved[a.id]})})
                 if a.id in moved else a for a in before]
        found += offer_freed(vault, day, before, after, now=now, cause=f"{plan.away.technician}请假改派",
                             away_before=before_away, away_after=after_away, freed_by=[plan.away.technician])
        day += dt.timedelta(days=1)
    return found


__all__ = ["Affected", "LeavePlan", "LeaveRequest", "LeaveResult", "affected_appointments", "plan_leave",
           "record_leave"]
