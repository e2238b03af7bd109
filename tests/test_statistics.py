"""Statistics figures against the hand-computed golden vault, through the real CLI and the core API."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_data import DAY_2026_02_12, FEB_2026, GOLDEN, JAN_2026_TABLE, app

from vaultcrm.core.index import VaultIndex
from vaultcrm.core.loader import load_vault
from vaultcrm.models import Appointment
from vaultcrm.stats.figures import Ledger, Tally, change, daily_figures, monthly_figures, percent, time_slot
from vaultcrm.stats.periods import Month

SPEC_DAILY_KEYS = ["date", "预约客户数", "实际服务数", "取消预约数", "未到客户数", "服务完成率", "预约来源统计", "预约时段分析"]
SPEC_MONTHLY_KEYS = ["month", "本月", "上月", "去年同月", "环比", "同比", "预约来源统计", "预约时段分析"]
FIGURE_KEYS = ["总服务人次", "新客户服务", "老客户服务", "平均服务时长", "服务完成率"]


@pytest.fixture
def golden(vault):
    return vault(GOLDEN)


def test_daily_json_is_spec_shaped_and_hand_computed(golden, cli):
    result = cli(golden, "stats", "--date", "2026-02-12", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert list(data) == SPEC_DAILY_KEYS
    assert list(data["预约来源统计"]) == ["电话", "微信", "到店", "在线"]
    assert list(data["预约时段分析"]) == ["上午", "下午", "晚上", "其他"]
    assert data == DAY_2026_02_12


def test_daily_edges_other_days(golden, cli):
    evening = cli(golden, "stats", "--date", "2026/2/13", "--format", "json").json()
    assert evening["预约时段分析"] == {"上午": 0, "下午": 0, "晚上": 1, "其他": 1}  # 20:59 and no time
    assert evening["服务完成率"] == 50.0
    all_cancelled = cli(golden, "stats", "--date", "2026-02-14", "--format", "json").json()
    assert (all_cancelled["预约客户数"], all_cancelled["取消预约数"], all_cancelled["服务完成率"]) == (1, 1, None)
    empty = cli(golden, "stats", "--date", "2030-01-01", "--format", "json").json()
    assert empty["预约客户数"] == 0 and empty["服务完成率"] is None


def test_monthly_json_is_spec_shaped_and_hand_computed(golden, cli):
    result = cli(golden, "stats", "--month", "2026-02", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert list(data) == SPEC_MONTHLY_KEYS
    for column in ("本月", "上月", "去年同月", "环比", "同比"):
        assert list(data[column]) == FIGURE_KEYS
    assert data == FEB_2026


def test_january_compares_with_december_of_the_year_before(golden, cli):
    data = cli(golden, "stats", "--month", "2026年1月", "--format", "json").json()
    assert data["month"] == "2026-01"
    assert {k: data[k] for k in JAN_2026_TABLE} == JAN_2026_TABLE


def test_warm_cache_gives_the_same_figures(golden, cli):
    first = cli(golden, "stats", "--month", "2026-02", "-f", "json").json()
    assert (golden / ".vaultcrm" / "cache").is_dir()
    assert cli(golden, "stats", "--month", "2026-02", "-f", "json").json() == first == FEB_2026


def test_text_and_markdown_formats(golden, cli):
    text = cli(golden, "stats", "--date", "2026-02-12")
    assert text.exit_code == 0
    assert "服务完成率" in text.stdout and "60.0%" in text.stdout
    md = cli(golden, "stats", "--month", "2026-02", "--format", "md").stdout
    assert "| 总服务人次 | 5 | 2 | +150.0% | 1 | +400.0% |" in md
    assert "| 老客户服务 | 2 | 1 | +100.0% | 0 | — |" in md
    assert "| 平均服务时长 | 48分钟 | 33分钟 | +45.5% | 60分钟 | -20.0% |" in md
    assert "> 另有 1 个预约未填写预约渠道，未计入上表。" in md


@pytest.mark.parametrize("args, message", [
    (["--date", "2026-13-01"], "--date"),
    (["--month", "2026-13"], "--month"),
    (["--date", "2026-02-12", "--month", "2026-02"], "只能选一个"),
    (["--format", "xml"], "--format"),
])
def test_bad_options_are_usage_errors(golden, cli, args, message):
    result = cli(golden, "stats", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_core_api_matches_the_cli(golden):
    vault = load_vault(golden)
    assert daily_figures(vault.index, dt.date(2026, 2, 12)).to_json() == DAY_2026_02_12
    assert Ledger(vault.index).daily(dt.date(2026, 2, 12)).to_json() == DAY_2026_02_12
    monthly = monthly_figures(vault.index, Month(2026, 2))
    assert monthly.to_json() == FEB_2026
    assert [n for _, n in monthly.trend] == [0] * 9 + [1, 2, 5]  # 2025-03 … 2026-02
    assert str(monthly.trend[0][0]) == "2025-03"


@pytest.mark.parametrize("clock, slot", [
    ("08:59", "其他"), ("09:00", "上午"), ("11:59", "上午"), ("12:00", "下午"), ("16:59", "下午"),
    ("17:00", "晚上"), ("20:59", "晚上"), ("21:00", "其他"), ("00:00", "其他"), (None, "其他"),
])
def test_time_slot_edges(clock, slot):
    assert time_slot(dt.time.fromisoformat(clock) if clock else None) == slot


def test_rounding_is_half_up_and_zero_bases_are_undefined():
    assert percent(1, 16) == 6.3  # 6.25: float rounding would give 6.2
    assert percent(2, 3) == 66.7
    assert percent(5, 0) is None
    assert change(5, 0) is None and change(None, 3) is None and change(3, None) is None
    assert change(1, 8) == -87.5 and change(9, 8) == 12.5


def test_month_arithmetic():
    jan = Month.parse("2026-1")
    assert str(jan.previous()) == "2025-12" and str(jan.year_ago()) == "2025-01"
    assert Month.parse("2024/02").last_day == dt.date(2024, 2, 29)
    assert str(Month(2026, 2).shift(-14)) == "2024-12"
    with pytest.raises(ValueError):
        Month.parse("二月")


STATUSES = ["待服务", "已确认", "服务中", "已完成", "已取消", "未到店", ""]
CHANNELS = ["电话", "微信", "到店", "在线", ""]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(STATUSES), st.sampled_from(CHANNELS),
                          st.one_of(st.none(), st.times().map(lambda t: t.replace(second=0, microsecond=0)))),
                max_size=25))
def test_ledger_columns_agree_with_the_definitions(rows):
    """The column path (no models) and the model path count exactly what SPEC defines."""
    records = [Appointment.model_validate({
        "预约编号": f"APP-2026-{n:03d}", "path": f"预约/APP-2026-{n:03d}.md",
        "预约信息": {"客户姓名": "某", "预约日期": dt.date(2026, 2, 10 + day),
                 "预约时间": time.strftime("%H:%M") if time else None, "预约渠道": channel or None},
        "预约状态": {"当前状态": status or None}}) for n, (day, status, channel, time) in enumerate(rows, 1)]
    index = VaultIndex(None, records)
    ledger = Ledger(index)
    for day in (dt.date(2026, 2, 10 + d) for d in range(4)):
        mine = [(s, c, t) for d, s, c, t in rows if dt.date(2026, 2, 10 + d) == day]
        figures = ledger.daily(day)
        assert figures == daily_figures(index, day)
        tally = figures.appointments
        assert tally.booked == len(mine)
        assert tally.cancelled == sum(s == "已取消" for s, _, _ in mine)
        completed = sum(s == "已完成" for s, _, _ in mine)
        assert tally.completion_rate == percent(completed, tally.booked - tally.cancelled)
        assert sum(tally.channels.values()) + tally.unfilled_channel == len(mine)
        assert tally.slots == Tally.of((None, None, t) for _, _, t in mine).slots


def test_unfilled_template_notes_load_and_count(vault, cli):
    """A note made from the raw template (placeholders everywhere) counts as booked, in no channel, 其他."""
    raw = app("APP-2026-001", "", "2026-02-12", None, "电话/微信/到店", "").replace("60分钟", "分钟")
    root = vault({"预约/APP-2026-001.md": raw})
    data = cli(root, "stats", "--date", "2026-02-12", "-f", "json").json()
    assert data["预约客户数"] == 1 and data["预约时段分析"]["其他"] == 1
    assert sum(data["预约来源统计"].values()) == 0
    assert data["服务完成率"] == 0.0  # one pending appointment, none completed
