"""`report campaigns`: each campaign running in the month, with campaigns/figures.py's figures.

A campaign counts in month M when it was made on or before M's last day and its coupons were still
valid on M's first day. The standing birthday campaign is reported by the coupons it issued in M.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ..campaigns.figures import CampaignFigures, figures, redemptions, visits_by_customer
from ..campaigns.notes import all_campaigns
from ..core.config import Settings
from ..core.index import VaultIndex
from .figures import percent
from .periods import Month
from .reports import Column, Report, Table

COLUMNS = (Column("活动编号"), Column("活动名称"), Column("目标分群"), Column("优惠内容"), Column("有效期至"),
           Column("发券数", "int"), Column("触达人数", "int"), Column("发送消息数", "int"), Column("跳过", "int"),
           Column("核销数", "int"), Column("核销率", "percent"), Column("核销营业额", "money"),
           Column("回流客户", "int"))


def _running(campaign, month: Month) -> bool:
    if campaign.created.date() > month.last_day:
        return False
    return campaign.valid_until is None or campaign.valid_until >= month.first_day


def _row(f: CampaignFigures) -> dict:
    c = f.campaign
    return {"活动编号": c.id, "活动名称": c.name, "目标分群": c.segment or "、".join(c.tags) or None,
            "优惠内容": c.offer.text, "有效期至": c.valid_until.isoformat() if c.valid_until else None,
            "发券数": f.issued, "触达人数": f.reached, "发送消息数": f.messages, "跳过": f.skipped,
            "核销数": f.redeemed, "核销率": f.redemption_rate, "核销营业额": f.revenue, "回流客户": f.reactivated}


def campaign_report(root: Path, settings: Settings, index: VaultIndex, month: Month) -> Report:
    redeemed, visits = redemptions(index), visits_by_customer(index)
    found = []
    for note in all_campaigns(root, settings):
        c = note.campaign
        if c.standing:
            rows = [e for e in c.rows() if month.first_day <= e.issued <= month.last_day]
            if rows:
                found.append(figures(c, rows, redeemed, visits))
        elif _running(c, month):
            found.append(figures(c, c.rows(), redeemed, visits))
    rows = [_row(f) for f in found]
    issued = sum(f.issued for f in found)
    churn = [f.reactivated for f in found if f.reactivated is not None]
    total = {"活动编号": "合计", "发券数": issued, "触达人数": sum(f.reached for f in found),
             "发送消息数": sum(f.messages for f in found), "跳过": sum(f.skipped for f in found),
             "核销数": sum(f.redeemed for f in found),
             "核销率": percent(sum(f.redeemed for f in found), issued),
             "核销营业额": sum((f.revenue for f in found), Decimal(0)), "回流客户": sum(churn) if churn else None}
    return Report("营销活动效果", month, [Table("活动", COLUMNS, rows, total if rows else None)])


__all__ = ["campaign_report"]
