"""Deliver a campaign's messages through the reminder channels: once per customer, whatever happens.

The same promises as `remind --send` (reminders/channels.py): each send has its channel's deadline,
carries a stable ID made from (campaign, coupon) for the receiver to drop repeats, and a failure
leaves the row 待发送 for the next run. Consent is looked at again right before each message: a
customer who withdrew it, or was forgotten, since the campaign was made is skipped, never messaged.
Chat bots and mailboxes reach the studio's staff, not a customer: they carry a campaign only when
their 仅限 names 营销活动 or 精准营销, or `--channel` picks them; webhooks and commands (an SMS
gateway) take it unless their 仅限/对象 keep it out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import ChannelType, ReminderChannel, Settings
from ..core.index import VaultIndex
from ..core.reminder_kinds import KINDS, Audience
from ..core.render import render
from ..errors import VaultCRMError
from ..models.customer import is_forgotten
from ..reminders.channels import DeliveryError, Message, accepts, transmit, wants_markdown
from ..reminders.rules import birthday_in
from ..vault.state import append_text
from .notes import CampaignNote, drop_sent_log, log_delivery, write_note
from .roster import Campaign, Entry, SendStatus
from .targeting import marketing_block

KIND = "营销活动"
FLUSH_EVERY = 1000  # deliveries between two rewrites of the note (the send log covers those between)
FLUSH_SECONDS = 30.0
LOG_PATH = ".vaultcrm/logs/campaign.log"
_STAFF_CHANNELS = frozenset({ChannelType.WECOM, ChannelType.DINGTALK, ChannelType.FEISHU, ChannelType.EMAIL})


@dataclass(frozen=True)
class _Probe:
    """What a channel's 仅限/对象 look at, for a campaign message."""

    kind: str = KIND
    group: str = KINDS[KIND].group
    audience: Audience = KINDS[KIND].audience


@dataclass
class Failure:
    entry: Entry
    channel: str
    reason: str


@dataclass
class SendReport:
    campaign: Campaign
    channels: list[str] = field(default_factory=list)
    sent: list[Entry] = field(default_factory=list)  # reached on this run
    skipped: list[Entry] = field(default_factory=list)  # found unable to be messaged on this run
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0


def campaign_channels(settings: Settings, chosen: list[str]) -> list[ReminderChannel]:
    """The channels a campaign goes through: those named (by 名称/类型), else the ones meant for customers."""
    channels = settings.reminders.channels
    if chosen:
        by_label = {c.label: c for c in channels}
        unknown = [name for name in chosen if name not in by_label]
        if unknown:
            known = "、".join(by_label) or "（未配置任何渠道）"
            raise VaultCRMError(f"未知的发送渠道「{'、'.join(unknown)}」，vaultcrm.yaml 提醒规则.发送渠道 中有：{known}")
        picked = [by_label[name] for name in chosen]
        staff = [c.label for c in picked if c.audience and Audience.CUSTOMER not in {Audience.parse(a) for a in c.audience}]
        if staff:
            raise VaultCRMError(f"发送渠道「{'、'.join(staff)}」的 对象 不含 客户，不能发送营销消息")
        return picked
    probe = _Probe()
    return [c for c in channels if accepts(c, probe)
            and (c.type not in _STAFF_CHANNELS or KIND in c.only or probe.group in c.only)]


def no_channel_message(settings: Settings) -> str:
    have = "、".join(c.label for c in settings.reminders.channels)
    return ("没有可发送营销消息的渠道：请在 vaultcrm.yaml 的 提醒规则.发送渠道 中配置 webhook 或 命令（如短信网关）渠道，"
            "或在企业微信/钉钉/飞书/邮件渠道的 仅限 中加入 营销活动；也可用 --channel 指定"
            + (f"（现有：{have}）" if have else ""))


def delivery_id(campaign: Campaign, code: str) -> str:
    """The same for every attempt of one customer's message, different for every other message."""
    return "vaultcrm-" + hashlib.sha256(f"{KIND}|{campaign.id}|{code}".encode()).hexdigest()[:24]


