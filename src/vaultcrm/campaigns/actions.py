"""`campaign create`, `campaign send` and `campaign birthday`: decide who, write the note, then send.

Everything from reading the campaign notes to the last delivery happens under the `campaign` lock,
so two runs never message a customer twice. The booking lock is not taken: a send of thousands of
messages must not keep the front desk from booking, and `log` redeems a coupon without touching the
campaign note (the SRV carries the code, see redeem.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import Settings
from ..core.index import VaultIndex
from ..core.locks import holding
from ..core.operator import operator_name
from ..errors import ConflictError, NotFoundError, VaultCRMError
from ..reminders.rules import birthday_in
from ..vault import ids
from ..vault.lock import LockTimeout
from ..vault.writer import FileExistsConflict, create_exclusive
from . import notes
from .coupons import new_code
from .offers import parse_offer
from .roster import BIRTHDAY_ID, Campaign, Entry, SendStatus
from .sending import SendReport, campaign_channels, no_channel_message, send
from .targeting import Target, select

LOCK = "campaign"
LOCK_TIMEOUT = 5.0


@dataclass
class CampaignRequest:
    offer: str
    segment: str | None = None  # a Segment's name or targeting.ALL
    tags: list[str] = field(default_factory=list)
    name: str | None = None
    valid_until: dt.date | None = None
    channels: list[str] = field(default_factory=list)
    by: str | None = None
    dry_run: bool = False


@dataclass
class CampaignResult:
    campaign: Campaign
    relpath: str | None  # None on a dry run
    targets: list[Target]
    report: SendReport | None = None  # None on a dry run
    channels: list[str] = field(default_factory=list)
    added: list[Entry] = field(default_factory=list)  # rows this run added (birthday)


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    try:
        with holding(root, LOCK, timeout=LOCK_TIMEOUT):
            yield
    except LockTimeout:
        raise ConflictError("另一个 campaign 命令正在发送（.vaultcrm/locks/campaign），请等它结束后再运行") from None


def _taken_codes(root: Path, settings: Settings) -> set[str]:
    return {code for note in notes.all_campaigns(root, settings) for code in note.campaign.entries}


def _entry(target: Target, code: str, issued: dt.date, valid_until: dt.date | None, note: str | None = None) -> Entry:
    c = target.customer
    return Entry(code, c.id, c.link, issued, valid_until,
                 SendStatus.SKIPPED if target.skip else SendStatus.PENDING, note=target.skip or note)


def _channels_or_refuse(settings: Settings, chosen: list[str], dry_run: bool):
    channels = campaign_channels(settings, chosen)
    if not channels and not dry_run:
        raise VaultCRMError(no_channel_message(settings))
    return channels


def create_campaign(root: Path, settings: Settings, index: VaultIndex, req: CampaignRequest,
                    now: dt.datetime) -> CampaignResult:
    """Write `活动/CMP-YYYY-NNN.md` with a coupon for every targeted customer, then send (not on a dry run)."""
    try:
        offer = parse_offer(req.offer)
    except ValueError as exc:
        raise VaultCRMError(str(exc)) from None
    today = now.date()
    valid_until = req.valid_until or today + dt.timedelta(days=settings.campaigns.valid_days)
    if valid_until < today:
        raise VaultCRMError(f"有效期至 {valid_until} 已经过去（今天 {today}），未创建活动")
    targets = select(index, settings, req.segment, req.tags, today)
    if not targets:
        wanted = "、".join(x for x in [req.segment, *req.tags] if x) or "全部"
        raise VaultCRMError(f"没有符合条件（{wanted}）的客户，未创建活动")
    channels = _channels_or_refuse(settings, req.channels, req.dry_run)
    name = req.name or f"{req.segment or '、'.join(req.tags)} · {offer.text}"
    campaign = Campaign("CMP-预览", name, offer, now, valid_until, req.segment, list(req.tags), list(req.channels),
                        operator_name(req.by, settings))
    if req.dry_run:
        taken: set[str] = set()
        for t in targets:
            entry = _entry(t, new_code(taken), today, valid_until)
            taken.add(entry.code)
            campaign.entries[entry.code] = entry
        return CampaignResult(campaign, None, targets, channels=[c.label for c in channels])
    with _locked(root):
        taken = _taken_codes(root, settings)
        for t in targets:
            entry = _entry(t, new_code(taken), today, valid_until)
            taken.add(entry.code)
            campaign.entries[entry.code] = entry
        folder = notes.folder(settings)

        def build(campaign_id: str) -> tuple[str, bytes]:
            campaign.id = campaign_id
            relpath = notes.relpath_of(settings, campaign_id)
            notes.note_path(root, relpath)
            return relpath, notes.render_note(settings, root, campaign).encode("utf-8")

        _, relpath = ids.create_with_new_id(root, "CMP", now.year, (), folder, build)
        note = notes.read_note(root, relpath)
        if note is None:
            raise VaultCRMError(f"{relpath} 刚创建就不见了（被移动或删除？）")
        report = send(root, settings, index, note, channels, now)
    return CampaignResult(note.campaign, relpath, targets, report, [c.label for c in channels])


def _find(root: Path, settings: Settings, campaign_id: str) -> notes.CampaignNote:
    wanted = campaign_id.strip()
    key = wanted.upper() if wanted.upper().startswith("CMP-") else wanted
    note = notes.read_note(root, notes.relpath_of(settings, key))
    if note is None:
        note = next((n for n in notes.all_campaigns(root, settings) if n.campaign.id == key), None)
    if note is None:
        raise NotFoundError(f"找不到活动 {campaign_id}（在 {notes.folder(settings)}/ 中；活动编号形如 CMP-2026-001）")
    return note


def send_campaign(root: Path, settings: Settings, index: VaultIndex, campaign_id: str, now: dt.datetime,
                  chosen: list[str] | None = None) -> CampaignResult:
    """Send what still waits (failed or never tried); customers already messaged are not messaged again."""
    with _locked(root):
        note = _find(root, settings, campaign_id)
        channels = _channels_or_refuse(settings, chosen or note.campaign.channels, False)
        report = send(root, settings, index, note, channels, now)
    return CampaignResult(note.campaign, note.relpath, [], report, [c.label for c in channels])


# -- the standing birthday campaign ---------------------------------------------------------------
def _birthday_campaign(settings: Settings, now: dt.datetime) -> Campaign:
    conf = settings.campaigns.birthday
    try:
        offer = parse_offer(conf.offer)
    except ValueError as exc:
        raise VaultCRMError(f"vaultcrm.yaml 营销活动.生日关怀.优惠：{exc}") from None
    return Campaign(BIRTHDAY_ID, "生日关怀", offer, now, None, "生日", [], [], "vaultcrm", standing=True)


def birthdays_due(index: VaultIndex, settings: Settings, campaign: Campaign, today: dt.date) -> list[tuple[Target, dt.date]]:
    """Customers whose birthday is within 生日提前天数 and who hold no coupon for it yet, with the birthday."""
    lead = dt.timedelta(days=settings.reminders.birthday_days)
    held: dict[str, list[dt.date]] = {}
    for e in campaign.rows():
        held.setdefault(e.customer_id, []).append(e.issued)
    found = []
    for target in select(index, settings, None, [], today):
        c = target.customer
        if c.birthday is None:
            continue
        for year in (today.year, today.year + 1):
            day = birthday_in(c.birthday, year)
            if day - lead <= today <= day:
                if not any(day - lead <= issued <= day for issued in held.get(c.id, ())):
                    found.append((target, day))
                break
    return found


def run_birthday(root: Path, settings: Settings, index: VaultIndex, now: dt.datetime, *,
                 dry_run: bool = False) -> CampaignResult:
    """Add this week's birthdays to `活动/生日关怀.md` (made on first use) and send what waits."""
    conf = settings.campaigns.birthday
    if not conf.enabled:
        raise VaultCRMError("生日关怀常设活动未启用：请在 vaultcrm.yaml 设置 营销活动.生日关怀.启用: 是"
                            "（启用后 remind 不再发送 生日关怀提醒，改由 campaign birthday 发送带优惠券的祝福）")
    today = now.date()
    channels = _channels_or_refuse(settings, [], dry_run)
    with _locked(root):
        relpath = notes.relpath_of(settings, BIRTHDAY_ID)
        note = notes.read_note(root, relpath)
        campaign = note.campaign if note is not None else _birthday_campaign(settings, now)
        due = birthdays_due(index, settings, campaign, today)
        taken = _taken_codes(root, settings) if due else set()
        added = []
        for target, day in due:
            entry = _entry(target, new_code(taken), today, day + dt.timedelta(days=conf.valid_days),
                           f"{day.month}月{day.day}日生日")
            taken.add(entry.code)
            campaign.entries[entry.code] = entry
            added.append(entry)
        targets = [t for t, _ in due]
        if dry_run:
            return CampaignResult(campaign, None, targets, channels=[c.label for c in channels], added=added)
        if note is None:
            if not added:
                return CampaignResult(campaign, None, [], SendReport(campaign), [c.label for c in channels])
            try:
                create_exclusive(notes.note_path(root, relpath),
                                 notes.render_note(settings, root, campaign).encode("utf-8"), within=root)
            except FileExistsConflict:
                raise ConflictError(f"{relpath} 刚被其他程序创建，未写入；请重试") from None
            note = notes.read_note(root, relpath)
        else:
            notes.write_note(root, settings, note)
        report = send(root, settings, index, note, channels, now)
        added = [note.campaign.entries.get(e.code, e) for e in added]  # as the note now holds them
    return CampaignResult(note.campaign, relpath, targets, report, [c.label for c in channels], added)


__all__ = ["CampaignRequest", "CampaignResult", "birthdays_due", "create_campaign", "run_birthday",
           "send_campaign"]
