"""SPEC's table "Values: as written, and what is accepted on read", one normaliser at a time."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from vaultcrm import values as v


@pytest.mark.parametrize("raw", ["2026-02-12", dt.date(2026, 2, 12), "2026/2/12", "2026年2月12日", "2026-2-12",
                                 dt.datetime(2026, 2, 12, 10, 0), " 2026/02/12 "])
def test_dates(raw):
    assert v.parse_date(raw) == dt.date(2026, 2, 12)


@pytest.mark.parametrize("raw", ["2026-02-30", "12/2/2026", "明天", 20260212])
def test_bad_dates_say_the_expected_form(raw):
    with pytest.raises(ValueError, match="2026-02-12"):
        v.parse_date(raw)


@pytest.mark.parametrize("raw,expected", [
    ("14:00", dt.time(14)), (840, dt.time(14)),  # bare 14:00 as PyYAML (YAML 1.1) reads it
    ("14:00:00", dt.time(14)), (50400, dt.time(14)),  # bare 14:00:00 is base-60 seconds
    ("09:30", dt.time(9, 30)), (570, dt.time(9, 30)), ("9:30", dt.time(9, 30)), ("１４：００", dt.time(14)),
    (dt.time(14, 0), dt.time(14)), ("14点", dt.time(14)), ("14点30分", dt.time(14, 30)),
])
def test_times(raw, expected):
    assert v.parse_time(raw) == expected


@pytest.mark.parametrize("raw", ["25:00", "14:61", 86400, -1, "下午", True])
def test_bad_times(raw):
    with pytest.raises(ValueError):
        v.parse_time(raw)


@pytest.mark.parametrize("raw", ["2026-02-11 10:00", "2026-02-11T10:00", dt.datetime(2026, 2, 11, 10),
                                 "2026-02-11 10:00:00", "2026/2/11 10:00"])
def test_datetimes(raw):
    assert v.parse_datetime(raw) == dt.datetime(2026, 2, 11, 10, 0)


def test_aware_timestamp_is_converted_to_store_time():
    from zoneinfo import ZoneInfo

    utc = dt.datetime(2026, 2, 11, 2, 0, tzinfo=dt.timezone.utc)
    assert v.parse_datetime(utc, ZoneInfo("Asia/Shanghai")) == dt.datetime(2026, 2, 11, 10, 0)


@pytest.mark.parametrize("raw", ["13800138000", 13800138000, "138 0013 8000", "138-0013-8000", "+8613800138000"])
def test_phones_are_text(raw):
    assert v.parse_phone(raw) in {"13800138000", "+8613800138000"}
    assert isinstance(v.parse_phone(raw), str)


@pytest.mark.parametrize("raw", ["¥198", "198", 198, "198元", "¥198.00", "￥198", 198.0, "RMB 198"])
def test_money(raw):
    assert v.parse_money(raw) == Decimal(198)


def test_money_keeps_cents_and_never_writes_exponents():
    assert v.format_money(v.parse_money("¥19.50")) == "¥19.5"
    assert v.format_money(v.parse_money(Decimal("1.68E+3"))) == "¥1680"


@pytest.mark.parametrize("raw", ["30分钟", "30", 30, "30 分钟", "30min", "30 mins", "0.5小时"])
def test_durations(raw):
    assert v.parse_minutes(raw) == 30


@pytest.mark.parametrize("raw,status", [("待服务", "PENDING"), ("PENDING", "PENDING"), ("pending", "PENDING"),
                                        ("In_Progress", "IN_PROGRESS"), ("no-show", "NO_SHOW"), ("已取消", "CANCELLED")])
def test_status_names_and_codes(raw, status):
    assert v.AppointmentStatus.parse(raw).code == status


@pytest.mark.parametrize("raw,channel", [("电话", "电话"), ("phone", "电话"), ("wechat", "微信"), ("walk-in", "到店"),
                                         ("Walk In", "到店"), ("online", "在线"), ("微信预约", "微信")])
def test_channels(raw, channel):
    assert v.Channel.parse(raw).value == channel


@pytest.mark.parametrize("raw,strength", [("轻", "轻"), ("light", "轻"), ("medium", "中"), ("firm", "重")])
def test_strength(raw, strength):
    assert v.Strength.parse(raw).value == strength


def test_unknown_choice_lists_the_choices():
    with pytest.raises(ValueError, match="待服务、已确认"):
        v.AppointmentStatus.parse("maybe")


@pytest.mark.parametrize("placeholder", ["¥", "分钟", "轻/中/重", "非常满意/满意/一般/不满意", "电话/微信/到店", "", None])
def test_placeholders_read_as_not_filled(placeholder):
    for normalise in (v.parse_money, v.parse_minutes, v.parse_text, v.Strength.parse, v.Satisfaction.parse,
                      v.Channel.parse, v.AppointmentStatus.parse, v.parse_date, v.parse_time, v.parse_phone):
        assert normalise(placeholder) is None, normalise


def test_template_multiline_list_reads_one_item_a_line():
    # YAML folds the seed's multi-line plain scalar into one line with spaces
    assert v.parse_list("服务效果确认 客户感受了解 后续服务建议") == ["服务效果确认", "客户感受了解", "后续服务建议"]
    assert v.parse_list(["艾草", None, " 精油 "]) == ["艾草", "精油"]
    assert v.parse_list(None) == []


@given(st.integers(min_value=0, max_value=23), st.integers(min_value=0, max_value=59))
def test_every_time_survives_obsidian_dropping_the_quotes(hour, minute):
    # Obsidian turns '14:00' into a bare 14:00, which PyYAML reads base-60
    import yaml

    bare = yaml.load(f"t: {hour}:{minute:02d}", Loader=yaml.CSafeLoader)["t"]
    assert v.parse_time(bare) == dt.time(hour, minute)


@given(st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False))
def test_money_round_trips_through_its_written_form(amount):
    parsed = v.parse_money(amount)
    assert v.parse_money(v.format_money(parsed)) == parsed
