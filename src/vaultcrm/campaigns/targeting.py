"""Who a campaign is for, and who of them may be messaged. Pure: the index and settings in, customers out.

A segment is worked out afresh from each customer's visits (customers/segments.py), the same way
`customer segment` writes the tags, so a campaign never depends on when the tags were last refreshed;
`--tag` narrows to profiles carrying that tag. Forgotten customers (customer forget, purge) are nobody's
target. Marketing needs the customer's recorded yes (授权同意.营销: 是): no answer is not consent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..core.config import Settings
from ..core.index import VaultIndex
from ..customers.segments import Segment, segments_of, visit_stats
from ..models import Customer
from ..models.customer import is_forgotten
from .roster import SKIP_NO_CONSENT, SKIP_NO_PHONE, SKIP_REFUSED

ALL = "全部"
ALL_ALIASES = {"全部", "所有", "all", "everyone"}


@dataclass(frozen=True)
class Target:
    customer: Customer
    skip: str | None  # why this customer is not messaged, None when they may be


def parse_segment(text: str | None) -> str | None:
    """A segment's Chinese name (or ALL); ValueError listing the choices."""
    if text is None:
        return None
    if text.strip().lower() in ALL_ALIASES:
        return ALL
    try:
        return Segment.parse(text).value
    except ValueError:
        raise ValueError(f"未知的客户分群「{text}」，可选：{'、'.join(s.value for s in Segment)}、{ALL}") from None


def marketing_block(customer: Customer) -> str | None:
    """Why the customer must not get a marketing message, None when they may."""
    if customer.consent.marketing is False:
        return SKIP_REFUSED
    if customer.consent.marketing is not True:
        return SKIP_NO_CONSENT
    if not customer.phone:
        return SKIP_NO_PHONE
    return None


def select(index: VaultIndex, settings: Settings, segment: str | None, tags: list[str], today: dt.date) -> list[Target]:
    """The customers in `segment` (all with ALL or None) carrying every tag of `tags`, by 客户编号."""
    histories = index.histories if segment not in (None, ALL) else {}
    found = []
    for customer in sorted(index.customers.values(), key=lambda c: c.id):
        if is_forgotten(customer) or any(t not in customer.tags for t in tags):
            continue
        if segment not in (None, ALL):
            history = histories.get(customer.id)
            stats = visit_stats(customer, history.services if history else [], settings.segments, today)
            if segment not in {s.value for s in segments_of(stats, settings.segments, today)}:
                continue
        found.append(Target(customer, marketing_block(customer)))
    return found


__all__ = ["ALL", "Target", "marketing_block", "parse_segment", "select"]
