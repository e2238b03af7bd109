"""Membership rules: tiers and discounts, points with expiry and redemptions, packages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultcrm.core.config import Settings
from vaultcrm.customers.membership import (
    consume_package,
    discounted_price,
    earned_tier,
    new_package,
    points_balance,
    qualifying_spend,
    redemption,
    upgraded_tier,
)
from vaultcrm.errors import VaultCRMError
from vaultcrm.models import Customer, ServiceRecord
from vaultcrm.models.customer import Package

TODAY = dt.date(2026, 6, 30)
SETTINGS = Settings()
RULES = SETTINGS.membership


def srv(day: str, fee, n: int = 1, service: str = "全身推拿") -> ServiceRecord:
    return ServiceRecord.model_validate({"服务编号": f"SRV-2026-{n:03d}", "服务基本信息": {"服务日期": day},
                                         "服务信息": {"服务项目": service, "服务费用": fee}})


def customer(**fields) -> Customer:
    return Customer.model_validate({"客户编号": "C-0001", "客户姓名": "张三", **fields})


# -- tiers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tier,price,expected", [("普通", 198, "178.2"), ("银卡", 198, "168.3"), ("金卡", 198, "158.4"),
                                                 ("钻石", 198, "148.5"), ("钻石", 100, "75"), (None, 100, "90"),
                                                 ("VIP", 100, "90")])
def test_the_tier_discount_applies_to_the_price(tier, price, expected):
    assert discounted_price(SETTINGS, customer(会员等级=tier), Decimal(price)) == Decimal(expected)


def test_discounts_come_from_the_config_and_a_new_customer_gets_the_lowest_tier():
    settings = Settings.model_validate({"会员": {"等级": {"普通": {"门槛": 0, "折扣": 10}, "贵宾": {"门槛": "¥3000", "折扣": "8.8折"}}}})
    assert discounted_price(settings, None, Decimal(198)) == Decimal(198)
    assert discounted_price(settings, customer(会员等级="贵宾"), Decimal(198)) == Decimal("174.24")
    assert discounted_price(settings, customer(会员等级="金卡"), Decimal(198)) == Decimal(198)  # not a tier there
    assert discounted_price(SETTINGS, None, None) is None


def test_tiers_are_earned_by_spend_and_never_lowered():
    assert [earned_tier(RULES, Decimal(x)) for x in (0, 1999, 2000, 5000, 12000)] == ["普通", "普通", "银卡", "金卡", "钻石"]
    assert upgraded_tier(RULES, None, Decimal(0)) == "普通"
    assert upgraded_tier(RULES, "普通", Decimal(2500)) == "银卡"
    assert upgraded_tier(RULES, "金卡", Decimal(2500)) == "金卡"  # a bought card stays
    assert upgraded_tier(RULES, "VIP", Decimal(20000)) == "VIP"  # the studio's own name is left alone


def test_a_tier_is_earned_by_twelve_months_of_services_or_a_package_bought_in_them():
    services = [srv("2026-05-01", 1500, 1), srv("2025-05-01", 9000, 2)]  # the second is too old
    assert qualifying_spend(customer(), services, RULES, TODAY) == Decimal(1500)
    bought = customer(套餐=[{"名称": "储值卡", "总金额": "¥6000", "余额": "¥6000", "开始日期": "2026-06-01"}])
    assert qualifying_spend(bought, services, RULES, TODAY) == Decimal(6000)


# -- points -------------------------------------------------------------------------------------------
def test_one_point_per_yuan_of_service_fees_until_today():
    services = [srv("2026-06-01", 198, 1), srv("2026-06-02", "¥98.6", 2), srv("2026-07-01", 500, 3),
                srv("2026-06-03", None, 4)]
    p = points_balance(customer(), services, RULES, TODAY)
    assert (p.balance, p.earned, p.value) == (296, 296, Decimal("2.96"))


def test_points_expire_twelve_months_after_they_were_earned():
    services = [srv("2025-06-30", 100, 1), srv("2025-07-01", 50, 2)]
    p = points_balance(customer(), services, RULES, TODAY)
    assert (p.balance, p.expired) == (50, 100)
    assert p.next_expiry == (dt.date(2026, 7, 1), 50)
    never = Settings.model_validate({"会员": {"积分有效月数": 0}}).membership
    assert points_balance(customer(), services, never, TODAY).balance == 150


def test_redemptions_spend_the_oldest_points_first():
    services = [srv("2025-07-15", 100, 1), srv("2026-03-01", 300, 2)]
    log = [{"日期": "2026-04-01", "积分": -150, "说明": "兑换"}]
    p = points_balance(customer(积分记录=log), services, RULES, TODAY)
    assert (p.balance, p.redeemed, p.expired) == (250, 150, 0)
    later = points_balance(customer(积分记录=log), services, RULES, dt.date(2027, 2, 1))
    assert (later.balance, later.expired) == (250, 0)  # the old 100 were spent before they could expire


def test_positive_adjustments_count_and_future_log_lines_do_not():
    log = [{"日期": "2026-01-01", "积分": 500, "说明": "老系统迁移"}, {"日期": "2026-12-01", "积分": -500}]
    assert points_balance(customer(积分记录=log), [], RULES, TODAY).balance == 500


def test_a_redemption_is_refused_beyond_the_balance():
    p = points_balance(customer(), [srv("2026-06-01", 300)], RULES, TODAY)
    assert redemption(p, 200, RULES, TODAY) == {"日期": TODAY, "积分": -200, "说明": "兑换（抵 ¥2）"}
    with pytest.raises(VaultCRMError, match="积分不足：当前可用 300 分"):
        redemption(p, 301, RULES, TODAY)
    with pytest.raises(VaultCRMError, match="正整数"):
        redemption(p, 0, RULES, TODAY)


@given(st.lists(st.tuples(st.integers(0, 700), st.integers(0, 400)), max_size=8),
       st.lists(st.tuples(st.integers(0, 700), st.integers(1, 300)), max_size=4))
def test_the_balance_is_never_more_than_earned_minus_redeemed(earned, redeemed):
    start = dt.date(2024, 9, 1)
    services = [srv((start + dt.timedelta(days=d)).isoformat(), fee, i) for i, (d, fee) in enumerate(earned, 1)]
    log = [{"日期": start + dt.timedelta(days=d), "积分": -n} for d, n in redeemed]
    p = points_balance(customer(积分记录=log), services, RULES, TODAY)
    assert p.balance <= p.earned - p.redeemed
    assert p.balance + p.expired == p.earned - p.redeemed



@given(st.lists(st.tuples(st.integers(0, 700), st.integers(0, 400)), max_size=8),
       st.lists(st.tuples(st.integers(0, 700), st.integers(1, 300)), max_size=3),
       st.sampled_from([0, 1, 12, 24]))
def test_a_balance_with_nothing_redeemed_is_what_following_every_lot_gives(earned, added, months):
    """The short way taken when nothing was spent (most customers) agrees with following each lot."""
    from vaultcrm.core.index import visits_of
    from vaultcrm.customers.membership import _spent_balance, points_balance_from

    rules = Settings.model_validate({"会员": {"积分有效月数": months}}).membership
    start = dt.date(2024, 9, 1)
    services = [srv((start + dt.timedelta(days=d)).isoformat(), fee, i) for i, (d, fee) in enumerate(earned, 1)]
    log = [{"日期": start + dt.timedelta(days=d), "积分": n} for d, n in added]
    c = customer(积分记录=log)
    entries = [e for e in c.points_log if e.date and e.points and e.date <= TODAY]
    short = points_balance_from(c, visits_of(services), rules, TODAY)
    assert short == _spent_balance(visits_of(services), entries, rules, TODAY)
    assert short.balance + short.expired == short.earned

# -- packages ----------------------------------------------------------------------------------------
SESSIONS = {"名称": "推拿10次卡", "服务项目": "全身推拿", "总次数": 10, "剩余次数": 3, "开始日期": "2026-01-01",
            "结束日期": "2026-12-31"}
ANY_SESSIONS = {"名称": "通用次卡", "总次数": 5, "剩余次数": 5, "开始日期": "2026-01-01", "结束日期": "2026-09-30"}
STORED = {"名称": "储值卡", "总金额": "¥1000", "余额": "¥150", "开始日期": "2026-01-01"}


def test_a_session_card_for_the_service_pays_first():
    c = customer(套餐=[STORED, ANY_SESSIONS, SESSIONS])
    use = consume_package(c, "全身推拿", Decimal(198), TODAY)
    assert (use.index, use.package.sessions_left, use.paid) == (2, 2, None)
    assert use.describe() == "推拿10次卡（扣 1 次，推拿10次卡 剩余 2/10 次）"
    use = consume_package(c, "足疗", Decimal(128), TODAY)
    assert (use.index, use.package.name) == (1, "通用次卡")


def test_a_stored_value_pays_what_it_holds():
    c = customer(套餐=[STORED])
    use = consume_package(c, "足疗", Decimal(128), TODAY)
    assert (use.paid, use.package.value_left) == (Decimal(128), Decimal(22))
    use = consume_package(c, "全身推拿", Decimal(198), TODAY)
    assert (use.paid, use.package.value_left) == (Decimal(150), Decimal(0))
    assert consume_package(c, "全身推拿", None, TODAY) is None  # nothing to pay


@pytest.mark.parametrize("package,day", [({**SESSIONS, "剩余次数": 0}, TODAY), (SESSIONS, dt.date(2027, 1, 1)),
                                         (SESSIONS, dt.date(2025, 12, 31)), ({**STORED, "余额": "¥0"}, TODAY)])
def test_a_used_up_or_out_of_date_package_does_not_pay(package, day):
    assert consume_package(customer(套餐=[package]), "全身推拿", Decimal(198), day) is None


def test_package_changes_keep_the_users_own_keys():
    c = customer(套餐=[SESSIONS])
    raw = [{**SESSIONS, "备注": "送一次足疗"}]
    changes = consume_package(c, "全身推拿", Decimal(198), TODAY).changes(raw)
    assert changes == {("套餐",): [{**SESSIONS, "剩余次数": 2, "备注": "送一次足疗"}]}
    assert raw[0]["剩余次数"] == 3  # the caller's data is not modified


def test_new_package_is_sessions_or_a_value():
    entry = new_package("储值卡", sessions=None, value=Decimal(1000), start=TODAY, end=None, service=None)
    assert Package.model_validate(entry).value_left == Decimal(1000)
    assert list(entry) == ["名称", "服务项目", "总次数", "剩余次数", "总金额", "余额", "开始日期", "结束日期"]
    for kwargs, message in (({"sessions": 5, "value": Decimal(1)}, "二选一"), ({"sessions": None, "value": None}, "二选一"),
                            ({"sessions": 0, "value": None}, "正整数"),
                            ({"sessions": 5, "value": None, "end": dt.date(2026, 1, 1)}, "早于")):
        with pytest.raises(VaultCRMError, match=message):
            new_package("次卡", start=TODAY, service=None, **{"end": None, **kwargs})
