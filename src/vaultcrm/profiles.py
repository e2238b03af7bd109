"""The core of `customer edit`, `customer tag`, `customer points` and `customer package`: what vaultcrm
writes into customer profiles, decided by the pure rules (segments.py, membership.py) and written
through `store.update_record`, which keeps comments, unknown keys, key order and the body as they are.

Recomputing the managed fields (标签, 会员等级, 积分) rewrites only the profiles whose values change;
a profile saved in Obsidian in the meantime is skipped (and picked up next time), never overwritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import yaml

from . import membership
from .config import Settings
from .errors import ConcurrentChangeError, VaultCRMError
from .index import CustomerHistory
from .models import Customer, ServiceRecord
from .models.customer import PointsEntry
from .segments import merge_tags, segments_of, visit_stats
from .vault.edit import split_note
from .vault.loader import Vault
from .vault.store import update_record
from .vault.writer import read_stamped

# -- managed fields --------------------------------------------------------------------------------
def managed_changes(customer: Customer, history: CustomerHistory, settings: Settings,
                    today: dt.date) -> dict[tuple, object]:
    """The 标签, 会员等级 and 积分 the profile should hold today, where they differ from what it holds."""
    services = history.services
    stats = visit_stats(customer, services, settings.segments, today)
    changes: dict[tuple, object] = {}
    tags = merge_tags(customer.tags, segments_of(stats, settings.segments, today))
    if tags != customer.tags:
        changes[("标签",)] = tags
    tier = membership.upgraded_tier(settings.membership, customer.tier,
                                    membership.qualifying_spend(customer, services, settings.membership, today))
    if tier != customer.tier:
        changes[("会员等级",)] = tier
    points = membership.points_balance(customer, services, settings.membership, today).balance
    if points != customer.points:
        changes[("积分",)] = points
    return changes


@dataclass
class Refresh:
    changed: list[tuple[Customer, dict[tuple, object]]] = field(default_factory=list)
    skipped: list[tuple[Customer, str]] = field(default_factory=list)  # (profile, why)


def refresh_profiles(vault: Vault, today: dt.date) -> Refresh:
    """Bring every profile's 标签, 会员等级 and 积分 up to date as of `today`."""
    result = Refresh()
    index = vault.index
    for customer in sorted(index.customers.values(), key=lambda c: c.id):
        changes = managed_changes(customer, index.history(customer.id), vault.settings, today)
        if not changes:
            continue
        try:
            if update_record(vault.root, customer, changes, loaded=vault.loaded_stamp(customer)):
                result.changed.append((customer, changes))
        except ConcurrentChangeError:
            result.skipped.append((customer, "正在被编辑，下次再更新"))
        except VaultCRMError as exc:
            result.skipped.append((customer, exc.message))
    return result


def update_tags(vault: Vault, today: dt.date) -> list[str]:
    """For `stats` and `watch`: refresh the managed fields; the IDs of the profiles rewritten."""
    return [c.id for c, _ in refresh_profiles(vault, today).changed]


# -- points ------------------------------------------------------------------------------------------
@dataclass
class Redeemed:
    customer: Customer
    points: int
    worth: Decimal
    balance: membership.PointsBalance  # after the redemption


def redeem_points(vault: Vault, customer: Customer, points: int, today: dt.date,
                  note: str | None = None) -> Redeemed:
    """Record a redemption in 积分记录 and write the new balance into 积分."""
    rules = vault.settings.membership
    services = vault.index.history(customer.id).services
    before = membership.points_balance(customer, services, rules, today)
    entry = membership.redemption(before, points, rules, today, note)
    after_customer = customer.model_copy(
        update={"points_log": [*customer.points_log, PointsEntry.model_validate(entry)]})
    after = membership.points_balance(after_customer, services, rules, today)
    update_record(vault.root, customer, {("积分",): after.balance}, append={("积分记录",): [entry]},
                  loaded=vault.loaded_stamp(customer))
    return Redeemed(after_customer, points, before.value - after.value, after)


# -- packages ----------------------------------------------------------------------------------------
def add_package(vault: Vault, customer: Customer, entry: dict[str, object]) -> None:
    """Append a 套餐 entry (see membership.new_package) to the profile."""
    update_record(vault.root, customer, {}, append={("套餐",): [entry]}, loaded=vault.loaded_stamp(customer))


def _raw_packages(vault: Vault, customer: Customer) -> list:
    """The profile's 套餐 list as written, user keys and all."""
    raw, _ = read_stamped(vault.root / customer.path)
    _, frontmatter, _ = split_note(raw.decode("utf-8", "replace"))
    data = yaml.load(frontmatter, Loader=yaml.CSafeLoader) or {}
    packages = data.get("套餐") if isinstance(data, dict) else None
    return packages if isinstance(packages, list) else []


def charge_package(vault: Vault, customer: Customer, service: ServiceRecord,
                   today: dt.date) -> membership.PackageUse | None:
    """Take the service from one of the customer's packages, if one can pay for it: the profile's
    剩余次数 or 余额 goes down, and the SRV's 服务信息.套餐抵扣 says which package paid."""
    use = membership.consume_package(customer, service.service.service, service.service.fee,
                                     service.basics.date or today)
    if use is None:
        return None
    update_record(vault.root, customer, use.changes(_raw_packages(vault, customer)),
                  loaded=vault.loaded_stamp(customer))
    update_record(vault.root, service, {("服务信息", "套餐抵扣"): use.describe()})
    return use


__all__ = ["Redeemed", "Refresh", "add_package", "charge_package", "managed_changes",
           "redeem_points", "refresh_profiles", "update_tags"]
