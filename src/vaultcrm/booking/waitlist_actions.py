"""`waitlist add|list|remove`, and the waitlist's part in `book`, `status`, `reschedule` and `leave`.

Adding an entry holds the booking lock and is one journalled operation with the profile of a new
customer. The hooks run inside the caller's transaction: `notify` records an offer on each entry a
change made bookable (the 候补通知 that `remind` lists follows from it), `close_for` marks the entries a
booking fulfils 已预约. Nothing here prints; a refusal is a VaultCRMError and nothing is written.
"""

from __future__ import annotations

import datetime as dt
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
from ..customers.resolve import new_customer, resolve_customer
from ..errors import ConflictError, NotFoundError, VaultCRMError
from ..models import Appointment, Customer, WaitlistEntry
from ..values import WaitlistStatus
from . import lifecycle
from .absence import Away, away_of
from .availability import FreeQuery, search
from .slots import Slot, check_names, skill_problem
from .waitlist import Offer, offers

Loader = Callable[[Path], Vault]


@dataclass
class WaitlistRequest:
    customer: str  # 客户编号, phone or name
    service: str
    date: dt.date
    earliest: dt.time | None = None
    latest: dt.time | None = None
    technician: str | None = None
    phone: str | None = None
    operator: str | None = None
    now: dt.datetime | None = None


@dataclass
class Added:
    entry: WaitlistEntry
    customer: Customer
    is_new_customer: bool
    free_now: list[Slot] = field(default_factory=list)  # bookable already: no need to wait


def find_entry(index: VaultIndex, entry_id: str) -> WaitlistEntry:
    found = index.waitlist.get(entry_id.strip().upper())
    if found is None:
        raise NotFoundError(f"找不到候补 {entry_id}（候补编号形如 WL-2026-001；vaultcrm waitlist list 列出全部）")
    return found


def _check_request(req: WaitlistRequest, settings: Settings, now: dt.datetime) -> None:
    check_names(req.service, req.technician, None, settings)
    problem = skill_problem(req.technician, req.service, settings)
    if problem:
        raise VaultCRMError(problem)
    if req.earliest and req.latest and req.latest <= req.earliest:
        raise VaultCRMError(f"最晚时间 {req.latest:%H:%M} 应晚于最早时间 {req.earliest:%H:%M}")
    minutes = settings.service_duration(req.service)
    if req.earliest and req.latest and (dt.datetime.combine(req.date, req.latest)
                                        - dt.datetime.combine(req.date, req.earliest)) < dt.timedelta(minutes=minutes):
        raise VaultCRMError(f"{req.earliest:%H:%M}–{req.latest:%H:%M} 放不下 {req.service}（{minutes}分钟）")
    last = dt.datetime.combine(req.date, req.latest) if req.latest else dt.datetime.combine(
        req.date + dt.timedelta(days=1), dt.time(0))
    if last <= now:
        raise VaultCRMError(f"{req.date}{f' {req.latest:%H:%M}' if req.latest else ''} 已经过去，不能再候补")


def add_entry(root: Path, req: WaitlistRequest, *, load: Loader = load_vault) -> Added:
    """Record that a customer waits for a service on a day; a new customer gets a profile too."""
    with booking_lock(root):
        vault = load(root)
        settings, index = vault.settings, vault.index
        now = req.now or settings.now()
        service = req.service.strip()
        req.service = service
        _check_request(req, settings, now)
        customer = resolve_customer(index, req.customer, req.phone)
        is_new = customer is None
        if customer is None:
            customer = new_customer(req.customer, req.phone)
        mine_key = customer.id or index.customer_key(None, customer.name, customer.phone)
        for other in index.waitlist.values():
            if (other.is_open and other.date == req.date and other.service == service
                    and index.customer_key(other.customer_id, other.customer_name, other.phone) == mine_key):
                raise ConflictError(f"{customer.name} 已在候补 {other.id}（{other.date} {service}），未重复添加",
                                    details=[f"修改时间范围请先 vaultcrm waitlist remove {other.id}"])
        day = index.appointments_on(req.date)
        query = FreeQuery(service, req.date, technician=req.technician, after=req.earliest)
        window_end = dt.datetime.combine(req.date, req.latest) if req.latest else None
        free_now = [s for s in search(query, day, settings, now=now,
                                      mine=[a for a in day if mine_key and index.key_of(a) == mine_key],
                                      preferred=customer.preferences.technician,
                                      away=away_of(index.leaves_between(req.date, req.date)))
                    if window_end is None or s.end <= window_end]
        with transaction(vault.root, "waitlist", lock=BOOKING):
            if is_new:
                customer = store.create_record(vault.root, settings, customer, index.customers.keys())
            entry = WaitlistEntry.model_validate({
                "候补编号": "", "客户": customer.name, "客户编号": customer.id, "客户档案": customer.link,
                "联系方式": req.phone or customer.phone, "服务项目": service, "日期": req.date,
                "最早": req.earliest, "最晚": req.latest, "技师": req.technician, "状态": WaitlistStatus.WAITING,
                "创建时间": now, "创建人": operator_name(req.operator, settings),
            })
            entry = store.create_record(vault.root, settings, entry, index.waitlist.keys(), year=now.year)
    return Added(entry, customer, is_new, free_now[:3])


