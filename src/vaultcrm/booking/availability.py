"""`free`: the bookable starts for a service, across technicians and days, earliest first.

The search is `slots.openings` day by day: the 10-minute grid walked with the very predicate `place`
applies (hours, 休息日, skills, rooms and the services they serve, the buffer, the customer's own
appointments, starts already past). So every start it offers is one `book` accepts with the same date,
time, service and technician, and every start `book` accepts on the grid is offered. Pure: records,
settings and the query in, rows out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.config import Settings
from ..core.index import VaultIndex
from ..customers.resolve import new_customer, resolve_customer
from ..errors import VaultCRMError
from ..models import Appointment, Customer
from .absence import Away, away_of
from .safety import brief
from .slots import Slot, blocking, check_names, openings, skill_problem

MAX_DAYS = 92  # a quarter ahead is as far as a front desk looks


@dataclass(frozen=True)
class FreeQuery:
    service: str
    first: dt.date
    days: int = 1
    technician: str | None = None
    after: dt.time | None = None  # starts at or after
    before: dt.time | None = None  # starts before
    limit: int | None = None  # None: every start


@dataclass
class Availability:
    query: FreeQuery
    minutes: int
    slots: list[Slot]
    customer: Customer | None = None
    warnings: list[str] = field(default_factory=list)  # what `book` would need --force for, whatever the time

    @property
    def last(self) -> dt.date:
        return self.query.first + dt.timedelta(days=self.query.days - 1)


def candidates(settings: Settings, service: str, technician: str | None, preferred: str | None = None) -> list[str | None]:
    """Whom to search: the one asked for, else the configured technicians with the skill (the preferred one
    first), else — with no technicians configured — the slot without a technician."""
    if technician:
        return [technician]
    names = [n for n in settings.technicians if not skill_problem(n, service, settings)]
    if preferred in names:
        names.remove(preferred)
        names.insert(0, preferred)
    return names if settings.technicians else [None]


def check_query(query: FreeQuery, settings: Settings) -> None:
    check_names(query.service, query.technician, None, settings)
    problem = skill_problem(query.technician, query.service, settings)
    if problem:
        raise VaultCRMError(problem)
    if not 1 <= query.days <= MAX_DAYS:
        raise VaultCRMError(f"天数应在 1–{MAX_DAYS} 之间")


def search(query: FreeQuery, appointments: Iterable[Appointment], settings: Settings, *,
           now: dt.datetime | None = None, mine: Iterable[Appointment] = (),
           preferred: str | None = None, away: Iterable[Away] = ()) -> list[Slot]:
    """The bookable starts for the query, earliest first (at one time, technicians in search order).

    `appointments` are those of the days searched (others are ignored), `mine` the customer's own,
    `away` the technicians' leave.
    """
    away = list(away)
    check_query(query, settings)
    minutes = settings.service_duration(query.service)
    by_day: dict[dt.date, list[Appointment]] = defaultdict(list)
    for a in appointments:
        by_day[a.info.date].append(a)
    own: dict[dt.date, list[Appointment]] = defaultdict(list)
    for a in mine:
        own[a.info.date].append(a)
    technicians = candidates(settings, query.service, query.technician, preferred)
    found: list[Slot] = []
    for offset in range(query.days):
        day = query.first + dt.timedelta(days=offset)
        if now is not None and day < now.date():
            continue
        for slot in openings(day, minutes, query.service, blocking(by_day[day], day), settings, technicians,
                             now=now, mine=blocking(own[day], day), away=away):
            t = slot.start.time()
            if (query.after is None or t >= query.after) and (query.before is None or t < query.before):
                found.append(slot)
                if query.limit is not None and len(found) >= query.limit:
                    return found
    return found


def customers_own(index: VaultIndex, customer: Customer, appointments: list[Appointment]) -> list[Appointment]:
    """The customer's own among `appointments` (a profile's by its key; a new customer's by name and phone)."""
    key = customer.id or index.customer_key(None, customer.name, customer.phone)
    return [a for a in appointments if key and index.key_of(a) == key]


def find_free(index: VaultIndex, settings: Settings, query: FreeQuery, *, customer: str | None = None,
              now: dt.datetime | None = None) -> Availability:
    """`free` over a loaded vault: the days' appointments and, with `customer`, their own ones and what
    staff would have to override to book them at all."""
    check_query(query, settings)
    last = query.first + dt.timedelta(days=query.days - 1)
    appointments = index.appointments_between(query.first, last)
    profile, mine, warnings = None, [], []
    if customer:
        found = resolve_customer(index, customer)
        profile = found or new_customer(customer)
        mine = customers_own(index, profile, appointments)
        if found is not None:
            warnings = brief(found, index.history(found.id), query.service, settings,
                             (now or settings.now()).date()).refusals()
    slots = search(query, appointments, settings, now=now, mine=mine,
                   preferred=profile.preferences.technician if profile else None,
                   away=away_of(index.leaves_between(query.first, last)))
    return Availability(query, settings.service_duration(query.service), slots, profile, warnings)


__all__ = ["Availability", "FreeQuery", "MAX_DAYS", "candidates", "check_query", "customers_own", "find_free", "search"]
