"""Follow-up rules (SPEC "Follow-ups"): which FLW notes a vault should hold, as pure functions.

Each rule looks at one customer's history and proposes follow-ups (`Planned`). A proposal is dropped
when a FLW note already stands for it — planned, done, cancelled or written by hand in Obsidian — so
planning can run any number of times and still creates each follow-up once. What counts as "the same
follow-up" (its identity) depends on the rule:
- 新客户首次回访 / 问题客户专项回访: the service it follows (`服务编号`) and the type; a hand-written
  FLW without a 跟进类型 that names the service counts too; a customer has one 新客户首次回访 at
  most, even when an earlier visit is logged after a later one;
- 长期客户定期回访: the customer and the period (any 长期客户定期回访 within the interval);
- 套餐服务中期回访: the customer and the package's validity (a FLW of that type dated inside it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core.config import FollowUpRules
from ..core.index import CustomerHistory, VaultIndex
from ..models import Customer, FollowUp, ServiceRecord
from ..models.customer import Package
from ..values import Channel, FollowUpStatus, Satisfaction

NEW_CUSTOMER = "新客户首次回访"
PROBLEM = "问题客户专项回访"
REGULAR = "长期客户定期回访"
PACKAGE = "套餐服务中期回访"

PURPOSES: dict[str, tuple[str, ...]] = {
    NEW_CUSTOMER: ("服务效果确认", "客户感受了解", "后续服务建议"),
    PROBLEM: ("客户感受了解", "问题原因了解", "改进措施说明"),
    REGULAR: ("服务效果确认", "后续服务建议", "下次服务预约"),
    PACKAGE: ("服务效果确认", "套餐使用情况", "后续服务建议"),
}


@dataclass(frozen=True)
class Planned:
    """A follow-up some rule asks for; `service` is what it follows, `package` the 套餐 it is about."""

    kind: str
    due: dt.date
    customer_key: str
    customer: Customer | None  # the profile, when there is one
    service: ServiceRecord | None = None
    package: Package | None = None


# -- reading FLW notes, including hand-written ones -------------------------------------------------
def status_of(f: FollowUp) -> FollowUpStatus:
    """A hand-written note without 跟进状态 is done once its 跟进记录 holds something, else planned."""
    if f.basics.status is not None:
        return f.basics.status
    log = f.content.log
    return FollowUpStatus.DONE if (log.customer_feedback or log.effect or log.satisfaction) else FollowUpStatus.PLANNED


def due_of(f: FollowUp) -> dt.date | None:
    """计划日期, else the template's 跟进日期 (which a hand-written note fills with the day it means)."""
    return f.basics.due or f.basics.date


def contact_date(f: FollowUp) -> dt.date | None:
    """When the customer was or will be contacted: 跟进日期 once done, else 计划日期."""
    if status_of(f) is FollowUpStatus.DONE:
        return f.basics.date or f.basics.due
    return f.basics.due or f.basics.date


# -- the rules ----------------------------------------------------------------------------------------
def is_problem(service: ServiceRecord, rules: FollowUpRules) -> bool:
    """满意度 不满意, or a star rating under the threshold (3 stars is not a problem, 2 is)."""
    fb = service.feedback
    return fb.satisfaction is Satisfaction.DISSATISFIED or (fb.stars is not None and fb.stars < rules.problem_stars_below)


def problem_due(service_date: dt.date, rules: FollowUpRules) -> dt.date:
    """Within `problem_hours` of the service, as a date: 24 hours → the next day."""
    return service_date + dt.timedelta(days=math.ceil(rules.problem_hours / 24))


def _new_customer(history: CustomerHistory, key: str, rules: FollowUpRules) -> Iterable[Planned]:
    """The customer's first-ever service in the vault (hand-written ones count) is followed up."""
    if history.services and history.services[0].basics.date is not None:
        first = history.services[0]
        yield Planned(NEW_CUSTOMER, first.basics.date + dt.timedelta(days=rules.new_customer_days), key,
                      history.customer, first)


