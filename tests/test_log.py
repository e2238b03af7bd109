"""`vaultcrm log`: the SRV note it writes, the appointment it completes, walk-ins and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from service_data import CONFIG, app_note, customer, raw_srv

AT = "2026-02-12 15:05"

EXPECTED_SRV = """---
服务编号: SRV-2026-001
服务基本信息:
  服务日期: 2026-02-12
  服务时间: '14:00-15:00'
  服务时长: 60分钟
  服务地点: 房间A
  预约编号: APP-2026-001

客户信息:
  客户姓名: 张三
  客户编号: C-0001
  客户档案: "[[C-0001 张三]]"
  联系方式: '13800138000'

服务信息:
  服务项目: 全身推拿
  服务技师: 李师傅
  服务费用: ¥198

服务详情:
  服务前评估:
    客户状态: 精神好
    健康关注: 腰肌劳损
    注意事项: 腰部避开旧伤

  服务过程:
    主要操作: 全身推拿，重点腰背
    客户反应: 放松
    调整内容: 腰部改轻手法

  服务后评估:
    即时效果: 腰部松快
    客户感受: 舒服
    注意事项: 当天勿洗冷水澡

客户反馈:
  效果评价: 良好
  满意度: 非常满意
  星级评分: 5
  建议意见: 希望延长时间

后续安排:
  下次预约: 一周后
  后续建议: 每周一次
  跟进事项: 询问腰部情况
---

# SRV-2026-001 张三

客户：[[C-0001 张三]] · 预约：[[APP-2026-001]]

## 备注

