"""Customer segments (客户分群): the rules behind the automatic tags, and how tags are merged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultcrm.core.config import SegmentRules, Settings
from vaultcrm.customers.segments import MANAGED_TAGS, Segment, add_months, merge_tags, segments_of, visit_stats
from vaultcrm.models import Customer, ServiceRecord

TODAY = dt.date(2026, 6, 30)
RULES = SegmentRules()


def srv(day: dt.date, fee: int | None = 200, n: int = 1) -> ServiceRecord:
    return ServiceRecord.model_validate({"服务编号": f"SRV-2026-{n:03d}", "服务基本信息": {"服务日期": day},
                                         "客户信息": {"客户编号": "C-0001"},
                                         "服务信息": {"服务项目": "全身推拿", "服务费用": fee}})


def customer(**fields) -> Customer:
    return Customer.model_validate({"客户编号": "C-0001", "客户姓名": "张三", **fields})


def days_ago(*ages: int, fee: int | None = 200) -> list[ServiceRecord]:
    return [srv(TODAY - dt.timedelta(days=a), fee, i) for i, a in enumerate(ages, 1)]


def segments(services, today=TODAY, rules=RULES, **fields) -> list[Segment]:
    return segments_of(visit_stats(customer(**fields), services, rules, today), rules, today)


def test_add_months_keeps_the_day_or_takes_the_last_of_the_month():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 3, 15), -3) == dt.date(2025, 12, 15)
    assert add_months(dt.date(2024, 2, 29), -12) == dt.date(2023, 2, 28)


def test_two_visits_a_month_over_three_months_is_frequent():
    six = days_ago(5, 20, 35, 50, 65, 80, 200)  # six in the last 90 days, plus an old one
    assert segments(six) == [Segment.FREQUENT]
    assert segments(six[1:]) == [Segment.POTENTIAL]  # five in 90 days: 1.67 a month


def test_about_one_visit_a_month_is_potential_and_fewer_is_neither():
    assert segments(days_ago(10, 40, 70, 400)) == [Segment.POTENTIAL]
    assert segments(days_ago(10, 70, 400)) == []


def test_a_newcomer_is_averaged_over_their_time_since_the_first_visit_but_at_least_a_month():
    assert segments(days_ago(3, 10)) == [Segment.FREQUENT, Segment.NEW]
    assert segments(days_ago(3)) == [Segment.POTENTIAL, Segment.NEW]
    stats = visit_stats(customer(), days_ago(3, 10), RULES, TODAY)
    assert stats.per_month == 2.0 and stats.first_visit == TODAY - dt.timedelta(days=10)


def test_churn_risk_is_ninety_days_without_a_visit_after_having_come():
    assert segments(days_ago(89, 300)) == []
    assert segments(days_ago(90, 300)) == [Segment.CHURN_RISK]
    assert segments([]) == []  # never came: not a lost customer
    assert segments([], 首次到店=TODAY - dt.timedelta(days=120)) == [Segment.CHURN_RISK]  # 首次到店 counts


def test_new_customer_is_a_first_visit_within_thirty_days():
    assert Segment.NEW in segments(days_ago(29))
    assert Segment.NEW not in segments(days_ago(30))
    assert Segment.NEW not in segments(days_ago(5), 首次到店=TODAY - dt.timedelta(days=400))


def test_high_value_is_twelve_months_of_spend_reaching_the_threshold():
    assert Segment.HIGH_VALUE in segments(days_ago(10, 100, 200, fee=1000))
    assert Segment.HIGH_VALUE not in segments(days_ago(10, 100, 400, fee=1000))  # one is older than a year
    assert Segment.HIGH_VALUE not in segments(days_ago(10, 100, 200, fee=999))


def test_future_and_undated_services_do_not_count_as_visits():
    future = [srv(TODAY + dt.timedelta(days=3), 5000, 1),
              ServiceRecord.model_validate({"服务编号": "SRV-2026-002", "服务信息": {"服务费用": 5000}})]
    stats = visit_stats(customer(), future, RULES, TODAY)
    assert (stats.visits, stats.spend_total, stats.last_visit) == (0, Decimal(0), None)


def test_thresholds_come_from_the_config():
    settings = Settings.model_validate({"客户分群": {"高频月均到店": 1, "流失预警天数": 30, "高价值消费额": "¥500",
                                                 "新客户天数": 7}})
    rules = settings.segments
    assert segments(days_ago(10, 40, 70, 400), rules=rules) == [Segment.FREQUENT, Segment.HIGH_VALUE]
    assert segments(days_ago(31, 300), rules=rules) == [Segment.CHURN_RISK]


@pytest.mark.parametrize("text,segment", [("高频刚需客", Segment.FREQUENT), ("frequent", Segment.FREQUENT),
                                          ("potential", Segment.POTENTIAL), ("churn-risk", Segment.CHURN_RISK),
                                          ("Churn_Risk", Segment.CHURN_RISK), ("new", Segment.NEW),
                                          ("high-value", Segment.HIGH_VALUE), ("流失预警", Segment.CHURN_RISK)])
def test_segment_names_and_english_aliases(text, segment):
    assert Segment.parse(text) is segment


def test_merge_keeps_user_tags_in_place_and_only_moves_the_managed_ones():
    assert merge_tags(["老客户", "流失预警", "朋友介绍"], [Segment.FREQUENT]) == ["老客户", "朋友介绍", "高频刚需客"]
    assert merge_tags(["高价值客户", "VIP"], [Segment.HIGH_VALUE, Segment.NEW]) == ["高价值客户", "VIP", "新客户"]
    assert merge_tags([], []) == []


user_tags = st.lists(st.text(min_size=1, max_size=6).filter(lambda t: t not in MANAGED_TAGS), max_size=6)
tag_lists = st.lists(st.one_of(st.sampled_from(sorted(MANAGED_TAGS)), st.text(min_size=1, max_size=6)), max_size=8)


@given(tag_lists, st.lists(st.sampled_from(list(Segment)), unique=True))
def test_merge_never_touches_user_tags_and_ends_with_exactly_the_segments(existing, wanted):
    merged = merge_tags(existing, wanted)
    assert [t for t in merged if t not in MANAGED_TAGS] == [t for t in existing if t not in MANAGED_TAGS]
    assert {t for t in merged if t in MANAGED_TAGS} == {s.value for s in wanted}
    assert merge_tags(merged, wanted) == merged  # a second run changes nothing
