"""The core of `customer edit`, `customer tag`, `customer points` and `customer package`: what vaultcrm
writes into customer profiles, decided by the pure rules (segments.py, membership.py beside it) and written
through `store.update_record`, which keeps comments, unknown keys, key order and the body as they are.

Recomputing the managed fields (标签, 会员等级, 积分) rewrites only the profiles whose values change;
a profile saved in Obsidian in the meantime is skipped (and picked up next time), never overwritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import yaml

from ..core.config import Settings
from ..core.index import VaultIndex, Visit
from ..core.loader import Vault
from ..core.store import update_record
from ..errors import ConcurrentChangeError, VaultCRMError
from ..models import Customer, ServiceRecord
from ..models.customer import PointsEntry
from ..values import Strength
from ..vault.edit import split_note
from ..vault.writer import read_stamped
from . import membership
from .resolve import describe
from .segments import merge_tags, segments_of, visit_stats_from

# -- edits -----------------------------------------------------------------------------------------
_GENDERS = {"男": "男", "女": "女", "m": "男", "f": "女", "male": "男", "female": "女", "先生": "男", "女士": "女"}


def parse_gender(value: str) -> str:
    key = value.strip().lower()
    if key not in _GENDERS:
        raise ValueError(f"无法识别的性别「{value}」，应为 男 或 女")
    return _GENDERS[key]


@dataclass
class ProfileEdit:
    """What `customer edit` was asked to change; None leaves a field as it is. A list edit is a
    sequence of `+项` (add; a bare `项` adds too) and `-项` (remove)."""

    name: str | None = None
    phone: str | None = None
    gender: str | None = None
    birthday: dt.date | None = None
    source: str | None = None
    tier: str | None = None
    allergies: list[str] = field(default_factory=list)
    contraindications: list[str] = field(default_factory=list)
    concerns: str | None = None
    technician: str | None = None
    strength: Strength | None = None
    referrer: str | None = None
    consent_health: bool | None = None
    consent_marketing: bool | None = None


def apply_list_edits(current: list[str], edits: list[str], label: str) -> list[str]:
    result = list(current)
    for edit in edits:
        text = edit.strip()
        op, item = (text[0], text[1:].strip()) if text[:1] in "+-" else ("+", text)
        if not item:
            raise VaultCRMError(f"{label}：「{edit}」缺少内容，应写作 +花粉 或 -花粉")
        if op == "+" and item not in result:
            result.append(item)
        elif op == "-":
            if item not in result:
                raise VaultCRMError(f"{label}中没有「{item}」（现有：{'、'.join(result) or '无'}）")
            result.remove(item)
    return result


def edit_changes(customer: Customer, edit: ProfileEdit, index: VaultIndex, settings: Settings,
                 today: dt.date) -> tuple[dict[tuple, object], list[str]]:
    """(key path → new value for what differs, warnings). Refuses unknown tiers and technicians."""
    if edit.tier is not None and edit.tier not in settings.membership.tiers:
        raise VaultCRMError(f"未知的会员等级「{edit.tier}」，可选：{'、'.join(settings.membership.tier_names())}")
    if edit.technician is not None and settings.technicians and edit.technician not in settings.technicians:
        raise VaultCRMError(f"未知的技师「{edit.technician}」，可选：{'、'.join(settings.technicians)}")
    warnings = []
    if edit.phone is not None:
        others = [c for c in index.find_customers(edit.phone) if c.id != customer.id and c.phone == edit.phone]
        if others:
            warnings.append(f"电话 {edit.phone} 也登记在 {'、'.join(describe(c) for c in others)} 的档案中")
    h, pref, consent = customer.health, customer.preferences, customer.consent
    wanted: list[tuple[tuple, object, object]] = [
        (("客户姓名",), edit.name, customer.name), (("联系方式",), edit.phone, customer.phone),
        (("性别",), edit.gender, customer.gender), (("生日",), edit.birthday, customer.birthday),
        (("来源渠道",), edit.source, customer.source), (("会员等级",), edit.tier, customer.tier),
        (("健康档案", "健康关注"), edit.concerns, h.concerns),
        (("服务偏好", "偏好技师"), edit.technician, pref.technician),
        (("服务偏好", "力度要求"), edit.strength, pref.strength), (("推荐人",), edit.referrer, customer.referrer),
        (("授权同意", "健康数据"), edit.consent_health, consent.health_data),
        (("授权同意", "营销"), edit.consent_marketing, consent.marketing),
    ]
    changes = {path: new for path, new, old in wanted if new is not None and new != old}
    for path, edits, current, label in ((("健康档案", "过敏史"), edit.allergies, h.allergies, "过敏史"),
                                        (("健康档案", "禁忌事项"), edit.contraindications, h.contraindications,
                                         "禁忌事项")):
        new_list = apply_list_edits(current, edits, label)
        if new_list != current:
            changes[path] = new_list
    if any(path[0] == "授权同意" for path in changes):
        for path in [p for p in changes if p[0] == "授权同意"]:
            changes[path] = "是" if changes[path] else "否"  # as the studio writes it (and the README shows)
        changes[("授权同意", "同意日期")] = today
    return changes, warnings


@dataclass
class Edited:
    changes: dict[tuple, object]  # empty: the profile already said so, nothing was written
    warnings: list[str]


def edit_profile(vault: Vault, customer: Customer, edit: ProfileEdit, today: dt.date) -> Edited:
    changes, warnings = edit_changes(customer, edit, vault.index, vault.settings, today)
    if changes:
        update_record(vault.root, customer, changes, loaded=vault.loaded_stamp(customer))
    return Edited(changes, warnings)


# -- managed fields --------------------------------------------------------------------------------
def managed_changes(customer: Customer, visits: list[Visit], settings: Settings,
                    today: dt.date) -> dict[tuple, object]:
    """The 标签, 会员等级 and 积分 the profile should hold today, where they differ from what it holds;
    `visits` are the customer's services (`VaultIndex.visits_of`)."""
    stats = visit_stats_from(customer, visits, settings.segments, today)
    changes: dict[tuple, object] = {}
    tags = merge_tags(customer.tags, segments_of(stats, settings.segments, today))
    if tags != customer.tags:
        changes[("标签",)] = tags
    tier = membership.upgraded_tier(settings.membership, customer.tier,
                                    membership.qualifying_spend_from(customer, visits, settings.membership, today))
    if tier != customer.tier:
        changes[("会员等级",)] = tier
    points = membership.points_balance_from(customer, visits, settings.membership, today).balance
    if points != customer.points and not (points == 0 and customer.points is None):
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
        changes = managed_changes(customer, index.visits_of(customer.id), vault.settings, today)
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