"""

FULL_FLAGS = ["--condition", "精神好", "--health", "腰肌劳损", "--before-notes", "腰部避开旧伤",
              "--work", "全身推拿，重点腰背", "--reaction", "放松", "--adjust", "腰部改轻手法",
              "--effect-now", "腰部松快", "--feeling", "舒服", "--after-notes", "当天勿洗冷水澡",
              "--effect", "良好", "--satisfaction", "very-satisfied", "--stars", "5", "--suggestion", "希望延长时间",
              "--next", "一周后", "--advice", "每周一次", "--todo", "询问腰部情况"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


@pytest.fixture
def studio(vault):
    return vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": app_note()}, config=CONFIG)


def test_log_appointment_writes_the_template_note(studio, cli):
    result = cli(studio, "log", "APP-2026-001", *FULL_FLAGS, "--at", AT)
    assert result.exit_code == 0, result.output
    assert "已记录服务 SRV-2026-001" in result.stdout
    assert (studio / "服务记录/SRV-2026-001.md").read_text(encoding="utf-8") == EXPECTED_SRV


def test_log_completes_the_appointment_keeping_its_comments_and_body(vault, cli):
    text = app_note().replace("  力度要求: 中\n", "  力度要求: 中   # 客户怕痛\n  会员卡: 金卡\n") \
        + "\n# APP-2026-001 张三\n\n## 备注\n客户喜欢安静，不要聊天。\n"
    root = vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": text}, config=CONFIG)
    result = cli(root, "log", "APP-2026-001", "--at", AT)
    assert result.exit_code == 0, result.output
    assert "预约 APP-2026-001：服务中 → 已完成" in result.stdout
    after = (root / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert after == text.replace("  当前状态: 服务中", "  当前状态: 已完成").replace(
        "    - '2026-02-12 14:00 已确认 → 服务中（前台）'\n",
        "    - '2026-02-12 14:00 已确认 → 服务中（前台）'\n    - '2026-02-12 15:05 服务中 → 已完成（前台）'\n")


@pytest.mark.parametrize("status", ["待服务", "已确认"])
def test_pending_and_confirmed_appointments_complete_too(vault, cli, status):
    root = vault({"预约/APP-2026-001.md": app_note(status=status)}, config=CONFIG)
    result = cli(root, "log", "APP-2026-001", "--at", AT, "--by", "小王")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((root / "预约/APP-2026-001.md").read_text(encoding="utf-8").split("---")[1])
    assert data["预约状态"]["当前状态"] == "已完成"
    assert data["预约状态"]["状态更新"][-1] == f"2026-02-12 15:05 {status} → 已完成（小王）"


@pytest.mark.parametrize("status", ["已完成", "已取消", "未到店"])
def test_terminal_appointment_is_refused_and_nothing_written(vault, cli, status):
    root = vault({"预约/APP-2026-001.md": app_note(status=status)}, config=CONFIG)
    before = _files(root)
    result = cli(root, "log", "APP-2026-001", "--at", AT)
    assert result.exit_code == 1
    assert f"已是「{status}」" in result.stderr and "--force" in result.stderr
    assert _files(root) == before


def test_force_logs_a_cancelled_appointment_and_marks_it(vault, cli):
    root = vault({"预约/APP-2026-001.md": app_note(status="已取消")}, config=CONFIG)
    result = cli(root, "log", "APP-2026-001", "--force", "--at", AT)
    assert result.exit_code == 0, result.output
    text = (root / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert "'2026-02-12 15:05 已取消 → 已完成（前台，强制）'" in text


def test_second_log_for_the_same_appointment_is_refused(studio, cli):
    assert cli(studio, "log", "APP-2026-001", "--at", AT).exit_code == 0
    (studio / "预约/APP-2026-001.md").write_text(app_note(status="服务中"), encoding="utf-8")
    again = cli(studio, "log", "APP-2026-001", "--at", AT)
    assert again.exit_code == 1
    assert "已有服务记录 SRV-2026-001" in again.stderr
    assert not (studio / "服务记录/SRV-2026-002.md").exists()


def test_unknown_appointment_is_not_found(studio, cli):
    result = cli(studio, "log", "APP-2026-404", "--at", AT)
    assert result.exit_code == 1
    assert "找不到预约 APP-2026-404" in result.stderr


def test_walk_in_new_customer_gets_a_profile_and_a_just_ended_service(vault, cli):
    root = vault({}, config=CONFIG)
    result = cli(root, "log", "--customer", "王五", "--phone", "139-0000-1111", "--service", "足疗",
                 "--technician", "张技师", "--at", "2026-02-13 16:00", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data["服务编号"] == "SRV-2026-001"
    assert data["新建客户"] == "C-0001"
    assert data["服务基本信息"] == {"服务日期": "2026-02-13", "服务时间": "15:00-16:00", "服务时长": 60,
                                "服务地点": None, "预约编号": None}
    assert data["客户信息"]["联系方式"] == "13900001111"
    assert data["服务信息"] == {"服务项目": "足疗", "服务技师": "张技师", "服务费用": 115.2}  # ¥128 at 普通's 9折
    assert [f["跟进类型"] for f in data["已安排跟进"]] == ["新客户首次回访"]
    assert data["已安排跟进"][0]["计划日期"] == "2026-02-16"
    profile = (root / "客户/C-0001 王五.md").read_text(encoding="utf-8")
    assert "客户姓名: 王五" in profile and "来源渠道: 到店" in profile


def test_walk_in_member_pays_her_tier_price_as_with_a_booking(vault, cli):
    gold = customer().replace("套餐:", "会员等级: 金卡\n套餐:")
    root = vault({"客户/C-0001 张三.md": gold}, config=CONFIG)
    booked = cli(root, "book", "-c", "C-0001", "-s", "足疗", "--date", "2026-02-14", "--time", "10:00",
                 "--technician", "张技师", "--at", AT, "--format", "json")
    assert booked.exit_code == 0, booked.output
    logged = cli(root, "log", "--customer", "C-0001", "--service", "足疗", "--technician", "张技师",
                 "--at", "2026-02-13 16:00", "--format", "json")
    assert logged.exit_code == 0, logged.output
    assert logged.json()["服务信息"]["服务费用"] == booked.json()["服务信息"]["预计费用"] == 102.4  # ¥128 at 8折


def test_walk_in_known_customer_by_phone_with_explicit_time(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer()}, config=CONFIG)
    result = cli(root, "log", "--customer", "13800138000", "--service", "耳穴调理", "--date", "2026-02-10",
                 "--time", "10:00", "--fee", "80元", "--room", "房间B", "--at", AT)
    assert result.exit_code == 0, result.output
    text = (root / "服务记录/SRV-2026-001.md").read_text(encoding="utf-8")
    for line in ("  服务日期: 2026-02-10", "  服务时间: '10:00-10:30'", "  服务时长: 30分钟", "  服务地点: 房间B",
                 "  客户编号: C-0001", "  服务费用: ¥80"):
        assert line + "\n" in text
    assert not (root / "客户/C-0002 13800138000.md").exists()


def test_ambiguous_walk_in_name_lists_candidates(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "客户/C-0002 张三.md": customer("C-0002", phone="13900000000")},
                 config=CONFIG)
    result = cli(root, "log", "--customer", "张三", "--service", "足疗", "--at", AT)
    assert result.exit_code == 1
    assert "C-0001 张三 138****8000" in result.stderr and "C-0002 张三 139****0000" in result.stderr
    assert not (root / "服务记录").exists()


@pytest.mark.parametrize("args, code, message", [
    (["--customer", "王五"], 2, "缺少 --service"),
    (["--customer", "王五", "--service", "足疗", "--satisfaction", "还行吧"], 2, "无法识别的满意度"),
    (["--customer", "王五", "--service", "足疗", "--stars", "6"], 2, "应为 1–5"),
    (["--customer", "王五", "--service", "泰式按摩"], 1, "未知的服务项目「泰式按摩」"),
    (["--customer", "王五", "--service", "足疗", "--technician", "小明"], 1, "未知的技师「小明」"),
    (["APP-2026-001", "--customer", "王五"], 2, "不能再给 --customer"),
])
def test_bad_input_is_refused_without_writing(vault, cli, args, code, message):
    root = vault({"预约/APP-2026-001.md": app_note()}, config=CONFIG)
    before = _files(root)
    result = cli(root, "log", *args, "--at", AT)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert _files(root) == before
    assert "Traceback" not in result.output


def test_unhappy_customer_is_announced_and_followed_up_next_day(studio, cli):
    result = cli(studio, "log", "APP-2026-001", "--satisfaction", "dissatisfied", "--suggestion", "力度太重",
                 "--at", AT)
    assert result.exit_code == 0, result.output
    assert "问题客户 张三" in result.stdout and "建议意见：力度太重" in result.stdout
    assert "请于 2026-02-13 前专项回访：FLW-2026-001" in result.stdout
    flw = (studio / "跟进/FLW-2026-001.md").read_text(encoding="utf-8")
    assert "  跟进类型: 问题客户专项回访\n  计划日期: 2026-02-13\n  跟进状态: 待跟进\n" in flw
    assert "  跟进事项: 客户反馈不满意：力度太重\n" in flw


def test_log_writes_what_service_memory_reads(studio, cli):
    from vaultcrm.core.loader import load_vault
    from vaultcrm.customers.history import service_memory

    assert cli(studio, "log", "APP-2026-001", *FULL_FLAGS, "--at", AT).exit_code == 0
    last = load_vault(studio).index.services["SRV-2026-001"]
    assert service_memory(last) == [("服务前注意事项", "腰部避开旧伤"), ("服务后注意事项", "当天勿洗冷水澡"),
                                    ("调整内容", "腰部改轻手法"), ("后续建议", "每周一次")]


def test_hand_written_srv_loads_alongside_logged_ones(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "服务记录/SRV-2026-001.md": raw_srv("SRV-2026-001", "2026-02-01"),
                  "预约/APP-2026-001.md": app_note()}, config=CONFIG)
    result = cli(root, "log", "APP-2026-001", "--at", AT)
    assert result.exit_code == 0, result.output
    assert "已记录服务 SRV-2026-002" in result.stdout


# -- interrupted runs (the SIGKILL matrix is tests/test_kill_matrix.py) ------------------------------
DIE_AFTER_FIRST_NOTE = """
import os, sys
from vaultcrm.core import journal
real, done = journal.apply_step, []
def apply_then_die(root, step):
    if done:
        os._exit(9)  # killed right after the first note of the operation was written
    done.append(step)
    return real(root, step)
