"""`vaultcrm report`: technicians, services and customers for one month, against hand-computed figures."""

from __future__ import annotations

import csv
import io

import pytest
from stats_data import app, srv

from vaultcrm.stats.customer_report import quintile_scores

CONFIG = """
技师:
  李师傅:
    工作时间: {开始: '09:00', 结束: '18:00'}
    休息日: [周一]
    提成比例: 0.3
  王师傅:
    提成比例: 0.25
服务项目:
  全身推拿: {时长: 60分钟, 价格: ¥198}
  耳穴调理: {时长: 30分钟, 价格: ¥98}
"""

# February 2026: 28 days, four Mondays, so 李师傅 works 24 days × 540 minutes = 12960 minutes.
WORK = {
    "预约/R1.md": app("APP-2026-101", "甲", "2026-02-03", "10:00", "电话", "已完成", duration=""),
    "预约/R2.md": app("APP-2026-102", "乙", "2026-02-04", "10:00", "电话", "已确认", service="耳穴调理", duration="30分钟"),
    "预约/R3.md": app("APP-2026-103", "丙", "2026-02-05", "10:00", "电话", "已取消", duration="90分钟"),
    "预约/R4.md": app("APP-2026-104", "丁", "2026-02-06", "10:00", "电话", "未到店"),
    "预约/R5.md": app("APP-2026-105", "戊", "2026-02-06", "13:00", "电话", "已完成", technician="王师傅",
                      service="耳穴调理"),
    "预约/R6.md": app("APP-2026-106", "己", "2026-03-06", "13:00", "电话", "已完成"),  # another month
    "服务记录/T1.md": srv("SRV-2026-101", "甲", "2026-02-03", "60分钟", satisfaction="非常满意"),
    "服务记录/T2.md": srv("SRV-2026-102", "乙", "2026-02-04", "30分钟", service="耳穴调理", fee="¥98",
                        satisfaction="", stars="3"),
    "服务记录/T3.md": srv("SRV-2026-103", "丙", "2026-02-10", "60分钟", satisfaction="满意"),
    "服务记录/T4.md": srv("SRV-2026-104", "戊", "2026-02-06", "30分钟", technician="王师傅", service="耳穴调理",
                        fee="98元", satisfaction="不满意"),
    "服务记录/T5.md": srv("SRV-2026-105", "庚", "2026-02-11", "60分钟", technician="", fee="180",
                        satisfaction=""),
    "服务记录/T6.md": srv("SRV-2026-106", "己", "2026-03-06", "60分钟"),  # another month
}


@pytest.fixture
def work(vault):
    return vault(WORK, config=CONFIG)


