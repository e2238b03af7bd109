"""The same customer registered at two stores between syncs: `check` reports it, `customer merge` merges."""

from __future__ import annotations

import pytest
from chain_data import CHAIN_CONFIG

from vaultcrm.chain.dedupe import combine

AT = ("--at", "2026-02-11 10:00")


@pytest.fixture
def two_profiles(vault, cli, monkeypatch):
    root = vault({}, config=CHAIN_CONFIG)
    monkeypatch.setenv("VAULTCRM_STORE", "SH01")
    made = cli(root, "book", "-c", "李四", "--phone", "13900139000", "--date", "2026-02-12", "--time", "10:00",
               "--service", "全身推拿", *AT)
    assert made.exit_code == 0, made.output
    assert cli(root, "log", "APP-SH01-2026-001", "--at", "2026-02-12 11:10").exit_code == 0
    monkeypatch.setenv("VAULTCRM_STORE", "BJ01")
    # BJ01 did not have SH01's profile yet (not synced): a second profile for the same phone
    (root / "客户/C-SH01-0001 李四.md").rename(root / "李四.tmp")
    made = cli(root, "book", "-c", "李四", "--phone", "139-0013-9000", "--date", "2026-02-13", "--time", "11:00",
               "--service", "拔罐", "--note", "怕冷", *AT)
    assert made.exit_code == 0, made.output
    assert "C-BJ01-0001" in made.stdout
    assert cli(root, "log", "APP-BJ01-2026-001", "--at", "2026-02-13 11:40").exit_code == 0
    (root / "李四.tmp").rename(root / "客户/C-SH01-0001 李四.md")
    profile = root / "客户/C-BJ01-0001 李四.md"
    profile.write_text(profile.read_text(encoding="utf-8").replace("标签:", "标签:\n  - 怕冷"), encoding="utf-8")
    return root


def test_check_reports_the_duplicate_and_offers_the_merge(two_profiles, cli):
    result = cli(two_profiles, "check")
    lines = [line for line in result.stdout.splitlines() if "登记了多份客户档案" in line]
    assert [line.split(":")[0] for line in lines] == ["客户/C-BJ01-0001 李四.md", "客户/C-SH01-0001 李四.md"]
    assert "手机号 139****9000 登记了多份客户档案：C-BJ01-0001 李四（BJ01）、C-SH01-0001 李四（SH01）" in lines[0]
    assert "请运行 vaultcrm customer merge C-BJ01-0001 C-SH01-0001" in lines[0]
    assert "不在 vaultcrm.yaml 的技师名单中" not in result.stdout  # SH01's technicians are the chain's too


def test_customer_merge_repoints_everything_and_keeps_the_figures(two_profiles, cli):
    root = two_profiles
    before = cli(root, "stats", "--month", "2026-02", "--format", "json").json()
    result = cli(root, "customer", "merge", "C-SH01-0001", "C-BJ01-0001")
    assert result.exit_code == 0, result.output
    assert "已合并 C-BJ01-0001 → C-SH01-0001 李四" in result.stdout
    assert not (root / "客户/C-BJ01-0001 李四.md").exists()
    for rel in ("预约/BJ01/APP-BJ01-2026-001.md", "服务记录/BJ01/SRV-BJ01-2026-001.md"):
        text = (root / rel).read_text(encoding="utf-8")
        assert "客户编号: C-SH01-0001" in text and '"[[C-SH01-0001 李四]]"' in text, rel
        assert "C-BJ01-0001" not in text
    kept = (root / "客户/C-SH01-0001 李四.md").read_text(encoding="utf-8")
    assert "  - 怕冷" in kept and "## 合并记录" in kept and "合并了 C-BJ01-0001 李四（BJ01）" in kept
    after = cli(root, "stats", "--month", "2026-02", "--format", "json").json()
    assert after["本月"]["总服务人次"] == before["本月"]["总服务人次"] == 2
    assert after["预约来源统计"] == before["预约来源统计"]
    view = cli(root, "customer", "show", "C-SH01-0001", "--format", "json")
    assert view.exit_code == 0, view.output
    assert "duplicate" not in cli(root, "check").stdout and "登记了多份客户档案" not in cli(root, "check").stdout


def test_merge_refuses_unknown_or_identical_profiles(two_profiles, cli):
    assert cli(two_profiles, "customer", "merge", "C-SH01-0001", "C-SH01-0001").exit_code == 1
    missing = cli(two_profiles, "customer", "merge", "C-SH01-0001", "C-GZ01-0001")
    assert missing.exit_code == 1 and "找不到客户 C-GZ01-0001" in missing.output


def test_combine_fills_blanks_joins_lists_adds_points_and_lists_differences():
    keep = {"客户编号": "C-A", "性别": None, "标签": ["老客户"], "积分": 100, "来源渠道": "微信",
            "健康档案": {"过敏史": ["花粉"], "健康关注": None}}
    other = {"客户编号": "C-B", "性别": "女", "标签": ["老客户", "怕冷"], "积分": 20, "来源渠道": "电话",
             "健康档案": {"过敏史": ["精油"], "健康关注": "颈椎"}}
    changes, differing = combine(keep, other)
    assert changes == {("性别",): "女", ("标签",): ["老客户", "怕冷"], ("积分",): 120,
                       ("健康档案", "过敏史"): ["花粉", "精油"], ("健康档案", "健康关注"): "颈椎"}
    assert differing == ["来源渠道：保留「微信」，另一份为「电话」"]
