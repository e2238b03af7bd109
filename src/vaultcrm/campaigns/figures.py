"""How a campaign did: reach, messages, redemptions, revenue and customers won back. Pure.

- 发券数: customers listed (each holds a coupon). 触达人数: customers messaged (已发送).
- 发送消息数: deliveries (a customer reached on two channels counts twice). 跳过: not messaged (no consent…).
- 核销数: SRV notes carrying one of the campaign's codes; 核销率 = 核销数 ÷ 发券数.
- 核销营业额: the 服务费用 of those visits (after the discount).
- 回流客户 (流失预警 campaigns only): listed customers with any visit (SRV) dated from the day their
  coupon was issued to its 有效期至 — whether or not they used the coupon.
For the standing birthday campaign, `rows` is the part of it being reported (a month's coupons).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ..core.index import VaultIndex
from ..customers.segments import Segment
from ..models import ServiceRecord
from .roster import Campaign, Entry, SendStatus


@dataclass(frozen=True)
class CampaignFigures:
    campaign: Campaign
    issued: int
    reached: int
    messages: int
    skipped: int
    redeemed: int
    revenue: Decimal
    reactivated: int | None  # None: not a 流失预警 campaign

    @property
    def redemption_rate(self) -> float | None:
        if not self.issued:
            return None
        return float((Decimal(self.redeemed * 100) / self.issued).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def redemptions(index: VaultIndex) -> dict[str, ServiceRecord]:
    """Coupon code → the SRV that redeemed it (the first, should a hand edit have doubled one)."""
    found: dict[str, ServiceRecord] = {}
    for code, ids in index.services.dates("service", "coupon").items():
        found[code] = index.services[sorted(ids)[0]]
    return found


def visits_by_customer(index: VaultIndex) -> dict[str, list[dt.date]]:
    table: dict[str, list[dt.date]] = defaultdict(list)
    for day, ids in index.services.dates("basics", "date").items():
        for service_id in ids:
            key = index.key_of(index.services[service_id])
            if key is not None:
                table[key].append(day)
    return table


def figures(campaign: Campaign, rows: list[Entry], redeemed: dict[str, ServiceRecord],
            visits: dict[str, list[dt.date]]) -> CampaignFigures:
    used = [redeemed[e.code] for e in rows if e.code in redeemed]
    churn = campaign.segment == Segment.CHURN_RISK.value
    back = None
    if churn:
        back = sum(1 for e in rows if any(e.issued <= d <= (e.valid_until or dt.date.max)
                                          for d in visits.get(e.customer_id, ())))
    return CampaignFigures(
        campaign, issued=len(rows), reached=sum(e.status is SendStatus.SENT for e in rows),
        messages=sum(len(e.sent_to) for e in rows), skipped=sum(e.status is SendStatus.SKIPPED for e in rows),
        redeemed=len(used), revenue=sum((s.service.fee or Decimal(0) for s in used), Decimal(0)), reactivated=back)


__all__ = ["CampaignFigures", "figures", "redemptions", "visits_by_customer"]