journal.apply_step = apply_then_die
from vaultcrm.cli import main
sys.argv = ["vaultcrm", *sys.argv[1:]]
main()
"""


def _die_midway(root: Path, *args: str) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    env.pop("VAULTCRM_VAULT", None)
    run = subprocess.run([sys.executable, "-c", DIE_AFTER_FIRST_NOTE, "--vault", str(root), *args], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 9, run.stdout + run.stderr


def test_log_killed_midway_is_finished_and_the_rerun_reports_it(studio, cli):
    _die_midway(studio, "log", "APP-2026-001", "--at", AT)
    assert (studio / "服务记录/SRV-2026-001.md").exists()
    assert "当前状态: 服务中" in (studio / "预约/APP-2026-001.md").read_text(encoding="utf-8")  # not yet
    again = cli(studio, "log", "APP-2026-001", "--at", AT)
    assert again.exit_code == 0, again.output
    assert "已记录服务 SRV-2026-001" in again.stdout
    assert "当前状态: 已完成" in (studio / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in (studio / "服务记录").iterdir()) == ["SRV-2026-001.md"]
    assert cli(studio, "check").exit_code == 0


def test_note_edited_after_the_kill_is_left_alone_and_named_by_check(studio, cli):
    _die_midway(studio, "log", "APP-2026-001", "--at", AT)
    app = studio / "预约/APP-2026-001.md"
    edited = app.read_text(encoding="utf-8") + "\n客户改约到下周。\n"
    app.write_text(edited, encoding="utf-8")  # saved in Obsidian before any vaultcrm command ran
    check = cli(studio, "check")
    assert app.read_text(encoding="utf-8") == edited
    assert "预约/APP-2026-001.md" in check.output and "中断的操作（log）未能完成" in check.output
    assert not list((studio / ".vaultcrm" / "journal").glob("*.json"))
