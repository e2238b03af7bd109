"""Membership (会员): tiers and their discounts, points, and prepaid packages (套餐).

Tiers are earned by spend (服务费用 over the last 消费统计月数 months) and written into the profile's
`会员等级`; vaultcrm raises a tier when it is earned and never lowers one (a card the customer bought
stays theirs), so the owner's hand edit always wins. Every customer is at least the lowest tier.

Points are not a counter vaultcrm increments: they are recomputed from the service history, one point
per yuan of 服务费用 (每元积分), each service's points expiring 积分有效月数 after it. Redemptions
and manual adjustments are lines of the profile's `积分记录` (日期, 积分 — negative for a redemption —
说明); they spend the oldest points first. `积分` in the profile is the balance as vaultcrm last
computed it, for reading in Obsidian. Pure functions: records and rules in, results out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache

from ..core.config import MembershipRules, Settings
from ..core.index import Visit, visits_of
from ..errors import VaultCRMError
from ..models import Customer, ServiceRecord
from ..models.customer import Package
from ..values import format_money
from .segments import add_months, past_visits, spend_since

NO_DISCOUNT = Decimal(10)


# -- tiers ---------------------------------------------------------------------------------------
def earned_tier(rules: MembershipRules, spend: Decimal) -> str | None:
    """The highest tier whose 门槛 the spend reaches."""
    earned = None
    for name in rules.tier_names():
        if spend >= (rules.tiers[name].threshold or 0):
            earned = name
    return earned


def upgraded_tier(rules: MembershipRules, current: str | None, spend: Decimal) -> str | None:
    """The tier to write: the earned one when it is higher than the current, else the current.

    An unknown tier name (the studio's own, say `VIP`) is left as it is."""
    names = rules.tier_names()
    earned = earned_tier(rules, spend)
    if current and current not in rules.tiers:
        return current
    if earned is None or (current and names.index(current) >= names.index(earned)):
        return current
    return earned


def qualifying_spend(customer: Customer, services: list[ServiceRecord], rules: MembershipRules,
                     today: dt.date) -> Decimal:
    """What a tier is earned by: 服务费用 over the last 消费统计月数 months, or the packages (次卡,
    储值) bought in that time if they come to more. Not both added: a package pays for services."""
    return qualifying_spend_from(customer, visits_of(services), rules, today)


def qualifying_spend_from(customer: Customer, visits: list[Visit], rules: MembershipRules,
                          today: dt.date) -> Decimal:
    """`qualifying_spend` of the visits (`VaultIndex.visits_of`, which builds no model)."""
    since = add_months(today, -rules.spend_months)
    bought = sum((p.value_total or Decimal(0) for p in customer.packages
                  if p.start and since < p.start <= today), Decimal(0))
    return max(spend_since(visits, since, today), bought)


def tier_of(rules: MembershipRules, customer: Customer | None) -> str | None:
    """The customer's configured tier; a missing or unknown one counts as the lowest."""
    names = rules.tier_names()
    if customer is not None and customer.tier in rules.tiers:
        return customer.tier
    return names[0] if names else None


def discount_of(settings: Settings, customer: Customer | None) -> Decimal:
    """The tier's discount in 折 (9 = 90% of the price; 10 = none)."""
    tier = tier_of(settings.membership, customer)
    return settings.membership.tiers[tier].discount if tier else NO_DISCOUNT


def _money(amount: Decimal) -> Decimal:
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return amount.quantize(Decimal(1)) if amount == amount.to_integral() else amount.normalize()


def discounted_price(settings: Settings, customer: Customer | None, price: Decimal | None) -> Decimal | None:
    """The price after the customer's tier discount, to the fen (¥198 at 9折 is ¥178.2)."""
    if price is None:
        return None
    return _money(Decimal(price) * discount_of(settings, customer) / NO_DISCOUNT)


def describe_discount(discount: Decimal) -> str:
    return "无折扣" if discount >= NO_DISCOUNT else f"{discount.normalize():f}折"


# -- points --------------------------------------------------------------------------------------
@dataclass
class _Lot:
    earned: dt.date
    points: int
    expires: dt.date | None
    left: int = 0

    def __post_init__(self) -> None:
        self.left = self.points


@dataclass
class PointsBalance:
    balance: int = 0
    earned: int = 0
    redeemed: int = 0  # redemptions and negative adjustments
    expired: int = 0
    value: Decimal = Decimal(0)  # what the balance is worth when redeemed
    next_expiry: tuple[dt.date, int] | None = None  # the soonest date some points expire, and how many


def points_for(fee: Decimal | None, rules: MembershipRules) -> int:
    return _points(fee, rules.points_per_yuan)


@lru_cache(maxsize=4096)  # a studio's prices are few: every customer's list row asks for the same fees
def _points(fee: Decimal | None, per_yuan: Decimal) -> int:
    if not fee or fee <= 0:
        return 0
    return int((fee * per_yuan).to_integral_value(rounding=ROUND_FLOOR))


def points_balance(customer: Customer, services: list[ServiceRecord], rules: MembershipRules,
                   today: dt.date) -> PointsBalance:
    """Points earned from services and positive adjustments, less redemptions (oldest points first)
    and what expired, as of `today`."""
    return points_balance_from(customer, visits_of(services), rules, today)


def points_balance_from(customer: Customer, visits: list[Visit], rules: MembershipRules,
                        today: dt.date) -> PointsBalance:
    """`points_balance` of the visits (`VaultIndex.visits_of`, which builds no model)."""
    entries = [e for e in customer.points_log if e.date and e.points and e.date <= today]
    if all(e.points > 0 for e in entries):  # nothing spent: no lot needs to be followed (most customers)
        return _unspent_balance([(v.date, points_for(v.fee, rules)) for v in past_visits(visits, today)]
                                + [(e.date, e.points) for e in entries], rules, today)
    return _spent_balance(visits, entries, rules, today)


def _unspent_balance(earned: list[tuple[dt.date, int]], rules: MembershipRules, today: dt.date) -> PointsBalance:
    """The balance when nothing was redeemed: what was earned, less what expired."""
    expiry = rules.points_expiry_months
    result = PointsBalance()
    soonest: list | None = None  # [date, points] of the soonest expiry still ahead
    for day, points in earned:
        if points <= 0:
            continue
        result.earned += points
        expires = add_months(day, expiry) if expiry > 0 else None
        if expires is not None and expires <= today:
            result.expired += points
            continue
        result.balance += points
        if expires is not None:
            if soonest is None or expires < soonest[0]:
                soonest = [expires, points]
            elif expires == soonest[0]:
                soonest[1] += points
    result.value = points_worth(result.balance, rules)
    result.next_expiry = (soonest[0], soonest[1]) if soonest else None
    return result


def _spent_balance(visits: list[Visit], entries: list, rules: MembershipRules, today: dt.date) -> PointsBalance:
    """The balance with redemptions: spent from the oldest points not yet expired on the day."""
    expiry = rules.points_expiry_months

    def lot(day: dt.date, points: int) -> _Lot:
        return _Lot(day, points, add_months(day, expiry) if expiry > 0 else None)

    lots = [lot(v.date, points_for(v.fee, rules)) for v in past_visits(visits, today)]
    lots += [lot(e.date, e.points) for e in entries if e.points > 0]
    lots = sorted((x for x in lots if x.points > 0), key=lambda x: x.earned)
    debits = sorted(((e.date, -e.points) for e in entries if e.points < 0), key=lambda d: d[0])
    result = PointsBalance(earned=sum(x.points for x in lots), redeemed=sum(n for _, n in debits))
    debt = 0
    for day, amount in debits:
        debt += amount
        for x in lots:  # oldest first: spend what had been earned and not yet expired on that day
            if debt == 0:
                break
            if x.earned <= day and (x.expires is None or x.expires > day):
                used = min(debt, x.left)
                x.left -= used
                debt -= used
    alive = [x for x in lots if x.expires is None or x.expires > today]
    result.expired = sum(x.left for x in lots if x.expires is not None and x.expires <= today)
    result.balance = sum(x.left for x in alive) - debt  # a debt left over means hand-edited 积分记录
    result.value = points_worth(result.balance, rules)
    pending = [(x.expires, x.left) for x in alive if x.expires and x.left]
    if pending:
        first = min(d for d, _ in pending)
        result.next_expiry = (first, sum(n for d, n in pending if d == first))
    return result


def points_worth(points: int, rules: MembershipRules) -> Decimal:
    """What `points` are worth in yuan when redeemed (积分抵现 each)."""
    return _money(Decimal(max(points, 0)) * (rules.point_value or 0))


def redemption(balance: PointsBalance, points: int, rules: MembershipRules, today: dt.date,
               note: str | None = None) -> dict[str, object]:
    """The 积分记录 line that redeems `points`; refused when the balance does not cover it."""
    if points <= 0:
        raise VaultCRMError(f"兑换积分应为正整数，收到 {points}")
    if points > balance.balance:
        raise VaultCRMError(f"积分不足：当前可用 {balance.balance} 分，无法兑换 {points} 分")
    worth = points_worth(points, rules)
    return {"日期": today, "积分": -points, "说明": note or f"兑换（抵 {format_money(worth)}）"}


# -- packages ------------------------------------------------------------------------------------
def is_active(package: Package, day: dt.date) -> bool:
    return (package.start is None or package.start <= day) and (package.end is None or day <= package.end)


def is_session_package(package: Package) -> bool:
    return package.sessions_total is not None or package.sessions_left is not None


def has_balance(package: Package) -> bool:
    if is_session_package(package):
        return (package.sessions_left or 0) > 0
    return (package.value_left or 0) > 0


def describe_package(package: Package) -> str:
    """`肩颈理疗套餐 剩余 4/10 次` or `储值卡 余额 ¥832/¥1000`."""
    if is_session_package(package):
        total = f"/{package.sessions_total}" if package.sessions_total is not None else ""
        return f"{package.name or '套餐'} 剩余 {package.sessions_left or 0}{total} 次"
    total = f"/{format_money(package.value_total)}" if package.value_total is not None else ""
    return f"{package.name or '套餐'} 余额 {format_money(package.value_left or Decimal(0))}{total}"


@dataclass(frozen=True)
class PackageUse:
    """What a service took from a package: one session, or (part of) the fee from a stored value."""

    index: int  # position in the profile's 套餐 list
    package: Package  # as it is after the use
    paid: Decimal | None  # the amount taken from a stored value; None for a session

    def describe(self) -> str:
        if self.paid is None:
            return f"{self.package.name or '套餐'}（扣 1 次，{describe_package(self.package)}）"
        return f"{self.package.name or '套餐'}（扣 {format_money(self.paid)}，{describe_package(self.package)}）"

    def changes(self, raw_packages: list) -> dict[tuple, object]:
        """`store.update_record` changes for the profile; `raw_packages` is its 套餐 list as read from the
        note, so keys a user added to a package are kept."""
        items = [dict(item) if isinstance(item, dict) else item for item in raw_packages]
        if self.index >= len(items) or not isinstance(items[self.index], dict):
            raise VaultCRMError("客户档案的套餐列表在读取后被修改，未扣减；请重试")
        item = items[self.index]
        if self.paid is None:
            item["剩余次数"] = self.package.sessions_left
        else:
            item["余额"] = format_money(self.package.value_left)
        return {("套餐",): items}


def _priority(package: Package, service: str | None) -> tuple:
    """Sessions for this very service first, then sessions for any service, then stored value; the
    package that expires first goes first."""
    kind = 0 if is_session_package(package) and package.service else 1 if is_session_package(package) else 2
    return kind, package.end or dt.date.max


def consume_package(customer: Customer, service: str | None, fee: Decimal | None,
                    date: dt.date) -> PackageUse | None:
    """The package that pays for `service` on `date`, and what is left of it; None when none can."""
    usable = [(i, p) for i, p in enumerate(customer.packages)
              if is_active(p, date) and has_balance(p) and (not p.service or p.service == service)
              and (is_session_package(p) or (fee or 0) > 0)]  # a stored value pays only for a price
    if not usable:
        return None
    index, package = min(usable, key=lambda ip: (_priority(ip[1], service), ip[0]))
    if is_session_package(package):
        after = package.model_copy(update={"sessions_left": (package.sessions_left or 0) - 1})
        return PackageUse(index, after, None)
    paid = min(Decimal(fee), package.value_left)
    return PackageUse(index, package.model_copy(update={"value_left": _money(package.value_left - paid)}), _money(paid))


def new_package(name: str, *, sessions: int | None, value: Decimal | None, start: dt.date,
                end: dt.date | None, service: str | None) -> dict[str, object]:
    """A 套餐 entry, keys in the template's order: either a number of sessions or a stored value."""
    if not name.strip():
        raise VaultCRMError("套餐名称不能为空")
    if (sessions is None) == (value is None):
        raise VaultCRMError("请给出 --sessions 次数 或 --value 金额（二选一）")
    if sessions is not None and sessions <= 0:
        raise VaultCRMError(f"套餐次数应为正整数，收到 {sessions}")
    if value is not None and value <= 0:
        raise VaultCRMError(f"套餐金额应大于 0，收到 {format_money(value)}")
    if end is not None and end < start:
        raise VaultCRMError(f"结束日期 {end} 早于开始日期 {start}")
    return {"名称": name.strip(), "服务项目": service or None, "总次数": sessions, "剩余次数": sessions,
            "总金额": format_money(value) if value is not None else None,
            "余额": format_money(value) if value is not None else None, "开始日期": start, "结束日期": end}


__all__ = ["NO_DISCOUNT", "PackageUse", "PointsBalance", "consume_package", "describe_discount", "describe_package",
           "discount_of", "discounted_price", "earned_tier", "has_balance", "is_active", "is_session_package",
           "new_package", "points_balance", "points_balance_from", "points_for", "points_worth", "qualifying_spend",
           "qualifying_spend_from", "redemption", "tier_of", "upgraded_tier"]
