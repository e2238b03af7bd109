"""`vaultcrm export csv|ics`: Excel-ready CSV files and an RFC 5545 calendar feed."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stats_data import HAND_APP, app, srv

from vaultcrm.exports.ical import escape_text, fold, vtimezone

FOLLOWUP = """---
跟进编号: FLW-2026-001
跟进基本信息:
  跟进日期: 2026-02-14
  跟进方式: 电话
  服务编号: SRV-2026-001
客户信息:
  客户姓名: 张三
跟进内容:
  跟进目的:
    服务效果确认
    客户感受了解
---
"""

CUSTOMER = """---
客户编号: C-0001
客户姓名: 张三
联系方式: '13800138000'
套餐:
  - 名称: 肩颈十次卡
    总次数: 10
    剩余次数: 7
---
"""

FILES = {
    "预约/APP-2026-002.md": app("APP-2026-002", "李四", "2026-02-12", "15:30", "微信", "已确认", technician="王师傅",
                               service="耳穴调理", duration="30分钟"),
    "预约/APP-2026-001.md": app("APP-2026-001", "张三", "2026-02-12", "14:00", "电话", "待服务"),
    "随手记/x.md": HAND_APP,  # APP-2026-006, cancelled: not in the calendar
    "预约/APP-2026-003.md": app("APP-2026-003", "王五", "2026-02-13", "10:00", "电话", "未到店"),
    "预约/APP-2026-004.md": app("APP-2026-004", "赵,六;\\", "2026-02-14", "09:00", "电话", "已完成"),
    "服务记录/SRV-2026-001.md": srv("SRV-2026-001", "张三", "2026-02-12", "60分钟", customer_id="C-0001"),
    "跟进/FLW-2026-001.md": FOLLOWUP,
    "客户/C-0001 张三.md": CUSTOMER,
}


@pytest.fixture
def root(vault):
    return vault(FILES)


def read_csv(path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_export_one_file_per_record_type(root, cli, tmp_path):
    out = tmp_path / "导出"
    result = cli(root, "export", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["客户.csv", "服务记录.csv", "跟进.csv", "预约.csv"]
    apps = read_csv(out / "预约.csv")
    assert [a["预约编号"] for a in apps] == ["APP-2026-001", "APP-2026-002", "APP-2026-003", "APP-2026-004", "APP-2026-006"]
    first = apps[0]
    assert list(first)[:3] == ["预约编号", "预约信息.客户姓名", "预约信息.客户编号"]
    assert (first["预约信息.客户姓名"], first["预约信息.预约日期"], first["预约信息.预约时间"]) == ("张三", "2026-02-12", "14:00")
    assert (first["服务信息.服务时长"], first["服务信息.预计费用"], first["预约状态.当前状态"]) == ("60", "198", "待服务")
    assert first["预约状态.创建时间"] == "2026-01-01 10:00" and first["笔记路径"] == "预约/APP-2026-001.md"
    hand = apps[-1]
    assert (hand["预约信息.预约日期"], hand["预约信息.预约时间"], hand["预约信息.预约渠道"]) == ("2026-02-12", "14:00", "微信")
    assert hand["预约状态.当前状态"] == "已取消" and hand["笔记路径"] == "随手记/x.md"
    flw = read_csv(out / "跟进.csv")[0]
    assert flw["跟进内容.跟进目的"] == "服务效果确认；客户感受了解"
    assert flw["跟进内容.跟进记录.客户反馈"] == ""
    customer = read_csv(out / "客户.csv")[0]
    assert customer["联系方式"] == "13800138000"
    assert '"名称": "肩颈十次卡"' in customer["套餐"] and customer["健康档案.过敏史"] == ""
    srv_row = read_csv(out / "服务记录.csv")[0]
    assert srv_row["服务信息.服务费用"] == "198" and srv_row["客户反馈.满意度"] == "满意"
    again = cli(root, "export", "csv", "--out", str(out))
    assert "内容未变" in again.stdout


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def events(text: str) -> list[dict]:
    found, current = [], None
    for line in unfold(text):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            found.append(current)
            current = None
        elif current is not None:
            name, value = line.split(":", 1)
            current[name] = value
    return found


def test_ics_feed(root, cli, tmp_path):
    result = cli(root, "export", "ics", "--out", str(tmp_path / "预约.ics"))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "预约.ics").read_bytes().decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))
    lines = unfold(text)
    assert "X-WR-TIMEZONE:Asia/Shanghai" in lines and "TZID:Asia/Shanghai" in lines
    assert "TZOFFSETTO:+0800" in lines
    evs = events(text)
    assert [e["UID"] for e in evs] == ["APP-2026-001@vaultcrm", "APP-2026-002@vaultcrm", "APP-2026-004@vaultcrm"]
    first, second, escaped = evs
    assert first["DTSTART;TZID=Asia/Shanghai"] == "20260212T140000"
    assert first["DTEND;TZID=Asia/Shanghai"] == "20260212T150000"
    assert first["SUMMARY"] == "全身推拿 · 张三" and first["STATUS"] == "TENTATIVE"
    assert first["DTSTAMP"] == "20260101T020000Z"  # created 2026-01-01 10:00 in Shanghai
    assert second["DTEND;TZID=Asia/Shanghai"] == "20260212T160000" and second["STATUS"] == "CONFIRMED"
    assert escaped["SUMMARY"] == "全身推拿 · 赵\\,六\\;\\\\"
    assert "\\n技师：李师傅\\n" in escaped["DESCRIPTION"]


def test_ics_for_one_technician_to_a_file(root, cli, tmp_path):
    out = tmp_path / "王师傅.ics"
    result = cli(root, "export", "ics", "--technician", "王师傅", "--out", str(out))
    assert result.exit_code == 0 and "1 个预约" in result.stdout
    text = out.read_bytes().decode("utf-8")
    assert [e["UID"] for e in events(text)] == ["APP-2026-002@vaultcrm"]
    assert "X-WR-CALNAME:健康养生馆预约（王师傅）" in unfold(text)


def test_unknown_technician_is_refused_when_the_config_lists_them(vault, cli):
    root = vault(FILES, config="技师:\n  李师傅:\n    技能: [推拿]\n")
    result = cli(root, "export", "ics", "--technician", "小王")
    assert result.exit_code == 1 and "李师傅" in result.stderr


def test_vtimezone_of_a_zone_with_daylight_saving():
    lines = vtimezone("Europe/Berlin", 2026, 2026)
    text = "\n".join(lines)
    assert "BEGIN:DAYLIGHT\nDTSTART:20260329T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST" in text
    assert "BEGIN:STANDARD\nDTSTART:20261025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET" in text


def test_ics_in_a_daylight_saving_zone(vault, cli):
    root = vault({"预约/APP-2026-001.md": app("APP-2026-001", "Anna", "2026-07-01", "14:00", "电话", "已确认")},
                 config="时区: Europe/Berlin\n")
    printed = cli(root, "export", "ics").stdout  # to the screen (the test runner turns CRLF into LF)
    lines = printed.replace("\n ", "").splitlines()
    assert "DTSTART;TZID=Europe/Berlin:20260701T140000" in lines
    assert "DTSTAMP:20260101T090000Z" in lines  # created 10:00 in Berlin winter time


@given(st.text(alphabet=st.sampled_from("预约服务ab,;\\\n 张三李四😀"), max_size=200))
def test_folding_keeps_lines_short_and_the_text_whole(value):
    line = "DESCRIPTION:" + escape_text(value)
    folded = fold(line)
    assert all(len(part.encode("utf-8")) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line
    assert "\n" not in escape_text(value)


def test_escaping():
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
