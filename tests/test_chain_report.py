"""Chain statistics: `report stores`, `--store` on stats and report; the chain equals the sum of its stores."""

from __future__ import annotations

import pytest
from chain_data import CHAIN_CONFIG

AT = ("--at", "2026-02-01 08:00")


@pytest.fixture
def chain(vault, cli, monkeypatch):
    root = vault({}, config=CHAIN_CONFIG)
    plan = {"SH01": [("张三", "13800000001", "10:00", "done"), ("李四", "13800000002", "14:00", "done"),
                     ("王五", "13800000003", "16:00", "未到店")],
            "BJ01": [("张三", "13800000001", "11:00", "done"), ("赵六", "13800000004", "15:00", "已取消")]}
    for store, visits in plan.items():
        monkeypatch.setenv("VAULTCRM_STORE", store)
        for n, (name, phone, time, outcome) in enumerate(visits, 1):
            made = cli(root, "book", "-c", name, "--phone", phone, "--date", "2026-02-12", "--time", time,
                       "--service", "全身推拿", "--channel", "wechat" if store == "SH01" else "phone", *AT)
            assert made.exit_code == 0, made.output
            app = f"APP-{store}-2026-{n:03d}"
            if outcome == "done":
                done = cli(root, "log", app, "--at", f"2026-02-12 {int(time[:2]) + 1}:10")
                assert done.exit_code == 0, done.output
            else:
                assert cli(root, "status", app, outcome, "--at", "2026-02-12 20:00", "--force").exit_code == 0
    monkeypatch.delenv("VAULTCRM_STORE")
    return root


def test_report_stores_per_store_and_chain_total(chain, cli):
    result = cli(chain, "report", "stores", "--month", "2026-02", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    rows = {row["门店"]: row for row in data["各门店"]}
    assert rows["SH01"]["名称"] == "静安店" and rows["BJ01"]["名称"] == "朝阳店"
    assert (rows["SH01"]["服务人次"], rows["BJ01"]["服务人次"]) == (2, 1)
    assert (rows["SH01"]["新客户"], rows["BJ01"]["新客户"]) == (2, 0)  # 张三 came to SH01 first
    assert (rows["SH01"]["爽约"], rows["BJ01"]["爽约"]) == (1, 0)
    assert rows["SH01"]["完成率"] == 66.7 and rows["BJ01"]["完成率"] == 100.0
    total = data["合计"]
    for key in ("服务人次", "营业额", "新客户", "预约数", "爽约"):
        assert total[key] == rows["SH01"][key] + rows["BJ01"][key], key
    assert total["完成率"] == 75.0  # 3 completed of 5 − 1 cancelled: from the sums, not an average


def test_store_figures_add_up_to_the_chain(chain, cli):
    whole = cli(chain, "stats", "--month", "2026-02", "--format", "json").json()
    parts = [cli(chain, "stats", "--month", "2026-02", "--format", "json", "--store", code).json()
             for code in ("SH01", "BJ01")]
    assert whole["本月"]["总服务人次"] == sum(p["本月"]["总服务人次"] for p in parts) == 3
    assert whole["预约来源统计"]["合计"]["数量"] == 5
    for channel, share in whole["预约来源统计"].items():
        assert share["数量"] == sum(p["预约来源统计"][channel]["数量"] for p in parts), channel
    tech = cli(chain, "report", "technicians", "--month", "2026-02", "--format", "json", "--store", "BJ01").json()
    assert [row["技师"] for row in tech["技师"] if row["服务次数"]] == ["赵师傅"]


def test_the_chain_note_has_a_mermaid_chart(chain, cli):
    result = cli(chain, "report", "stores", "--month", "2026-02", "--format", "md")
    assert result.exit_code == 0, result.output
    note = (chain / "统计/月报/连锁-2026-02.md").read_text(encoding="utf-8")
    assert note == result.stdout
    assert "| SH01 | 静安店 | 2 |" in note and "| 合计 | 全连锁 | 3 |" in note
    assert '```mermaid\nxychart-beta\n    title "各门店服务人次"\n    x-axis ["静安店", "朝阳店"]' in note
    assert "    bar [2, 1]" in note


def test_an_unknown_store_is_refused(chain, cli):
    result = cli(chain, "report", "stores", "--store", "GZ01")
    assert result.exit_code == 1 and "未知的门店「GZ01」" in result.output
    assert cli(chain, "stats", "--store", "SH01").exit_code == 2
