"""What staff must know before a customer is booked: allergies, contraindications, no-shows, memory.

An allergy to 艾草 and a service whose materials hold 艾草, or 孕期 against a service whose
contraindications list 孕期, refuse the booking unless it is forced; so do too many no-shows in the
last twelve months. Matching is by substring both ways ("艾" catches 艾条, "艾草过敏" catches 艾草)
because profiles are typed by hand. 服务记忆 is what the last service taught: its cautions, the
adjustments made and the advice given. Pure: a customer, their history and the catalogue in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..core.config import ServiceConfig, Settings
from ..core.index import CustomerHistory
from ..customers.history import no_show_count, service_memory
from ..models import Customer, ServiceRecord

# What people write to mean "nothing": never matched against materials.
_NOTHING = frozenset({"无", "没有", "暂无", "否", "不详", "未知", "none", "no", "n/a", "-", "—"})


@dataclass
class Briefing:
    allergies: list[str] = field(default_factory=list)
    contraindications: list[str] = field(default_factory=list)
    hazards: list[str] = field(default_factory=list)  # a profile entry meeting the service's materials or 禁忌
    no_shows: int = 0
    no_show_limit: int = 0
    memory: list[tuple[str, str]] = field(default_factory=list)  # (label, text) from the last service
    last_service: ServiceRecord | None = None

    @property
    def too_many_no_shows(self) -> bool:
        return self.no_show_limit > 0 and self.no_shows >= self.no_show_limit

    def refusals(self) -> list[str]:
        """Why the booking needs --force (empty when it does not)."""
        found = list(self.hazards)
        if self.too_many_no_shows:
            found.append(f"近 12 个月未到店 {self.no_shows} 次（上限 {self.no_show_limit} 次）")
        return found

    @property
    def is_empty(self) -> bool:
        return not (self.allergies or self.contraindications or self.no_shows or self.memory)


def _meaningful(items: list[str]) -> list[str]:
    return [i.strip() for i in items if i and i.strip() and i.strip().lower() not in _NOTHING]


def _overlaps(a: str, b: str) -> bool:
    return a in b or b in a


def hazards(customer: Customer | None, service: str | None, conf: ServiceConfig | None) -> list[str]:
    """Each profile entry (过敏史, 禁忌事项) that meets the service's 材料 or 禁忌."""
    if customer is None or conf is None:
        return []
    found = []
    for label, entries in (("过敏史", customer.health.allergies), ("禁忌事项", customer.health.contraindications)):
        for entry in _meaningful(entries):
            for kind, items in (("材料", conf.materials), ("禁忌", conf.contraindications)):
                for item in _meaningful(items):
                    if _overlaps(entry, item):
                        found.append(f"{label}「{entry}」与 {service} 的{kind}「{item}」相符")
    return found


def brief(customer: Customer | None, history: CustomerHistory | None, service: str | None,
          settings: Settings, today: dt.date) -> Briefing:
    """Everything the front desk and the technician should read before the customer arrives."""
    past = [s for s in (history.services if history else []) if s.basics.date is None or s.basics.date <= today]
    last = past[-1] if past else None
    return Briefing(
        allergies=_meaningful(customer.health.allergies) if customer else [],
        contraindications=_meaningful(customer.health.contraindications) if customer else [],
        hazards=hazards(customer, service, settings.services.get(service or "")),
        no_shows=no_show_count(history, today),
        no_show_limit=settings.no_show_limit,
        memory=service_memory(last),
        last_service=last,
    )


__all__ = ["Briefing", "brief", "hazards"]
