"""PIPL: health data needs consent, `customer forget` and `purge` anonymise without moving a statistic.

The vault is the statistics golden vault (notes tied to 张三 by 客户编号, by phone and by name only,
hand-written dates and times) plus a richer profile, a follow-up, a referral and a reminder digest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from stats_data import GOLDEN

from vaultcrm.cli import options as options_cli
from vaultcrm.core.loader import load_vault
from vaultcrm.privacy.actions import Scrubber
from vaultcrm.privacy.audit import read_audit
from vaultcrm.privacy.rules import plan_forget

PROFILE = """---
客户编号: C-0001
客户姓名: 张三
联系方式: '13800138000'
性别: 男
生日: 1980-05-06
首次到店: 2025-02-03
健康档案:
  过敏史:
    - 薰衣草精油
  禁忌事项:
    - 高血压慎用热石
  健康关注: 腰椎间盘突出
标签:
  - 老客户
推荐人: 李雷
授权同意:
  健康数据: 是
  营销: 否
  同意日期: 2025-02-03
积分: 120
---

# C-0001 张三

## 备注
张三喜欢安静，电话 13800138000 下午打。
"""
FOLLOWUP = """---
跟进编号: FLW-2026-001
跟进基本信息:
  跟进日期: 2026-02-15
  跟进方式: 电话
  服务编号: SRV-2026-001
客户信息:
  客户姓名: 张三
  客户编号: C-0001
  客户档案: "[[C-0001 张三]]"
  联系方式: '13800138000'
跟进内容:
  跟进目的:
    - 效果回访
---

