"""候补 matching: which waiting customers can take the time a cancellation, reschedule, no-show or leave frees.

Pure: the day's appointments before and after the change, the open entries, settings and leave in;
offers out. Time "frees up" exactly where `book` would now accept a start it refused before: both
sides are searched with `slots.openings`, the very predicate `book` and `free` use, so every offer is a
slot `book` accepts with the same date, time, service and technician. An entry takes the earliest such
start whose service fits inside its window (最早 … 最晚) with its technician (or any with the skill, the
customer's preferred one first). Entries are offered in the order they were made; two customers may be
offered the same slot: whoever the front desk reaches first books it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core.config import Settings
from ..models import Appointment, WaitlistEntry
from .absence import Away
from .availability import candidates
from .slots import Slot, blocking, openings


@dataclass(frozen=True)
class Offer:
    entry: WaitlistEntry
    slot: Slot

    def describe(self) -> str:
        """`张三 12-01 14:00 李师傅 全身推拿（WL-2026-003）`: who to call, for what."""
        who = " ".join(x for x in (self.entry.customer_name or self.entry.customer_id or "未填写姓名",
                                   f"{self.slot.start:%m-%d %H:%M}", self.slot.technician,
                                   self.entry.service) if x)
        return f"{who}（{self.entry.id}）"


def offers(entries: Iterable[WaitlistEntry], day: dt.date, before: list[Appointment], after: list[Appointment],
           settings: Settings, *, away_before: Iterable[Away] = (), away_after: Iterable[Away] = (),
           now: dt.datetime | None = None, mine: Mapping[str, list[Appointment]] | None = None,
           preferred: Mapping[str, str | None] | None = None, freed_by: Iterable[str] = ()) -> list[Offer]:
    """For each open entry of `day`, the earliest start bookable `after` the change but not `before` it.

    `mine` maps an entry's ID to its customer's own appointments that day, `preferred` to their
    preferred technician. `freed_by` are the technicians whose time the change freed: with no
    technicians configured, they are the ones searched (a vault adopted as it is names anyone).
    """
    away_before, away_after = list(away_before), list(away_after)
    freed = [t for t in dict.fromkeys(freed_by) if t]
    found = []
    for entry in entries:
        window = entry.window()
        if not entry.is_open or entry.date != day or not entry.service or window is None:
            continue
        own = blocking((mine or {}).get(entry.id, []), day)
        if entry.technician:
            technicians: list[str | None] = [entry.technician]
        elif settings.technicians:
            technicians = candidates(settings, entry.service, None, (preferred or {}).get(entry.id))
        else:
            technicians = list(freed) or [None]
        minutes = settings.service_duration(entry.service)

        def search(appointments: list[Appointment], away: list[Away]) -> list[Slot]:
            return [s for s in openings(day, minutes, entry.service, blocking(appointments, day), settings,
                                        technicians, now=now, mine=own, away=away)
                    if window[0] <= s.start and s.end <= window[1]]

        was_open = {(s.start, s.technician) for s in search(before, away_before)}
        new = [s for s in search(after, away_after) if (s.start, s.technician) not in was_open]
        if new:
            found.append(Offer(entry, new[0]))
    return found


__all__ = ["Offer", "offers"]
