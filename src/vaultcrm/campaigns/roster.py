"""A campaign as its note keeps it: what it offers, and one row per customer with the coupon and its send state.

The note's frontmatter holds the campaign (活动编号, 优惠内容, 有效期至 …); its 活动名单 table, between
vaultcrm's markers, is the roster itself: a user reads it in Obsidian, and vaultcrm reads it back.
A table, not a property, because a campaign may list ten thousand customers: a table row is one line
to read and write, while a nested property of that size costs seconds to edit in place. A row's
状态 may be changed by hand (to 跳过, say, to keep a customer out); the other columns are vaultcrm's.
Pure: text in, rows out, and back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..values import ChoiceEnum, parse_date, parse_datetime
from .coupons import CODE_PATTERN
from .offers import Offer, parse_offer

BLOCK = "活动名单"
ID_KEY = "活动编号"
BIRTHDAY_ID = "生日关怀"  # the standing campaign's 活动编号 and file name
COLUMNS = ("优惠券", "客户编号", "客户", "发券日期", "有效期至", "状态", "发送时间", "已发送至", "说明")
SKIP_NO_CONSENT = "未授权营销"
SKIP_REFUSED = "拒绝营销"
SKIP_NO_PHONE = "无联系方式"


class SendStatus(ChoiceEnum):
    """发送状态 — whether a customer's campaign message waits, went out, or is not to be sent."""

    PENDING = "待发送"
    SENT = "已发送"
    SKIPPED = "跳过"

    @classmethod
    def aliases(cls):
        return {"pending": cls.PENDING, "sent": cls.SENT, "skipped": cls.SKIPPED, "skip": cls.SKIPPED,
                "不发送": cls.SKIPPED}


@dataclass
class Entry:
    """One customer of a campaign: the coupon handed to them and how the message went."""

    code: str
    customer_id: str
    customer: str  # the profile link (or name) as shown
    issued: dt.date
    valid_until: dt.date | None
    status: SendStatus = SendStatus.PENDING
    sent_at: dt.datetime | None = None
    sent_to: list[str] = field(default_factory=list)
    note: str | None = None  # why skipped, or what the row is for (a birthday)
    # live facts for composing the message, never written: the customer's name and phone
    name: str | None = None
    phone: str | None = None


@dataclass
class Campaign:
    id: str
    name: str
    offer: Offer
    created: dt.datetime
    valid_until: dt.date | None = None
    segment: str | None = None
    tags: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)  # labels chosen with --channel; empty: the default ones
    created_by: str | None = None
    standing: bool = False  # the birthday campaign: rows are added over time
    entries: dict[str, Entry] = field(default_factory=dict)  # by code

    @property
    def link(self) -> str:
        return f"[[{self.id}]]"

    def rows(self) -> list[Entry]:
        return list(self.entries.values())

    def counts(self) -> dict[str, int]:
        rows = self.rows()
        return {"目标客户": len(rows), "已发送": sum(e.status is SendStatus.SENT for e in rows),
                "待发送": sum(e.status is SendStatus.PENDING for e in rows),
                "跳过": sum(e.status is SendStatus.SKIPPED for e in rows)}

    def metadata(self) -> dict:
        """The frontmatter, key by key, as the note holds it."""
        return {ID_KEY: self.id, "活动名称": self.name, "活动类型": "常设" if self.standing else "单次",
                "目标分群": self.segment, "目标标签": list(self.tags), "优惠内容": self.offer.text,
                "优惠方式": self.offer.kind, "有效期至": self.valid_until, "发送渠道": list(self.channels),
                "创建时间": self.created, "创建人": self.created_by}


def campaign_from(meta: dict, where: str) -> Campaign:
    """The campaign of a note's frontmatter; ValueError (in Chinese) naming what is wrong."""
    campaign_id = str(meta.get(ID_KEY) or "").strip()
    if not campaign_id:
        raise ValueError(f"{where}：缺少 {ID_KEY}")
    try:
        offer = parse_offer(meta.get("优惠内容"))
        created = parse_datetime(meta.get("创建时间"))
        valid_until = parse_date(meta.get("有效期至"))
    except ValueError as exc:
        raise ValueError(f"{where}：{exc}") from None
    if created is None:
        raise ValueError(f"{where}：缺少 创建时间")
    tags = meta.get("目标标签") or []
    channels = meta.get("发送渠道") or []
    return Campaign(campaign_id, str(meta.get("活动名称") or campaign_id), offer, created, valid_until,
                    str(meta["目标分群"]) if meta.get("目标分群") else None,
                    [str(t) for t in (tags if isinstance(tags, list) else [tags])],
                    [str(c) for c in (channels if isinstance(channels, list) else [channels])],
                    str(meta["创建人"]) if meta.get("创建人") else None, meta.get("活动类型") == "常设")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _blank(cell: str) -> bool:
    return cell in ("", "-", "—")


def parse_rows(text: str, first_line: int, where: str) -> list[Entry]:
    """The roster table's rows; `first_line` is the file line `text` starts on (for messages)."""
    entries = []
    for offset, line in enumerate(text.splitlines()):
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        if cells[0] in (COLUMNS[0], "") or set(cells[0]) <= set("-: "):
            continue  # header and rule
        at = f"{where}:{first_line + offset}"
        if len(cells) != len(COLUMNS):
            raise ValueError(f"{at}: 活动名单的这一行应有 {len(COLUMNS)} 列（{'、'.join(COLUMNS)}），现有 {len(cells)} 列")
        code, customer_id, customer, issued, valid, status, sent_at, sent_to, note = cells
        if not CODE_PATTERN.match(code):
            raise ValueError(f"{at}: 优惠券码「{code}」格式不对（应如 K7MX-3QPD）")
        try:
            entry = Entry(code, customer_id, customer, parse_date(issued), None if _blank(valid) else parse_date(valid),
                          SendStatus.parse(status) or SendStatus.PENDING,
                          None if _blank(sent_at) else parse_datetime(sent_at),
                          [] if _blank(sent_to) else [s.strip() for s in sent_to.split("、") if s.strip()],
                          None if _blank(note) else note)
        except ValueError as exc:
            raise ValueError(f"{at}: {exc}") from None
        if entry.issued is None:
            raise ValueError(f"{at}: 缺少 发券日期")
        entries.append(entry)
    return entries


__all__ = ["BIRTHDAY_ID", "BLOCK", "COLUMNS", "Campaign", "Entry", "ID_KEY", "SKIP_NO_CONSENT", "SKIP_NO_PHONE",
           "SKIP_REFUSED", "SendStatus", "campaign_from", "parse_rows"]