# FLW-2026-001 · 张三
客户：[[C-0001 张三]]
"""
REFERRED = "---\n客户编号: C-0002\n客户姓名: 王五\n推荐人: 张三\n首次到店: 2026-02-12\n---\n"
OLD_TIMER = "---\n客户编号: C-0003\n客户姓名: 赵老\n联系方式: '13900000000'\n首次到店: 2023-05-01\n---\n\n# C-0003 赵老\n"
NO_DATES = "---\n客户编号: C-0004\n客户姓名: 无日期\n---\n"
REMINDER = "# 2026-02-12 提醒\n\n| 提醒类型 | 关联客户 |\n|---|---|\n| 提前1天 | 张三 |\n"

VAULT = {**GOLDEN, "客户/C-0001 张三.md": PROFILE, "跟进/FLW-2026-001.md": FOLLOWUP, "客户/C-0002 王五.md": REFERRED,
         "客户/C-0003 赵老.md": OLD_TIMER, "客户/C-0004 无日期.md": NO_DATES, "提醒/2026-02-12.md": REMINDER}
DAYS = ["2025-02-03", "2025-12-05", "2026-01-08", "2026-01-20", "2026-01-21", "2026-02-12", "2026-02-13",
        "2026-02-14", "2026-02-20", "2026-02-25"]
MONTHS = ["2025-02", "2025-12", "2026-01", "2026-02"]


def figures(cli, root: Path) -> dict:
    out = {}
    for day in DAYS:
        out[day] = cli(root, "stats", "--date", day, "--format", "json").json()
    for month in MONTHS:
        out[month] = cli(root, "stats", "--month", month, "--format", "json").json()
    return out


def notes_text(root: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.md")) if ".vaultcrm" not in p.parts)


# -- consent -------------------------------------------------------------------------------------

@pytest.mark.parametrize("consent,warned", [("是", False), ("否", True), ("", True), (None, True)])
def test_check_warns_about_health_data_without_consent(cli, vault, consent, warned):
    text = PROFILE if consent is None else PROFILE.replace("  健康数据: 是", f"  健康数据: {consent}")
    if consent is None:
        text = re.sub(r"授权同意:\n(  .*\n)+", "", text)
    root = vault({"客户/C-0001 张三.md": text})
    result = cli(root, "check", "--format", "json")
    assert result.exit_code == 0, result.output
    found = [d for d in result.json() if "健康数据授权" in d["message"]]
    if not warned:
        assert found == []
        return
    line = 2 if consent is None else next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("  健康数据:"))
    assert found == [{"path": "客户/C-0001 张三.md", "line": line, "severity": "warning",
                      "message": found[0]["message"]}]
    assert "C-0001" in found[0]["message"] and "单独同意" in found[0]["message"]


def test_no_health_data_needs_no_consent(cli, vault):
    root = vault({"客户/C-0002 王五.md": REFERRED})
    assert "健康数据授权" not in cli(root, "check").stdout


# -- forget --------------------------------------------------------------------------------------

def test_forget_anonymises_and_every_statistic_stays(cli, vault):
    root = vault(VAULT)
    before = figures(cli, root)
    result = cli(root, "customer", "forget", "C-0001", "--yes", "--by", "店长", "--at", "2026-03-01 10:00")
    assert result.exit_code == 0, result.output
    assert figures(cli, root) == before

    profile = root / "客户" / "C-0001 已注销-C-0001.md"
    assert not (root / "客户" / "C-0001 张三.md").exists()
    text = profile.read_text(encoding="utf-8")
    for gone in ("张三", "13800138000", "1980-05-06", "薰衣草", "高血压", "腰椎", "李雷"):
        assert gone not in text, gone
    for kept in ("性别: 男", "首次到店: 2025-02-03", "健康数据: 是", "积分: 120", "  - 老客户\n  - 已注销"):
        assert kept in text, kept
    assert "# C-0001 已注销-C-0001" in text and "电话 [已删除] 下午打" in text

    index = load_vault(root, use_cache=False).index
    history = index.history("C-0001")
    mine = [*history.appointments, *history.services, *history.followups]
    assert sorted(r.id for r in mine) == ["APP-2025-001", "APP-2026-001", "FLW-2026-001", "SRV-2025-001",
                                          "SRV-2026-001", "SRV-2026-004"]  # tied by ID, phone and name before
    for record in mine:
        note = (root / record.path).read_text(encoding="utf-8")
        assert "张三" not in note and "13800138000" not in note and "138-0013-8000" not in note, record.path
        assert "C-0001" in note
    assert "[[C-0001 已注销-C-0001]]" in (root / "跟进/FLW-2026-001.md").read_text(encoding="utf-8")
    assert index.customers["C-0002"].referrer == "已注销-C-0001"
    assert "李四" in (root / "预约/APP-2026-002.md").read_text(encoding="utf-8")  # other customers untouched

    assert "以下 1 篇笔记的正文或其他字段仍含姓名或电话" in result.stdout and "提醒/2026-02-12.md" in result.stdout
    [entry] = read_audit(root)
    assert entry["action"] == "forget" and entry["customer"] == "C-0001" and entry["operator"] == "店长"
    assert entry["time"] == "2026-03-01T10:00:00" and "客户/C-0001 已注销-C-0001.md" in entry["files"]
    assert len(entry["files"]) == 8
    assert "张三" not in (root / ".vaultcrm/logs/audit.log").read_text(encoding="utf-8")
    assert cli(root, "check").exit_code == 0


def test_forget_asks_first_and_is_idempotent(cli, vault, monkeypatch):
    root = vault(VAULT)
    before = notes_text(root)
    preview = cli(root, "customer", "forget", "C-0001")
    assert preview.exit_code == 1 and "将注销 C-0001 张三" in preview.stdout and "--yes" in preview.stderr
    monkeypatch.setattr(options_cli, "interactive", lambda: True)
    assert cli(root, "customer", "forget", "C-0001", input="n\n").exit_code == 1
    assert notes_text(root) == before and read_audit(root) == []
    assert cli(root, "customer", "forget", "C-0001", input="y\n").exit_code == 0
    again = cli(root, "customer", "forget", "c-0001", "--yes")
    assert again.exit_code == 0 and "C-0001 已注销，无需处理" in again.stdout
    assert len(read_audit(root)) == 1


def test_forget_unknown_customer(cli, vault):
    result = cli(vault(VAULT), "customer", "forget", "C-0999", "--yes")
    assert result.exit_code == 1 and "没有客户编号为 C-0999 的客户档案" in result.stderr


@pytest.mark.parametrize("query", ["张三", "13800138000"])
def test_forget_takes_a_name_or_phone_like_every_customer_argument(cli, vault, query):
    root = vault(VAULT)
    result = cli(root, "customer", "forget", query, "--yes", "--at", "2026-03-01 10:00")
    assert result.exit_code == 0, result.output
    assert "已注销 C-0001" in result.stdout
    assert (root / "客户" / "C-0001 已注销-C-0001.md").exists() and not (root / "客户" / "C-0001 张三.md").exists()
    assert not any("张三" in p.read_text(encoding="utf-8") for p in root.glob("客户/*.md"))


def test_forget_by_an_ambiguous_name_lists_the_candidates_and_writes_nothing(cli, vault):
    files = {**VAULT, "客户/C-0009 张三.md": VAULT["客户/C-0001 张三.md"].replace("C-0001", "C-0009")
             .replace("13800138000", "13900000009")}
    root = vault(files)
    before = {p: p.read_bytes() for p in root.rglob("*.md")}
    result = cli(root, "customer", "forget", "张三", "--yes")
    assert result.exit_code == 1
    assert "C-0001" in result.stderr and "C-0009" in result.stderr
    assert {p: p.read_bytes() for p in root.rglob("*.md")} == before


def test_a_note_saved_in_obsidian_meanwhile_is_skipped_and_a_rerun_finishes(cli, vault):
    root = vault(VAULT)
    loaded = load_vault(root, use_cache=False)
    plan = plan_forget(loaded.index, loaded.index.customers["C-0001"])
    hand = root / "服务记录/SRV-2026-004.md"
    hand.write_text(hand.read_text(encoding="utf-8").replace("满意度: 满意", "满意度: 非常满意"), encoding="utf-8")
    result = Scrubber(root, loaded.loaded_stamp).apply(plan)
    assert [s.split("：")[0] for s in result.skipped] == ["服务记录/SRV-2026-004.md", "客户/C-0001 张三.md"]
    assert "非常满意" in hand.read_text(encoding="utf-8") and "张三" in hand.read_text(encoding="utf-8")
    rerun = cli(root, "customer", "forget", "C-0001", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert "张三" not in hand.read_text(encoding="utf-8") and "非常满意" in hand.read_text(encoding="utf-8")


def test_restoring_an_older_backup_warns_that_forgotten_data_returns(cli, vault):
    root = vault(VAULT)
    cli(root, "backup", "--at", "2026-03-01 09:00")
    cli(root, "customer", "forget", "C-0001", "--yes")
    result = cli(root, "restore", "vaultcrm-2026-03-01-090000.zip", "--yes", "--at", "2026-03-01 10:00")
    assert result.exit_code == 0, result.output
    assert "已注销客户（C-0001）注销前的个人信息" in result.stdout
    assert "将删除（同一编号的记录已改名" in result.stdout
    assert sorted(p.name for p in (root / "客户").iterdir())[0] == "C-0001 张三.md"
    assert not (root / "客户/C-0001 已注销-C-0001.md").exists()
    assert cli(root, "check").exit_code == 0  # no duplicate C-0001


# -- purge ---------------------------------------------------------------------------------------

def test_purge_anonymises_customers_not_seen_for_two_years(cli, vault):
    root = vault(VAULT)
    before = figures(cli, root)
    preview = cli(root, "purge", "--at", "2027-03-01 10:00")
    assert preview.exit_code == 1
    assert "最后一次到店早于 2025-03-01 的客户 1 位" in preview.stdout
    assert "C-0003 赵老（最后一次 2023-05-01）" in preview.stdout
    assert "另有 1 位客户没有任何日期记录" in preview.stdout
    result = cli(root, "purge", "--at", "2027-03-01 10:00", "--yes")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (root / "客户").iterdir())
    assert names == ["C-0001 张三.md", "C-0002 王五.md", "C-0003 已注销-C-0003.md", "C-0004 无日期.md"]
    assert [(e["action"], e["customer"]) for e in read_audit(root)] == [("purge", "C-0003")]
    assert figures(cli, root) == before


def test_purge_with_a_later_cutoff_reaches_more_customers_and_keeps_figures(cli, vault):
    root = vault(VAULT)
    before = figures(cli, root)
    result = cli(root, "purge", "--before", "2026-03-01", "--yes", "--at", "2026-03-01 10:00")
    assert result.exit_code == 0, result.output
    assert "已注销 3 位客户" in result.stdout
    assert figures(cli, root) == before
    text = notes_text(root)
    for gone in ("张三", "王五", "赵老", "13800138000", "13900000000"):
        assert gone not in text.replace("提前1天 | 张三", ""), gone
    assert sorted(e["customer"] for e in read_audit(root)) == ["C-0001", "C-0002", "C-0003"]
    assert cli(root, "check").exit_code == 0


def test_purge_with_a_bad_date_is_a_usage_error(cli, vault):
    result = cli(vault(VAULT), "purge", "--before", "去年")
    assert result.exit_code == 2 and "--before" in result.stderr


def test_audit_log_lines_are_json_with_the_agreed_fields(cli, vault):
    root = vault(VAULT)
    cli(root, "customer", "forget", "C-0002", "--yes", "--at", "2026-03-01 10:00")
    line = (root / ".vaultcrm/logs/audit.log").read_text(encoding="utf-8").splitlines()[0]
    assert set(json.loads(line)) == {"time", "action", "customer", "operator", "files"}


def test_forget_calls_off_what_is_still_to_come_and_lists_it(cli, vault):
    root = vault(VAULT)
    assert cli(root, "book", "-c", "C-0001", "--date", "2026-03-05", "--time", "10:00", "-s", "全身推拿",
               "--at", "2026-03-01 09:00").exit_code == 0
    booked = max((root / "预约").glob("APP-2026-*.md"), key=lambda p: p.stat().st_mtime_ns).stem
    before = figures(cli, root)
    result = cli(root, "customer", "forget", "C-0001", "--yes", "--by", "店长", "--at", "2026-03-01 10:00")
    assert result.exit_code == 0, result.output
    assert f"已取消：{booked}" in result.stdout and "FLW-2026-001" in result.stdout
    index = load_vault(root, use_cache=False).index
    app = index.appointments[booked]
    assert app.status.value == "已取消" and app.state.history[-1].endswith("客户注销（店长）")
    assert index.followups["FLW-2026-001"].basics.status.value == "已取消"
    assert figures(cli, root) == before  # past days' statistics are untouched