def compose(settings: Settings, root: Path, campaign: Campaign, entry: Entry, birthday: str | None,
            markdown: bool) -> Message:
    text = render("campaign_message.txt.j2", root / settings.folders.templates, studio=settings.studio,
                  campaign=campaign, customer_name=entry.name or "", code=entry.code, valid_until=entry.valid_until,
                  birthday=birthday, markdown=markdown).strip()
    return Message(text.split("\n", 1)[0].lstrip("# ").strip(), text)


def _fields(campaign: Campaign, entry: Entry) -> dict:
    return {"编号": entry.code, "提醒类型": KINDS[KIND].group, "提醒项": KIND,
            "到期时间": entry.valid_until.isoformat() if entry.valid_until else None,
            "提醒内容": f"{campaign.name}：{campaign.offer.text}", "关联客户": entry.name,
            "关联记录": entry.customer_id, "对象": Audience.CUSTOMER.value, "客户电话": entry.phone,
            "活动编号": campaign.id, "优惠券": entry.code}


def _refresh(entry: Entry, index: VaultIndex) -> str | None:
    """Fill in the customer's name and phone from the profile now; why not to message them, if so."""
    customer = index.customers.get(entry.customer_id)
    if customer is None:
        return "客户档案不存在"
    if is_forgotten(customer):
        return "客户已注销"
    entry.name, entry.phone = customer.name or customer.id, customer.phone
    return marketing_block(customer)


def _birthday_text(entry: Entry, index: VaultIndex) -> str | None:
    customer = index.customers.get(entry.customer_id)
    if customer is None or customer.birthday is None:
        return None
    day = birthday_in(customer.birthday, entry.issued.year)
    if day < entry.issued:
        day = birthday_in(customer.birthday, entry.issued.year + 1)
    return f"{day.month}月{day.day}日"


def send(root: Path, settings: Settings, index: VaultIndex, note: CampaignNote, channels: list[ReminderChannel],
         now: dt.datetime) -> SendReport:
    """Message every 待发送 customer of the campaign; the caller holds the campaign lock."""
    campaign = note.campaign
    report = SendReport(campaign, [c.label for c in channels])
    started = time.monotonic()
    labels = [c.label for c in channels]
    for entry in campaign.rows():  # deliveries a killed run logged but never wrote to the note
        if entry.status is SendStatus.PENDING and entry.sent_to and all(x in entry.sent_to for x in labels):
            entry.status, entry.sent_at = SendStatus.SENT, entry.sent_at or now
    unwritten, last_flush = 0, time.monotonic()
    for entry in campaign.rows():
        if entry.status is not SendStatus.PENDING:
            continue
        why = _refresh(entry, index)
        if why:
            entry.status, entry.note = SendStatus.SKIPPED, why
            report.skipped.append(entry)
            unwritten += 1
            continue
        birthday = _birthday_text(entry, index) if campaign.standing else None
        for channel in channels:
            if channel.label in entry.sent_to:
                continue
            message = compose(settings, root, campaign, entry, birthday, wants_markdown(channel))
            try:
                transmit(channel, message, _fields(campaign, entry), delivery_id(campaign, entry.code))
            except DeliveryError as exc:
                report.failures.append(Failure(entry, channel.label, str(exc)))
                _log(root, now, campaign, entry, channel.label, f"失败：{exc}")
                continue
            log_delivery(root, campaign.id, entry.code, channel.label, now)
            entry.sent_to.append(channel.label)
            unwritten += 1
        if all(x in entry.sent_to for x in labels):
            entry.status, entry.sent_at = SendStatus.SENT, now
            report.sent.append(entry)
        if unwritten >= FLUSH_EVERY or (unwritten and time.monotonic() - last_flush > FLUSH_SECONDS):
            write_note(root, settings, note)
            unwritten, last_flush = 0, time.monotonic()
    write_note(root, settings, note)
    drop_sent_log(root, campaign.id)  # the note now holds every delivery the log recorded
    report.seconds = time.monotonic() - started
    return report


def _log(root: Path, at: dt.datetime, campaign: Campaign, entry: Entry, channel: str, outcome: str) -> None:
    line = f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} [at {at:%Y-%m-%d %H:%M}] {campaign.id} {entry.code} " \
           f"{entry.customer_id} → {channel} {outcome}"
    append_text(Path(root) / LOG_PATH, line.replace("\n", " ") + "\n")


__all__ = ["Failure", "KIND", "SendReport", "campaign_channels", "compose", "delivery_id", "no_channel_message", "send"]
