"""What the Personal Information Protection Law (PIPL) asks of a studio that keeps health data.

- Consent: the 健康档案 (allergies, contraindications, health concerns) is sensitive personal
  information (PIPL art. 28–29) and needs the customer's separate consent, recorded in the profile as
  `授权同意.健康数据`. `check` warns about every profile that holds health data without it.
- Forgetting (art. 47): `customer forget` anonymises a profile and scrubs the name, phone and health
  fields from the customer's appointments, services, follow-ups and 候补 entries, and her rows of the
  campaign rosters (campaigns/anonymise.py). Dates, statuses, services,
  durations, prices and the customer ID stay, so every statistic stays what it was while nothing in
  the records points to the person any more.
- Retention (art. 19): `purge` does the same for customers not seen for two years. Anonymising rather
  than deleting is deliberate: the studio's past figures and accounts stay true, and anonymised
  information is no longer personal information (art. 4 and 73).
- Accountability: each forget and purge is appended to `.vaultcrm/logs/audit.log`, by customer ID
  only (the log must not keep what was erased).

Planning is pure (index in, edits out); `actions.py` writes the plans, `audit.py` keeps the log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..core import store
from ..core.config import Settings
from ..core.index import VaultIndex
from ..diagnostics import Diagnostic, warning
from ..models import Appointment, Customer, FollowUp, Record, ServiceRecord, WaitlistEntry
from ..models.customer import FORGOTTEN_TAG, is_forgotten, pseudonym
from ..values import AppointmentStatus, FollowUpStatus, WaitlistStatus
from ..vault.notes import record_line

RETENTION_YEARS = 2
_PHONE_MASK = "[已删除]"


def has_health_data(customer: Customer) -> bool:
    h = customer.health
    return bool(h.allergies or h.contraindications or h.concerns)


def health_data_without_consent(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """A check (checks.CHECKS): health data kept without the customer's recorded consent."""
    for customer in index.customers.values():
        if has_health_data(customer) and customer.consent.health_data is not True:
            yield warning(customer.path, record_line(index.root, customer, ("授权同意", "健康数据")),
                          f"{customer.id} 的健康档案（过敏史/禁忌事项/健康关注）有内容，但没有健康数据授权"
                          "（授权同意.健康数据: 是）。健康信息是敏感个人信息，须经客户单独同意："
                          "请补录 授权同意.健康数据 与 同意日期，或清空健康档案")


# -- planning (pure) ------------------------------------------------------------------------------
@dataclass
class Scrub:
    """The edits that anonymise one note: frontmatter values, body text, and for a profile its new name."""

    record: Record
    changes: dict[tuple, object]
    replacements: list[tuple[str, str]] = field(default_factory=list)
    new_path: str | None = None

    def body(self, text: str) -> str:
        for old, new in self.replacements:
            text = text.replace(old, new)
        return text


@dataclass
class ForgetPlan:
    customer: Customer
    scrubs: list[Scrub]
    cancelled: list[str] = field(default_factory=list)  # pending appointments, follow-ups, 候补 called off
    link: str = ""  # the pseudonym's profile link, which replaces hers in campaign rosters
    replacements: list[tuple[str, str]] = field(default_factory=list)  # her name and phone → stand-ins

    @property
    def notes(self) -> int:
        return len(self.scrubs)


def _replacements(customer: Customer, alias: str) -> list[tuple[str, str]]:
    """Body text to replace. A one-character name would hit unrelated words, so it is left to `mentions`."""
    pairs = []
    if customer.name and len(customer.name) >= 2 and customer.name not in alias:
        pairs.append((customer.name, alias))
    if customer.phone:
        pairs.append((customer.phone, _PHONE_MASK))
    return pairs


def _profile_scrub(customer: Customer, alias: str, new_path: str, replacements) -> Scrub:
    changes: dict[tuple, object] = {}
    if customer.name != alias:
        changes[("客户姓名",)] = alias
    for key, value in (("联系方式", customer.phone), ("生日", customer.birthday), ("推荐人", customer.referrer)):
        if value:
            changes[(key,)] = None
    for key, value in (("过敏史", customer.health.allergies), ("禁忌事项", customer.health.contraindications),
                       ("健康关注", customer.health.concerns)):
        if value:
            changes[("健康档案", key)] = None
    if FORGOTTEN_TAG not in customer.tags:
        changes[("标签",)] = [*customer.tags, FORGOTTEN_TAG]
    return Scrub(customer, changes, replacements, new_path if new_path != customer.path else None)


def _call_off(record: Record, cancel: tuple[dt.datetime, str] | None) -> dict[tuple, object]:
    """A forgotten customer is not served or called again: her appointments still to come and planned
    follow-ups are cancelled (the 状态更新 says why), so no reminder goes out for them. Appointments
    already past keep their status, so no day's statistics change."""
    if cancel is None:
        return {}
    when, operator = cancel
    if isinstance(record, Appointment) and record.is_active and record.start is not None and record.start >= when:
        line = f"{when:%Y-%m-%d %H:%M} {record.status.value} → 已取消：客户注销（{operator}）"
        return {("预约状态", "当前状态"): AppointmentStatus.CANCELLED,
                ("预约状态", "状态更新"): [*record.state.history, line]}
    if isinstance(record, FollowUp) and record.basics.status in (None, FollowUpStatus.PLANNED):
        return {("跟进基本信息", "跟进状态"): FollowUpStatus.CANCELLED}
    return {}


