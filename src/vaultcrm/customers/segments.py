"""Customer segments (客户分群): the tags vaultcrm keeps in each profile's `标签`.

The studio sorts its customers by how often and how recently they come and how much they spend:
高频刚需客 (two or more visits a month), 潜力客户 (about one a month), 流失预警 (came before, not in
the last 90 days), 新客户 (first visit in the last 30 days), 高价值客户 (spent ¥3000 or more in the
last 12 months). Thresholds live in the config's `客户分群`. A visit is a service record (SRV) dated
on or before the day looked at; a profile's `首次到店` counts as a visit too (for customers brought
over from an old system). Only these five tags are vaultcrm's: a user's own tags, and their order, are
never touched. Pure functions: a customer and their services in, figures and tags out.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from ..core.config import SegmentRules
from ..core.index import Visit, visits_of
from ..models import Customer, ServiceRecord
from ..values import ChoiceEnum

DAYS_PER_MONTH = 30


class Segment(ChoiceEnum):
    """客户分群 — the automatic tags."""

    FREQUENT = "高频刚需客"
    POTENTIAL = "潜力客户"
    CHURN_RISK = "流失预警"
    NEW = "新客户"
    HIGH_VALUE = "高价值客户"

    @classmethod
    def aliases(cls):
        return {"frequent": cls.FREQUENT, "高频": cls.FREQUENT, "potential": cls.POTENTIAL, "潜力": cls.POTENTIAL,
                "churn-risk": cls.CHURN_RISK, "churn": cls.CHURN_RISK, "流失": cls.CHURN_RISK, "new": cls.NEW,
                "high-value": cls.HIGH_VALUE, "高价值": cls.HIGH_VALUE, "vip": cls.HIGH_VALUE}


MANAGED_TAGS = frozenset(s.value for s in Segment)


@lru_cache(maxsize=8192)  # a list of every customer asks this for each visit; a vault has few distinct days
def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier); the 31st becomes the month's last day."""
    n = day.year * 12 + day.month - 1 + months
    year, month = n // 12, n % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def past_visits(visits: list[Visit], today: dt.date) -> list[Visit]:
    """Dated visits on or before `today`, oldest first (an undated one cannot be placed in time)."""
    return sorted((v for v in visits if v.date and v.date <= today), key=lambda v: v.date)


def spend_since(visits: list[Visit], since: dt.date, today: dt.date) -> Decimal:
    """服务费用 of the visits dated after `since`, up to `today`."""
    return sum((v.fee or Decimal(0) for v in visits if v.date and since < v.date <= today), Decimal(0))


@dataclass(frozen=True)
class VisitStats:
    visits: int  # all services up to today
    first_visit: dt.date | None
    last_visit: dt.date | None
    recent_visits: int  # within the averaging window
    per_month: float  # recent visits per month
    spend_total: Decimal
    spend_recent: Decimal  # within 高价值统计月数


def visit_stats(customer: Customer | None, services: list[ServiceRecord], rules: SegmentRules,
                today: dt.date) -> VisitStats:
    """How often, how recently and how much. The monthly average is taken over the window (统计月数),
    or over the time since the first visit when that is shorter, but never less than one month, so
    a newcomer who came twice in two weeks already counts as frequent."""
    return visit_stats_from(customer, visits_of(services), rules, today)


def visit_stats_from(customer: Customer | None, visits: list[Visit], rules: SegmentRules,
                     today: dt.date) -> VisitStats:
    """`visit_stats` of the visits (`VaultIndex.visits_of`, which builds no model)."""
    past = past_visits(visits, today)
    dates = [v.date for v in past]
    if customer is not None and customer.first_visit and customer.first_visit <= today:
        dates.append(customer.first_visit)
    first = min(dates) if dates else None
    last = max(dates) if dates else None
    window = rules.window_months * DAYS_PER_MONTH
    recent = sum(1 for v in past if (today - v.date).days < window)
    span = min(window, max(DAYS_PER_MONTH, (today - first).days + 1)) if first else window
    spend_since_day = add_months(today, -rules.high_value_months)
    return VisitStats(
        visits=len(past),
        first_visit=first,
        last_visit=last,
        recent_visits=recent,
        per_month=recent * DAYS_PER_MONTH / span if span else 0.0,
        spend_total=sum((v.fee or Decimal(0) for v in past), Decimal(0)),
        spend_recent=spend_since(past, spend_since_day, today),
    )


def segments_of(stats: VisitStats, rules: SegmentRules, today: dt.date) -> list[Segment]:
    """The segments a customer falls in, in the order of `Segment` (several may apply)."""
    found: list[Segment] = []
    if stats.recent_visits and stats.per_month >= rules.frequent_per_month:
        found.append(Segment.FREQUENT)
    elif stats.recent_visits and stats.per_month >= rules.potential_per_month:
        found.append(Segment.POTENTIAL)
    if stats.last_visit and (today - stats.last_visit).days >= rules.churn_days:
        found.append(Segment.CHURN_RISK)
    if stats.first_visit and (today - stats.first_visit).days < rules.new_days:
        found.append(Segment.NEW)
    if rules.high_value_spend is not None and stats.spend_recent >= rules.high_value_spend and stats.spend_recent > 0:
        found.append(Segment.HIGH_VALUE)
    return found


def merge_tags(existing: list[str], segments: list[Segment]) -> list[str]:
    """The profile's tags with vaultcrm's brought up to date: the user's tags stay where they are,
    a segment tag that no longer applies goes, a new one is added at the end."""
    wanted = [s.value for s in segments]
    kept = [t for t in existing if t not in MANAGED_TAGS or t in wanted]
    return kept + [t for t in wanted if t not in kept]


__all__ = ["MANAGED_TAGS", "Segment", "VisitStats", "add_months", "merge_tags", "past_visits", "segments_of",
           "spend_since", "visit_stats", "visit_stats_from"]
