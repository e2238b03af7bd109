"""`vaultcrm stats` regenerating notes: content, Mermaid charts, the dashboard's blocks, incrementality."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from stats_data import GOLDEN, app, srv

from vaultcrm.core.loader import load_vault
from vaultcrm.stats.notes import affected_periods, update_statistics
from vaultcrm.stats.periods import Month
from vaultcrm.vault.blocks import markers
from vaultcrm.vault.reader import read_note

AT = ("--at", "2026-02-12 18:00")
DAILY, MONTHLY, DASHBOARD = "统计/日报", "统计/月报", "服务追踪表.md"


@pytest.fixture
def golden(vault):
    return vault(GOLDEN)


def mermaid_blocks(text: str) -> list[dict]:
    """A small parser for the charts vaultcrm writes: kind, title, labels and values."""
    charts = []
    for body in re.findall(r"```mermaid\n(.*?)```", text, re.S):
        lines = [line.strip() for line in body.strip().splitlines()]
        chart = {"kind": lines[0].split()[0], "title": None, "labels": [], "values": []}
        for line in lines[1:]:
            if line.startswith("title "):
                chart["title"] = line[6:].strip('"')
            elif line.startswith("x-axis"):
                chart["labels"] = re.findall(r'"([^"]*)"', line)
            elif line.startswith(("bar ", "line ")):
                chart["series"] = line.split()[0]
                chart["values"] = [int(v) for v in re.findall(r"-?\d+", line)]
            elif line.startswith('"'):
                label, value = re.fullmatch(r'"([^"]*)"\s*:\s*(\d+)', line).groups()
                chart["labels"].append(label)
                chart["values"].append(int(value))
        charts.append(chart)
    return charts


def table_rows(text: str, heading: str) -> dict[str, list[str]]:
    """The Markdown table under `heading`: first cell → the other cells (header row left out)."""
    lines = []
    for line in text.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def mtimes(root) -> dict[str, int]:
    found = {}
    for folder in (DAILY, MONTHLY):
        for name in os.listdir(root / folder):
            found[f"{folder}/{name}"] = os.stat(root / folder / name).st_mtime_ns
    found[DASHBOARD] = os.stat(root / DASHBOARD).st_mtime_ns
    return found


def test_stats_writes_a_note_per_day_and_month_with_records(golden, cli):
    result = cli(golden, "stats", *AT)
    assert result.exit_code == 0, result.output
    days = sorted(os.listdir(golden / DAILY))
    assert days == ["2025-02-03.md", "2025-12-05.md", "2026-01-08.md", "2026-01-20.md", "2026-01-21.md",
                    "2026-02-12.md", "2026-02-13.md", "2026-02-14.md", "2026-02-20.md", "2026-02-25.md"]
    assert sorted(os.listdir(golden / MONTHLY)) == ["2025-02.md", "2025-12.md", "2026-01.md", "2026-02.md"]
    assert f"已更新 排班 7 篇、服务追踪表.md 1 篇、{DAILY} 10 篇、{MONTHLY} 4 篇" in result.stdout
    assert "22 篇笔记有变化" in result.stdout  # 10 days, 4 months, the dashboard, 7 days with appointments


def test_daily_note_content(golden, cli):
    cli(golden, "stats", *AT)
    text = (golden / DAILY / "2026-02-12.md").read_text(encoding="utf-8")
    assert text.startswith("---\n统计类型: 日报\n日期: 2026-02-12\n")
    assert "由 vaultcrm 自动生成，手改会被覆盖" in text
    assert table_rows(text, "## 每日服务统计") == {
        "预约客户数": ["7"], "实际服务数": ["3"], "取消预约数": ["2"], "未到客户数": ["1"], "服务完成率": ["60.0%"]}
    assert table_rows(text, "## 预约时段分析")["下午（12-17）"] == ["2", "28.6%"]
    assert "[[统计/月报/2026-02|2026年2月月报]]" in text
    undefined = (golden / DAILY / "2026-02-14.md").read_text(encoding="utf-8")
    assert table_rows(undefined, "## 每日服务统计")["服务完成率"] == ["—"]


def test_statistics_notes_are_not_records(golden, cli):
    cli(golden, "stats", *AT)
    for rel in (f"{DAILY}/2026-02-12.md", f"{MONTHLY}/2026-02.md", DASHBOARD):
        record, note = read_note(golden, rel)
        assert record is None and not note.diagnostics
    check = cli(golden, "check")
    assert "错误 0" in check.stdout


def test_monthly_note_tables(golden, cli):
    cli(golden, "stats", *AT)
    text = (golden / MONTHLY / "2026-02.md").read_text(encoding="utf-8")
    assert text.startswith("---\n统计类型: 月报\n月份: 2026-02\n")
    assert table_rows(text, "## 月度服务统计") == {
        "总服务人次": ["5", "2", "+150.0%", "1", "+400.0%"],
        "新客户服务": ["3", "1", "+200.0%", "1", "+200.0%"],
        "老客户服务": ["2", "1", "+100.0%", "0", "—"],
        "平均服务时长": ["48分钟", "33分钟", "+45.5%", "60分钟", "-20.0%"],
        "服务完成率": ["57.1%", "66.7%", "-14.4%", "100.0%", "-42.9%"],
    }
    assert table_rows(text, "## 预约来源统计") == {
        "电话预约": ["3", "33.3%"], "微信预约": ["2", "22.2%"], "到店预约": ["2", "22.2%"], "在线预约": ["2", "22.2%"],
        "合计": ["9", "100.0%"]}
    assert table_rows(text, "## 预约时段分析") == {
        "上午（9-12）": ["3", "30.0%"], "下午（12-17）": ["2", "20.0%"], "晚上（17-21）": ["2", "20.0%"],
        "其他": ["3", "30.0%"], "合计": ["10", "100.0%"]}
    january = (golden / MONTHLY / "2026-01.md").read_text(encoding="utf-8")
    assert "[[统计/月报/2025-12|2025年12月]]" in january
    assert table_rows(january, "## 月度服务统计")["平均服务时长"] == ["33分钟", "40分钟", "-17.5%", "—", "—"]


def test_monthly_charts_match_the_figures(golden, cli):
    cli(golden, "stats", *AT)
    charts = mermaid_blocks((golden / MONTHLY / "2026-02.md").read_text(encoding="utf-8"))
    trend, pie, bars = charts
    assert trend["kind"] == "xychart-beta" and trend["series"] == "line"
    assert trend["title"] == "近12个月服务人次（截至2026年2月）"
    assert trend["labels"] == [str(Month(2025, 3).shift(i)) for i in range(12)]
    assert trend["values"] == [0] * 9 + [1, 2, 5]
    assert pie["kind"] == "pie" and pie["title"] == "2026年2月预约来源"
    assert dict(zip(pie["labels"], pie["values"])) == {"电话预约": 3, "微信预约": 2, "到店预约": 2, "在线预约": 2}
    assert bars["kind"] == "xychart-beta" and bars["series"] == "bar"
    assert dict(zip(bars["labels"], bars["values"])) == {"上午": 3, "下午": 2, "晚上": 2, "其他": 3}


def test_pie_leaves_out_empty_channels_and_is_omitted_without_any(vault, cli):
    root = vault({"预约/APP-2026-001.md": app("APP-2026-001", "甲", "2026-03-02", "10:00", "微信", "已完成"),
                  "预约/APP-2026-002.md": app("APP-2026-002", "乙", "2026-04-02", "10:00", None, "已完成")})
    cli(root, "stats", "--at", "2026-04-02")
    march = mermaid_blocks((root / MONTHLY / "2026-03.md").read_text(encoding="utf-8"))
    assert [(c["kind"], c["labels"], c["values"]) for c in march if c["kind"] == "pie"] == [("pie", ["微信预约"], [1])]
    april = (root / MONTHLY / "2026-04.md").read_text(encoding="utf-8")
    assert [c["kind"] for c in mermaid_blocks(april)] == ["xychart-beta", "xychart-beta"]
    assert "暂无填写了渠道的预约" in april


def test_dashboard_blocks_and_text_outside_markers_byte_identical(golden, cli):
    own = ("---\ntitle: 我的总览\n---\r\n# 我的养生馆\r\n\r\n随便写点什么 | 表格\r\n\r\n"
           "<!-- vaultcrm:每日统计 开始 -->\r\n旧内容\r\n<!-- vaultcrm:每日统计 结束 -->\r\n\r\n结尾的字。\r\n")
    (golden / DASHBOARD).write_bytes(own.encode("utf-8"))
    assert cli(golden, "stats", *AT).exit_code == 0
    text = (golden / DASHBOARD).read_bytes().decode("utf-8")
    outside = re.sub(r"<!-- vaultcrm:(\S+) 开始 -->.*?<!-- vaultcrm:\1 结束 -->", "<BLOCK>", text, flags=re.S)
    assert outside.startswith("---\ntitle: 我的总览\n---\r\n# 我的养生馆\r\n\r\n随便写点什么 | 表格\r\n\r\n<BLOCK>\r\n\r\n结尾的字。\r\n")
    assert "旧内容" not in text
    daily = text.split(markers("每日统计")[0])[1].split(markers("每日统计")[1])[0]
    assert "今天（2026-02-12） · [[统计/日报/2026-02-12|日报]]" in daily
    assert "| 服务完成率 | 60.0% |" in daily
    for block in ("月度统计", "预约来源", "预约时段"):
        assert markers(block)[0] in text  # missing blocks are appended, the user's text stays
    assert "\n" not in text.split("---\r\n", 1)[1].replace("\r\n", "")  # blocks follow the note's CRLF
    kinds = [c["kind"] + c.get("series", "") for c in mermaid_blocks(text.replace("\r\n", "\n"))]
    assert kinds == ["xychart-betaline", "pie", "xychart-betabar"]


def test_missing_dashboard_is_created_from_its_template(golden, cli):
    cli(golden, "stats", *AT)
    text = (golden / DASHBOARD).read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: \"服务追踪表\"\n")
    assert "## 服务日志" in text and "| 总服务人次 | 5 | 2 | +150.0% | 1 | +400.0% |" in text


def test_second_run_rewrites_nothing(golden, cli):
    cli(golden, "stats", *AT)
    before = mtimes(golden)
    again = cli(golden, "stats", *AT, "--format", "json")
    assert again.json() == {"updated": [], "profiles": []}
    assert mtimes(golden) == before
    assert "无需改动" in cli(golden, "stats", *AT).stdout


def test_changing_one_appointment_rewrites_its_day_its_month_and_the_dashboard(golden, cli):
    cli(golden, "stats", *AT)
    before = mtimes(golden)
    path = golden / "预约/APP-2026-009.md"
    path.write_text(path.read_text(encoding="utf-8").replace("当前状态: 已完成", "当前状态: 已取消"), encoding="utf-8")
    result = cli(golden, "stats", *AT, "-f", "json")
    assert sorted(result.json()["updated"]) == sorted([f"{DAILY}/2026-02-13.md", f"{MONTHLY}/2026-02.md", DASHBOARD])
    after = mtimes(golden)
    changed = {p for p in before if before[p] != after[p]}
    assert changed == set(result.json()["updated"])
    note = (golden / DAILY / "2026-02-13.md").read_text(encoding="utf-8")
    assert "| 取消预约数 | 1 |" in note


def test_hand_edits_to_a_statistics_note_are_overwritten(golden, cli):
    cli(golden, "stats", *AT)
    note = golden / DAILY / "2026-02-12.md"
    good = note.read_text(encoding="utf-8")
    note.write_text(good.replace("| 预约客户数 | 7 |", "| 预约客户数 | 99 |"), encoding="utf-8")
    result = cli(golden, "stats", *AT, "-f", "json")
    assert result.json()["updated"] == [f"{DAILY}/2026-02-12.md"]
    assert note.read_text(encoding="utf-8") == good


def test_a_day_whose_last_record_went_away_is_zeroed_not_deleted(golden, cli):
    cli(golden, "stats", *AT)
    (golden / "预约/APP-2026-010.md").unlink()
    result = cli(golden, "stats", *AT, "-f", "json")
    assert f"{DAILY}/2026-02-14.md" in result.json()["updated"]
    assert "| 预约客户数 | 0 |" in (golden / DAILY / "2026-02-14.md").read_text(encoding="utf-8")


def test_configured_folders_are_used(vault, cli):
    root = vault({"预约/APP-2026-001.md": app("APP-2026-001", "甲", "2026-03-02", "10:00", "微信", "已完成")},
                 config="目录:\n  日报: 报表/每日\n  月报: 报表/每月\n  总览: 总览.md\n")
    assert cli(root, "stats", "--at", "2026-03-02").exit_code == 0
    assert (root / "报表/每日/2026-03-02.md").is_file() and (root / "报表/每月/2026-03.md").is_file()
    assert "[[报表/每月/2026-03|2026年3月月报]]" in (root / "报表/每日/2026-03-02.md").read_text(encoding="utf-8")
    assert (root / "总览.md").is_file() and not (root / DASHBOARD).exists()


def test_incremental_api_for_watch(golden):
    """What `watch` does: the periods a changed record touches, then only those notes are rewritten."""
    vault = load_vault(golden)
    today = dt.date(2026, 2, 12)
    assert len(update_statistics(vault, today=today)) == 15 + 7  # and the 排班 notes of 7 days
    assert update_statistics(vault, today=today) == []
    old = vault.index.appointments["APP-2026-013"]
    path = golden / old.path
    path.write_text(path.read_text(encoding="utf-8").replace("2026-01-21", "2026-01-22"), encoding="utf-8")
    vault = load_vault(golden)
    new = vault.index.appointments["APP-2026-013"]
    dates, months = affected_periods([old, new], vault.index)
    assert dates == {dt.date(2026, 1, 21), dt.date(2026, 1, 22)} and months == {Month(2026, 1)}
    written = update_statistics(vault, dates=dates, months=months, today=today)
    assert sorted(written) == ["排班/2026-01-21.md", "排班/2026-01-22.md",
                               f"{DAILY}/2026-01-21.md", f"{DAILY}/2026-01-22.md"]  # January's figures did not move


def test_affected_periods_follow_a_customers_first_service(golden):
    """Adding an earlier service for 周九 makes their February visit a returning one."""
    vault = load_vault(golden)
    earlier = srv("SRV-2024-001", "周九", "2024-05-01", "60分钟")
    (golden / "服务记录/SRV-2024-001.md").write_text(earlier, encoding="utf-8")
    update_statistics(vault, today=dt.date(2026, 2, 12))
    vault = load_vault(golden)
    added = vault.index.services["SRV-2024-001"]
    dates, months = affected_periods([added], vault.index)
    assert dates == {dt.date(2024, 5, 1)}
    assert months == {Month(2024, 5), Month(2026, 2)}
    written = update_statistics(vault, dates=dates, months=months, today=dt.date(2026, 2, 12))
    assert f"{MONTHLY}/2026-02.md" in written and f"{MONTHLY}/2024-05.md" in written
    text = (golden / MONTHLY / "2026-02.md").read_text(encoding="utf-8")
    assert table_rows(text, "## 月度服务统计")["新客户服务"][0] == "2"