def test_technicians_json(work, cli):
    result = cli(work, "report", "technicians", "--month", "2026-02", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data["month"] == "2026-02"
    rows = {row["技师"]: row for row in data["技师"]}
    assert list(rows) == ["李师傅", "王师傅", "未指定"]
    assert rows["李师傅"] == {"技师": "李师傅", "服务次数": 3, "营业额": 494, "平均满意度": 3.2, "预约数": 4,
                            "取消率": 25.0, "爽约率": 25.0, "利用率": 0.7, "提成比例": 30.0, "提成": 148.2,
                            "流程完成率": None}
    # (4 + 2.5 + 3) / 3: 3 stars sit at 2.5 on the 1–4 scale; booked 60 (catalogue) + 30 of 12960 minutes
    assert rows["王师傅"] == {"技师": "王师傅", "服务次数": 1, "营业额": 98, "平均满意度": 1.0, "预约数": 1,
                            "取消率": 0.0, "爽约率": 0.0, "利用率": None, "提成比例": 25.0, "提成": 24.5, "流程完成率": None}
    assert rows["未指定"]["提成"] is None and rows["未指定"]["营业额"] == 180
    assert data["合计"] == {"技师": "合计", "服务次数": 5, "营业额": 772, "平均满意度": 2.6, "预约数": 5,
                          "取消率": 20.0, "爽约率": 20.0, "利用率": 0.7, "提成比例": None, "提成": 172.7, "流程完成率": None}


def test_technicians_markdown_and_text(work, cli):
    md = cli(work, "report", "技师", "--month", "2026-02", "-f", "md").stdout
    assert md.startswith("# 技师业绩（2026年2月）")
    assert "| 李师傅 | 3 | ¥494 | 3.2 | 4 | 25.0% | 25.0% | 0.7% | 30.0% | ¥148.20 |" in md
    assert "| 王师傅 | 1 | ¥98 | 1.0 | 1 | 0.0% | 0.0% | — | 25.0% | ¥24.50 |" in md
    text = cli(work, "report", "tech", "--month", "2026-02").stdout
    assert "李师傅" in text and "¥148.20" in text and "利用率" in text


def test_services_report(work, cli):
    data = cli(work, "report", "services", "--month", "2026-02", "-f", "json").json()
    assert data["服务项目"] == [
        {"服务项目": "全身推拿", "服务次数": 3, "次数占比": 60.0, "营业额": 576, "营业额占比": 74.6, "平均单价": 192},
        {"服务项目": "耳穴调理", "服务次数": 2, "次数占比": 40.0, "营业额": 196, "营业额占比": 25.4, "平均单价": 98},
    ]
    assert data["合计"] == {"服务项目": "合计", "服务次数": 5, "次数占比": 100.0, "营业额": 772, "营业额占比": 100.0,
                          "平均单价": 154.4}


def test_csv_is_utf8_with_bom_and_plain_numbers(work, cli):
    result = cli(work, "report", "services", "--month", "2026-02", "--format", "csv")
    assert result.exit_code == 0
    raw = result.stdout.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["服务项目", "服务次数", "次数占比", "营业额", "营业额占比", "平均单价"]
    assert rows[1] == ["全身推拿", "3", "60.0", "576", "74.6", "192"]
    assert rows[-1][0] == "合计"


def test_empty_month(work, cli):
    data = cli(work, "report", "technicians", "--month", "2025-07", "-f", "json").json()
    assert data["合计"]["服务次数"] == 0 and data["合计"]["平均满意度"] is None and data["合计"]["取消率"] is None


def test_bad_kind_and_month_are_usage_errors(work, cli):
    assert cli(work, "report", "rooms").exit_code == 2
    assert cli(work, "report", "services", "--month", "2月").exit_code == 2


# Customers, as of 2026-02-28 (the report month's last day).
def _customer(cid: str, name: str) -> str:
    return f"---\n客户编号: {cid}\n客户姓名: {name}\n---\n"


PEOPLE = {
    **{f"客户/{cid} {name}.md": _customer(cid, name) for cid, name in
       [("C-0001", "甲"), ("C-0002", "乙"), ("C-0003", "丙"), ("C-0004", "丁"), ("C-0005", "戊"), ("C-0006", "己")]},
    # 甲: four visits since 25 January, three in February → 高频刚需客; came in January and again in February
    **{f"服务记录/A{i}.md": srv(f"SRV-2026-00{i}", "甲", day, "60分钟", customer_id="C-0001")
       for i, day in enumerate(["2026-01-25", "2026-02-03", "2026-02-10", "2026-02-17"], 1)},
    # 乙: last seen in October → 流失预警
    "服务记录/B.md": srv("SRV-2025-001", "乙", "2025-10-10", "60分钟", customer_id="C-0002", fee="¥98"),
    # 丙: January only (not retained), a later booking that does not count for February
    "服务记录/C.md": srv("SRV-2026-010", "丙", "2026-01-15", "60分钟", customer_id="C-0003"),
    "预约/C.md": app("APP-2026-010", "丙", "2026-03-05", "10:00", "电话", "待服务", customer_id="C-0003"),
    # 丁: first visit 20 February and booked again within 30 days → rebooked
    "服务记录/D.md": srv("SRV-2026-011", "丁", "2026-02-20", "60分钟", customer_id="C-0004", fee="¥298"),
    "预约/D.md": app("APP-2026-011", "丁", "2026-03-10", "10:00", "电话", "已确认", customer_id="C-0004"),
    # 己: 25 February; a cancelled booking within 30 days and one after 60 days → not rebooked
    "服务记录/F.md": srv("SRV-2026-012", "己", "2026-02-25", "60分钟", customer_id="C-0006", fee="¥150"),
    "预约/F1.md": app("APP-2026-012", "己", "2026-03-01", "10:00", "电话", "已取消", customer_id="C-0006"),
    "预约/F2.md": app("APP-2026-013", "己", "2026-04-30", "10:00", "电话", "待服务", customer_id="C-0006"),
}


def test_customers_report(vault, cli):
    root = vault(PEOPLE)
    result = cli(root, "report", "customers", "--month", "2026-02", "--at", "2026-03-15", "-f", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data["客户数"] == 6 and data["本月到店客户"] == 3  # 戊 has a profile and no visit
    assert data["复购率"] == 66.7  # 甲 and 丁 of 甲, 丁, 己
    assert data["留存率"] == 50.0  # 甲 of 甲, 丙
    rows = {row["客户"]: row for row in data["客户"]}
    assert [row["客户"] for row in data["客户"]][:3] == ["甲", "丁", "己"]  # most visits this month first
    assert {name: (r["R"], r["F"], r["M"]) for name, r in rows.items()} == {
        "甲": (3, 5, 5), "乙": (1, 3, 1), "丙": (2, 3, 3), "丁": (4, 3, 4), "己": (5, 3, 2), "戊": (None, None, None)}
    assert rows["甲"]["本月到店"] == 3 and rows["甲"]["最近到店"] == "2026-02-17" and rows["甲"]["累计消费"] == 792
    assert "高频刚需客" in rows["甲"]["分群"]
    assert "流失预警" in rows["乙"]["分群"]
    assert data["分群"]["高频刚需客"] == 1 and data["分群"]["流失预警"] == 1


def test_customers_markdown(vault, cli):
    root = vault(PEOPLE)
    md = cli(root, "report", "customers", "--month", "2026-02", "--at", "2026-03-15", "-f", "md").stdout
    assert "| 复购率 | 66.7% |" in md and "| 留存率 | 50.0% |" in md
    assert "| 甲 | C-0001 | 3 | 2026-02-17 | 4 | ¥792 | 3 | 5 | 5 |" in md


@pytest.mark.parametrize("values, expected", [
    ({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}),
    ({"a": 7, "b": 7, "c": 7}, {"a": 3, "b": 3, "c": 3}),
    ({"a": 1}, {"a": 3}),
    ({str(i): i for i in range(10)}, {str(i): 1 + i // 2 for i in range(10)}),
])
def test_quintiles(values, expected):
    assert quintile_scores(values) == expected