def _problems(history: CustomerHistory, key: str, rules: FollowUpRules) -> Iterable[Planned]:
    for s in history.services:
        if s.basics.date is not None and is_problem(s, rules):
            yield Planned(PROBLEM, problem_due(s.basics.date, rules), key, history.customer, s)


def _regular(history: CustomerHistory, key: str, rules: FollowUpRules, today: dt.date) -> Iterable[Planned]:
    """≥ N services in the window and no follow-up (planned or done) within the interval: one today."""
    since = today - dt.timedelta(days=rules.regular_window_days)
    recent = [s for s in history.services if s.basics.date is not None and since <= s.basics.date <= today]
    if len(recent) < rules.regular_min_services:
        return
    quiet_since = today - dt.timedelta(days=rules.regular_interval_days)
    for f in history.followups:
        when = contact_date(f)
        if status_of(f) is not FollowUpStatus.CANCELLED and when is not None and when >= quiet_since:
            return
    yield Planned(REGULAR, today, key, history.customer, recent[-1])


def package_midpoint(package: Package) -> dt.date | None:
    if package.start is None or package.end is None or package.end <= package.start:
        return None
    return package.start + (package.end - package.start) // 2


def _packages(history: CustomerHistory, key: str, rules: FollowUpRules) -> Iterable[Planned]:
    if not rules.package_midpoint or history.customer is None:
        return
    for package in history.customer.packages:
        used_up = package.sessions_left == 0 or package.value_left == 0
        midpoint = package_midpoint(package)
        if midpoint is not None and not used_up:
            yield Planned(PACKAGE, midpoint, key, history.customer, package=package)


def proposals(history: CustomerHistory, key: str, rules: FollowUpRules, today: dt.date) -> list[Planned]:
    """Every follow-up the rules ask for in one customer's history, whether or not it exists yet."""
    return [*_new_customer(history, key, rules), *_problems(history, key, rules),
            *_regular(history, key, rules, today), *_packages(history, key, rules)]


# -- identity: does a FLW already stand for a proposal? ----------------------------------------------------
def stands_for(f: FollowUp, p: Planned, rules: FollowUpRules) -> bool:
    kind = f.basics.kind
    if p.kind == NEW_CUSTOMER and kind == NEW_CUSTOMER:
        return True  # one first-visit call per customer, whichever visit it followed
    if p.kind in (NEW_CUSTOMER, PROBLEM):
        return p.service is not None and f.basics.service_id == p.service.id and kind in (p.kind, None)
    if kind != p.kind:
        return False
    when = due_of(f)
    if when is None:
        return False
    if p.kind == REGULAR:
        return when >= p.due - dt.timedelta(days=rules.regular_interval_days)
    assert p.package is not None
    return p.package.start <= when <= p.package.end


def plan_followups(index: VaultIndex, rules: FollowUpRules, today: dt.date, *,
                   histories: Mapping[str, CustomerHistory] | None = None, fresh: Iterable[str] = ()) -> list[Planned]:
    """The follow-ups the vault lacks, soonest first.

    A proposal overdue by more than `plan_lookback_days` is left out (adopting a vault with years of
    history must not plan years of stale calls) unless it follows a service in `fresh` — one just logged.
    `histories` (customer key → history) limits planning to those customers; by default, everyone.
    """
    fresh = set(fresh)
    oldest = today - dt.timedelta(days=rules.plan_lookback_days)
    flw_by_service = index.followups.dates("basics", "service_id")  # from plain data: no models built
    if histories is None:
        keys = _candidates(index, rules, today, oldest)
        keys.update(filter(None, (index.key_of(index.services[i]) for i in fresh if i in index.services)))
        histories = {key: index.history(key, appointments=False) for key in sorted(keys)}
    planned: list[Planned] = []
    for key, history in histories.items():
        mine = []
        for p in proposals(history, key, rules, today):
            if p.due < oldest and not (p.service is not None and p.service.id in fresh):
                continue
            if p.kind in (NEW_CUSTOMER, PROBLEM):
                existing = [index.followups[i] for i in flw_by_service.get(p.service.id, ())]
                if p.kind == NEW_CUSTOMER and not existing:
                    existing = history.followups  # an earlier visit logged later: still one first call
            else:
                existing = history.followups
            if not any(stands_for(f, p, rules) for f in existing):
                mine.append(p)
        if any(p.kind != REGULAR for p in mine):  # a call is being planned anyway: no monthly one on top
            mine = [p for p in mine if p.kind != REGULAR]
        planned.extend(mine)
    return sorted(planned, key=lambda p: (p.due, p.customer_key, p.kind))