# -- points ------------------------------------------------------------------------------------------
@dataclass
class Redeemed:
    points: int
    worth: Decimal
    balance: membership.PointsBalance  # after the redemption


def redeem_points(vault: Vault, customer: Customer, points: int, today: dt.date,
                  note: str | None = None) -> Redeemed:
    """Record a redemption in 积分记录 and write the new balance into 积分."""
    rules = vault.settings.membership
    services = vault.index.services_of(customer.id)
    before = membership.points_balance(customer, services, rules, today)
    entry = membership.redemption(before, points, rules, today, note)
    after_customer = customer.model_copy(
        update={"points_log": [*customer.points_log, PointsEntry.model_validate(entry)]})
    after = membership.points_balance(after_customer, services, rules, today)
    update_record(vault.root, customer, {("积分",): after.balance}, append={("积分记录",): [entry]},
                  loaded=vault.loaded_stamp(customer))
    return Redeemed(points, membership.points_worth(points, rules), after)


# -- packages ----------------------------------------------------------------------------------------
def add_package(vault: Vault, customer: Customer, entry: dict[str, object]) -> None:
    """Append a 套餐 entry (see membership.new_package) to the profile."""
    update_record(vault.root, customer, {}, append={("套餐",): [entry]}, loaded=vault.loaded_stamp(customer))


def _raw_packages(vault: Vault, customer: Customer) -> list:
    """The profile's 套餐 list as written, user keys and all."""
    raw, _ = read_stamped(vault.root / customer.path)
    _, frontmatter, _ = split_note(raw.decode("utf-8", "replace"))
    try:
        data = yaml.load(frontmatter, Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError:
        raise VaultCRMError(f"{customer.path} 在读取后被改坏了（YAML 语法错误），套餐未扣减") from None
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


__all__ = ["Edited", "ProfileEdit", "Redeemed", "Refresh", "add_package", "apply_list_edits", "charge_package",
           "edit_changes", "edit_profile", "managed_changes", "parse_gender", "redeem_points", "refresh_profiles"]