def entries(index: VaultIndex, *, show_all: bool = False, day: dt.date | None = None) -> list[WaitlistEntry]:
    """The entries still waiting (every entry with `show_all`), by date, window and age."""
    found = [w for w in index.waitlist.values() if (show_all or w.is_open) and (day is None or w.date == day)]
    return sorted(found, key=lambda w: (w.date or dt.date.max, w.earliest or dt.time(0),
                                        w.created_at or dt.datetime.min, w.id))


def remove_entry(root: Path, entry_id: str, *, operator: str | None = None, now: dt.datetime | None = None,
                 load: Loader = load_vault) -> tuple[WaitlistEntry, bool]:
    """Mark an entry 已取消 (the note stays, as a record of who asked); False when it was closed already."""
    vault = load(root)
    entry = find_entry(vault.index, entry_id)
    if not entry.is_open:
        return entry, False
    when = now or vault.settings.now()
    line = lifecycle.entry(when, "移出候补", operator_name(operator, vault.settings))
    store.update_record(root, entry, {("状态",): WaitlistStatus.CANCELLED}, append={("通知记录",): [line]},
                        loaded=vault.loaded_stamp(entry))
    return entry, True


# -- hooks for the commands that book or free time (run inside their transaction) -------------------
def close_for(vault: Vault, appointment: Appointment, customer: Customer, now: dt.datetime,
              operator: str) -> list[WaitlistEntry]:
    """The open entries this booking fulfils (same customer, service and date), marked 已预约."""
    index = vault.index
    key = customer.id or index.customer_key(None, customer.name, customer.phone)
    closed = []
    for entry in index.waiting_on(appointment.info.date):
        if entry.service != appointment.service.service:
            continue
        if index.customer_key(entry.customer_id, entry.customer_name, entry.phone) != key:
            continue
        line = lifecycle.entry(now, f"已预约 {appointment.id} {appointment.start:%m-%d %H:%M}", operator)
        store.update_record(vault.root, entry, {("状态",): WaitlistStatus.BOOKED, ("关联预约",): appointment.id},
                            append={("通知记录",): [line]}, loaded=vault.loaded_stamp(entry))
        closed.append(entry)
    return closed


def offer_freed(vault: Vault, day: dt.date, before: list[Appointment], after: list[Appointment], *,
                now: dt.datetime, cause: str, away_before: Iterable[Away] | None = None,
                away_after: Iterable[Away] | None = None, freed_by: Iterable[str] = ()) -> list[Offer]:
    """Offer the time a change frees on `day` to the waiting customers, and record each offer on its entry."""
    index = vault.index
    waiting = index.waiting_on(day)
    if not waiting:
        return []
    current = away_of(index.leaves_between(day, day))
    mine, preferred = {}, {}
    for entry in waiting:
        key = index.customer_key(entry.customer_id, entry.customer_name, entry.phone)
        mine[entry.id] = [a for a in after if key and index.key_of(a) == key]
        profile = index.customers.get(entry.customer_id or "")
        preferred[entry.id] = profile.preferences.technician if profile else None
    found = offers(waiting, day, before, after, vault.settings,
                   away_before=current if away_before is None else away_before,
                   away_after=current if away_after is None else away_after,
                   now=now, mine=mine, preferred=preferred, freed_by=freed_by)
    for offer in found:
        slot = offer.slot
        line = f"{now:%Y-%m-%d %H:%M} 可约 {slot.start:%m-%d %H:%M}" + (f" {slot.technician}" if slot.technician else "") \
            + f"（{cause}）"
        store.update_record(vault.root, offer.entry,
                            {("可约时间",): slot.start, ("可约技师",): slot.technician, ("通知时间",): now},
                            append={("通知记录",): [line]}, loaded=vault.loaded_stamp(offer.entry))
    return found


__all__ = ["Added", "WaitlistRequest", "add_entry", "close_for", "entries", "find_entry", "offer_freed",
           "remove_entry"]
