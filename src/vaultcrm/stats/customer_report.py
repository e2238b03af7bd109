"""`report customers`: who comes how often, who is slipping away, who books again. Pure.

Segments are the studio's own (高频刚需客, 潜力客户, 流失预警 …) exactly as `customers/segments.py` tags the
profiles, so the report and the tags never disagree. RFM scores rank the customers who were served
at least once: recency (days since the last service), frequency (services) and monetary (服务费用),
each 1–5 by quintile, 5 best; equal values share a score (their middle rank decides it).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

from ..core.config import Settings
from ..core.index import VaultIndex
from ..customers.segments import Segment, segments_of, visit_stats
from ..models import ServiceRecord
from ..values import AppointmentStatus
from .figures import Ledger, percent
from .periods import Month
from .reports import REBOOK_DAYS, Column, Report, Table

CUSTOMER_COLUMNS = (Column("客户"), Column("客户编号"), Column("本月到店", "int"), Column("最近到店"),
                    Column("累计到店", "int"), Column("累计消费", "money"), Column("R", "int"), Column("F", "int"),
                    Column("M", "int"), Column("分群"))


def quintile_scores(values: dict[str, float]) -> dict[str, int]:
    """Each key's 1–5 score by where its value stands among all (higher value, higher score).

    The score is 1 + ⌊5 × middle rank ÷ n⌋, the middle rank of a value being the number of smaller
    values plus half the number of equal ones: five distinct values score 1 to 5, all equal score 3.
    """
    ordered = sorted(values.values())
    n, counts, lower_of = len(ordered), Counter(ordered), {}
    for i, value in enumerate(ordered):
        lower_of.setdefault(value, i)
    return {key: 1 + 5 * (2 * lower_of[v] + counts[v]) // (2 * n) for key, v in values.items()}


def _rebooked(days_in_month: list[dt.date], later: list[dt.date]) -> bool:
    """A later appointment or service within REBOOK_DAYS after one of the month's services."""
    return any(d < e <= d + dt.timedelta(days=REBOOK_DAYS) for d in days_in_month for e in later)


def customer_report(index: VaultIndex, settings: Settings, month: Month, today: dt.date) -> Report:
    """Segments and RFM as of the month's last day (or today, inside the current month), rebook rate
    (customers served this month who booked or came again within 30 days) and retention rate
    (customers of the previous month who came again this month)."""
    ref = min(month.last_day, today)
    rules = settings.segments
    groups, _anonymous = Ledger(index).customer_services
    table = index.services
    apps_after: dict[str, list[dt.date]] = defaultdict(list)
    horizon = month.last_day + dt.timedelta(days=REBOOK_DAYS)
    for app in index.appointments_between(month.first_day, horizon):
        key = index.key_of(app)
        if key is not None and app.status is not AppointmentStatus.CANCELLED:
            apps_after[key].append(app.info.date)
    previous = month.previous()
    rows: list[dict] = []
    recency, frequency, monetary = {}, {}, {}
    served, retained, rebooked = 0, [0, 0], 0
    for key in sorted(set(groups) | set(index.customers)):
        services: list[ServiceRecord] = [table[i] for i in groups.get(key, ())]
        customer = index.customers.get(key)
        past = [s for s in services if s.basics.date <= ref]
        if customer is None and not past:
            continue
        stats = visit_stats(customer, services, rules, ref)
        days = [s.basics.date for s in past]
        this_month = [d for d in days if month.first_day <= d <= month.last_day]
        came_before = any(previous.first_day <= d <= previous.last_day for d in days)
        if came_before:
            retained[0] += 1
            retained[1] += bool(this_month)
        if this_month:
            served += 1
            rebooked += _rebooked(this_month, [s.basics.date for s in services] + apps_after.get(key, []))
        spend = sum((s.service.fee or Decimal(0) for s in past), Decimal(0))
        if past:
            recency[key] = -(ref - max(days)).days
            frequency[key] = len(past)
            monetary[key] = float(spend)
        name = customer.name if customer is not None and customer.name else (
            services[0].customer.customer_name if services else key)
        rows.append({"客户": name, "客户编号": customer.id if customer is not None else None,
                     "本月到店": len(this_month), "最近到店": max(days).isoformat() if days else None,
                     "累计到店": len(past), "累计消费": spend, "_key": key,
                     "分群": "、".join(s.value for s in segments_of(stats, rules, ref)) or None})
    r, f, m = quintile_scores(recency), quintile_scores(frequency), quintile_scores(monetary)
    for row in rows:
        key = row.pop("_key")
        row.update({"R": r.get(key), "F": f.get(key), "M": m.get(key)})
    rows.sort(key=lambda row: (-row["本月到店"], -row["累计消费"], row["客户"] or ""))
    segment_counts = {s.value: sum(1 for row in rows if s.value in (row["分群"] or "").split("、")) for s in Segment}
    summary = {"客户数": len(rows), "本月到店客户": served, "分群": segment_counts,
               "复购率": percent(rebooked, served), "留存率": percent(retained[1], retained[0])}
    return Report("客户分析", month, [Table("客户", CUSTOMER_COLUMNS, rows)], summary)


__all__ = ["CUSTOMER_COLUMNS", "customer_report", "quintile_scores"]