def _record_scrub(record: Record, customer: Customer, alias: str, new_link: str, replacements,
                  cancel: tuple[dt.datetime, str] | None = None) -> Scrub:
    section = "预约信息" if isinstance(record, Appointment) else "客户信息"
    info = record.info if isinstance(record, Appointment) else record.customer
    changes: dict[tuple, object] = {}
    if info.customer_name and info.customer_name != alias:
        changes[(section, "客户姓名")] = alias
    if info.phone:
        changes[(section, "联系方式")] = None
    if not info.customer_id:  # tied by phone or name, which go: the ID keeps it the customer's
        changes[(section, "客户编号")] = customer.id
    if info.customer_link and info.customer_link != new_link:
        changes[(section, "客户档案")] = new_link
    if isinstance(record, ServiceRecord) and record.details.before.health_concerns:
        changes[("服务详情", "服务前评估", "健康关注")] = None
    changes.update(_call_off(record, cancel))
    return Scrub(record, changes, replacements)


def _waitlist_scrub(entry: WaitlistEntry, customer: Customer, alias: str, new_link: str, replacements,
                    cancel: tuple[dt.datetime, str] | None) -> Scrub:
    """A 候补 entry: flat keys. An open one is called off (she is not offered freed time again)."""
    changes: dict[tuple, object] = {}
    if entry.customer_name and entry.customer_name != alias:
        changes[("客户",)] = alias
    if entry.phone:
        changes[("联系方式",)] = None
    if not entry.customer_id:
        changes[("客户编号",)] = customer.id
    if entry.customer_link and entry.customer_link != new_link:
        changes[("客户档案",)] = new_link
    if cancel is not None and entry.is_open:
        changes[("状态",)] = WaitlistStatus.CANCELLED
    return Scrub(entry, changes, replacements)


def waitlist_of(index: VaultIndex, customer: Customer) -> list[WaitlistEntry]:
    """Her 候补 entries: by 客户编号, or (none given) by her phone or name."""
    found = []
    for entry in index.waitlist.values():
        if entry.customer_id:
            hers = entry.customer_id == customer.id
        else:
            hers = bool(customer.phone and entry.phone == customer.phone
                        or customer.name and entry.customer_name == customer.name)
        if hers:
            found.append(entry)
    return sorted(found, key=lambda e: e.id)


def plan_forget(index: VaultIndex, customer: Customer, cancel: tuple[dt.datetime, str] | None = None) -> ForgetPlan:
    """Every edit that anonymises `customer`; notes that need none are left out (so it can be re-run).

    With `cancel` (when, operator), her pending appointments and planned follow-ups are cancelled too."""
    alias = pseudonym(customer.id)
    folder = str(PurePosixPath(customer.path).parent)
    name = store.file_name(customer.model_copy(update={"name": alias}))
    new_path = name if folder in ("", ".") else f"{folder}/{name}"
    new_link = f"[[{PurePosixPath(new_path).stem}]]"
    replacements = _replacements(customer, alias)
    history = index.history(customer.id)
    scrubs = [_record_scrub(r, customer, alias, new_link, replacements, cancel)
              for r in (*history.appointments, *history.services, *history.followups)]
    scrubs += [_waitlist_scrub(w, customer, alias, new_link, replacements, cancel)
               for w in waitlist_of(index, customer)]
    cancelled = [s.record.id for s in scrubs if ("预约状态", "当前状态") in s.changes
                 or ("跟进基本信息", "跟进状态") in s.changes or ("状态",) in s.changes]
    referrers = {customer.name, customer.link} - {None, ""}
    scrubs += [Scrub(other, {("推荐人",): alias}) for other in index.customers.values()
               if other.id != customer.id and other.referrer in referrers and other.referrer != alias]
    scrubs.append(_profile_scrub(customer, alias, new_path, replacements))
    return ForgetPlan(customer, [s for s in scrubs if s.changes or s.new_path or s.replacements], cancelled,
                      new_link, replacements)


def years_before(day: dt.date, years: int = RETENTION_YEARS) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def last_seen(index: VaultIndex, customer: Customer) -> dt.date | None:
    """The customer's latest appointment, service or follow-up date (or first visit); None if none known."""
    history = index.history(customer.id)
    days = [a.info.date for a in history.appointments] + [s.basics.date for s in history.services]
    days += [f.basics.date for f in history.followups] + [customer.first_visit]
    days = [d for d in days if d is not None]
    return max(days) if days else None


@dataclass
class PurgePlan:
    before: dt.date
    plans: list[tuple[ForgetPlan, dt.date]]  # with each customer's last visit
    undated: list[Customer]  # no date at all: cannot tell, left alone

    @property
    def notes(self) -> int:
        return sum(p.notes for p, _ in self.plans)


def plan_purge(index: VaultIndex, before: dt.date) -> PurgePlan:
    """Customers last seen before `before` (and not yet anonymised), with their forget plans."""
    plans, undated = [], []
    for customer in sorted(index.customers.values(), key=lambda c: c.id):
        if is_forgotten(customer):
            continue
        seen = last_seen(index, customer)
        if seen is None:
            undated.append(customer)
        elif seen < before:
            plans.append((plan_forget(index, customer), seen))
    return PurgePlan(before, plans, undated)