def _candidates(index: VaultIndex, rules: FollowUpRules, today: dt.date, oldest: dt.date) -> set[str]:
    """The customers whose history can propose a follow-up due on `oldest` or later, found from plain data.

    A proposal follows a service by at most `reach` days (a first visit, a problem) or a service in the
    regular window; a package's midpoint needs a profile with a package. Everyone else's proposals would
    all be dropped as overdue, so their histories (and models) are not built at all.
    """
    reach = max(0, rules.new_customer_days, math.ceil(rules.problem_hours / 24))
    first = min(oldest - dt.timedelta(days=reach), today - dt.timedelta(days=rules.regular_window_days))
    keys = index.keys_served_since(first)
    if rules.package_midpoint:
        keys.update(cid for cid, packages in index.customers.column("packages").items() if packages)
    return keys


def followup_record(p: Planned, method: Channel = Channel.PHONE) -> FollowUp:
    """The FLW note for a proposal (its 跟进编号 is given when it is created)."""
    customer = p.customer
    ref = p.service.customer if p.service is not None else None
    data = {
        "跟进编号": "",
        "跟进基本信息": {"跟进方式": method, "服务编号": p.service.id if p.service else None, "跟进类型": p.kind,
                     "计划日期": p.due, "跟进状态": FollowUpStatus.PLANNED},
        "客户信息": {
            "客户姓名": (customer.name if customer else None) or (ref.customer_name if ref else None),
            "客户编号": customer.id if customer else (ref.customer_id if ref else None),
            "客户档案": customer.link if customer else (ref.customer_link if ref else None),
            "联系方式": (customer.phone if customer else None) or (ref.phone if ref else None),
        },
        "跟进内容": {"跟进目的": list(PURPOSES[p.kind])},
    }
    data["后续计划"] = {"跟进事项": _reason(p)}
    return FollowUp.model_validate(data)


def _reason(p: Planned) -> str | None:
    """What prompted the follow-up, for whoever makes the call."""
    if p.kind == PACKAGE and p.package is not None:
        return f"套餐「{p.package.name or '套餐'}」{p.package.start} 至 {p.package.end}"
    if p.kind == PROBLEM and p.service is not None:
        fb = p.service.feedback
        verdict = "，".join(x for x in (fb.satisfaction and fb.satisfaction.value, fb.stars and f"{fb.stars}星") if x)
        return "客户反馈" + verdict + (f"：{fb.suggestions}" if fb.suggestions else "")
    return None


def pending(index: VaultIndex, today: dt.date, *, due_only: bool = False) -> list[FollowUp]:
    """Follow-ups still to be made (待跟进), soonest first; `due_only`: those due by `today`."""
    found = []
    for f in index.followups.values():
        if status_of(f) is not FollowUpStatus.PLANNED:
            continue
        when = due_of(f)
        if due_only and (when is None or when > today):
            continue
        found.append(f)
    return sorted(found, key=lambda f: (due_of(f) or dt.date.max, f.id))


__all__ = ["NEW_CUSTOMER", "PACKAGE", "PROBLEM", "PURPOSES", "Planned", "REGULAR", "contact_date", "due_of",
           "followup_record", "is_problem", "package_midpoint", "pending", "plan_followups", "problem_due",
           "proposals", "stands_for", "status_of"]
