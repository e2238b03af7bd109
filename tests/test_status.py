"""`vaultcrm status` and `vaultcrm reschedule`: the transition table, the 状态更新 log, edits that keep the note."""

from __future__ import annotations

import itertools

import pytest
from booking_data import CONFIG, app_note

from vaultcrm.booking.lifecycle import TRANSITIONS
from vaultcrm.core.loader import load_vault
from vaultcrm.values import AppointmentStatus as S

APP = "预约/APP-2026-001.md"
AT = ("--at", "2026-02-12 14:05")

ALLOWED = {(S.PENDING, S.CONFIRMED), (S.PENDING, S.IN_PROGRESS), (S.PENDING, S.CANCELLED), (S.PENDING, S.NO_SHOW),
           (S.CONFIRMED, S.IN_PROGRESS), (S.CONFIRMED, S.CANCELLED), (S.CONFIRMED, S.NO_SHOW),
           (S.IN_PROGRESS, S.COMPLETED)}
PAIRS = [(a, b) for a, b in itertools.permutations(S, 2)]

HAND_EDITED = """\
---
# 电话预约，前台手写
预约编号: APP-2026-001
预约信息:
  客户姓名: 张三   # 老客户
  客户编号: C-0001
  联系方式: 13800138000
  预约日期: 2026/2/12
  预约时间: 14:00
  预约渠道: 电话
  我的备注: 记得提醒带袜子
服务信息:
  服务项目: 全身推拿
  服务时长: 60 分钟
  预计费用: 198元
  技师安排: 李师傅
预约状态:
  创建时间: 2026-02-11 10:00
  创建人: 前台
  当前状态: 待服务   # 等客户回电
  状态更新:
自定义标签: [VIP, 回头客]
---

# 张三的预约

- 上次说腰不舒服
"""


def test_the_table_is_the_specs():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize("old,new", PAIRS, ids=[f"{a.code}-{b.code}" for a, b in PAIRS])
def test_every_transition(vault, cli, old, new):
    root = vault({APP: app_note("APP-2026-001", status=old.value)}, config=CONFIG)
    before = (root / APP).read_bytes()
    result = cli(root, "status", "APP-2026-001", new.code.lower(), "--by", "小李", *AT)
    if (old, new) in ALLOWED:
        assert result.exit_code == 0, result.output
        assert f"{old.value} → {new.value}" in result.stdout
        text = (root / APP).read_text(encoding="utf-8")
        assert f"  当前状态: {new.value}\n" in text
        assert f"  状态更新:\n    - '2026-02-12 14:05 {old.value} → {new.value}（小李）'\n" in text
    else:
        assert result.exit_code == 1
        assert "--force" in result.stderr
        assert (root / APP).read_bytes() == before


@pytest.mark.parametrize("old", [S.COMPLETED, S.CANCELLED, S.NO_SHOW])
def test_force_leaves_a_terminal_state(vault, cli, old):
    root = vault({APP: app_note("APP-2026-001", status=old.value)}, config=CONFIG)
    refused = cli(root, "status", "APP-2026-001", "待服务", *AT)
    assert refused.exit_code == 1 and f"已是「{old.value}」（终态）" in refused.stderr
    result = cli(root, "status", "APP-2026-001", "待服务", "--force", *AT)
    assert result.exit_code == 0, result.output
    assert f"    - '2026-02-12 14:05 {old.value} → 待服务（前台，强制）'" in (root / APP).read_text(encoding="utf-8")


def test_completing_a_pending_appointment_points_to_log(vault, cli):
    root = vault({APP: app_note("APP-2026-001")}, config=CONFIG)
    result = cli(root, "status", "APP-2026-001", "已完成", *AT)
    assert result.exit_code == 1
    assert "可改为：已确认、服务中、已取消、未到店；完成服务请用 vaultcrm log 记录" in result.stderr


def test_entries_accumulate_and_the_operator_defaults(vault, cli, monkeypatch):
    root = vault({APP: app_note("APP-2026-001")})  # no config: no 操作人
    monkeypatch.setattr("getpass.getuser", lambda: "owner")
    assert cli(root, "status", "app-2026-001", "CONFIRMED", *AT).exit_code == 0
    assert cli(root, "status", "APP-2026-001", "In_Progress", "--at", "2026-02-12 14:10").exit_code == 0
    text = (root / APP).read_text(encoding="utf-8")
    assert ("  当前状态: 服务中\n  状态更新:\n"
            "    - '2026-02-12 14:05 待服务 → 已确认（owner）'\n"
            "    - '2026-02-12 14:10 已确认 → 服务中（owner）'\n") in text
    history = load_vault(root).index.appointments["APP-2026-001"].state.history
    assert history == ["2026-02-12 14:05 待服务 → 已确认（owner）", "2026-02-12 14:10 已确认 → 服务中（owner）"]


def test_config_operator_is_the_default(vault, cli):
    root = vault({APP: app_note("APP-2026-001")}, config=CONFIG)
    assert cli(root, "status", "APP-2026-001", "已取消", *AT).exit_code == 0
    assert "'2026-02-12 14:05 待服务 → 已取消（前台）'" in (root / APP).read_text(encoding="utf-8")


def test_same_state_writes_nothing(vault, cli):
    root = vault({APP: app_note("APP-2026-001", status="已确认")}, config=CONFIG)
    before = (root / APP).read_bytes()
    result = cli(root, "status", "APP-2026-001", "confirmed", *AT)
    assert result.exit_code == 0 and "已是「已确认」，未修改" in result.stdout
    assert (root / APP).read_bytes() == before


def test_unknown_id_and_state(vault, cli):
    root = vault({APP: app_note("APP-2026-001")}, config=CONFIG)
    missing = cli(root, "status", "APP-2026-099", "已确认")
    assert missing.exit_code == 1 and "找不到预约 APP-2026-099" in missing.stderr
    bad = cli(root, "status", "APP-2026-001", "paused")
    assert bad.exit_code == 2 and "无法识别的预约状态「paused」" in bad.stderr


def test_hand_edited_note_keeps_everything_but_the_change(vault, cli):
    root = vault({APP: HAND_EDITED}, config=CONFIG)
    refused = cli(root, "status", "APP-2026-001", "已完成", *AT)
    assert refused.exit_code == 1
    assert (root / APP).read_text(encoding="utf-8") == HAND_EDITED
    result = cli(root, "status", "APP-2026-001", "已确认", *AT)
    assert result.exit_code == 0, result.output
    expected = HAND_EDITED.replace("  当前状态: 待服务   # 等客户回电\n  状态更新:\n",
                                   "  当前状态: 已确认   # 等客户回电\n  状态更新:\n"
                                   "    - '2026-02-12 14:05 待服务 → 已确认（前台）'\n")
    assert (root / APP).read_text(encoding="utf-8") == expected


# -- reschedule -----------------------------------------------------------------------------------
def test_reschedule_moves_and_records(vault, cli):
    root = vault({APP: app_note("APP-2026-001", room="房间A")}, config=CONFIG)
    result = cli(root, "reschedule", "APP-2026-001", "--date", "2026-02-13", "--time", "15:30", *AT)
    assert result.exit_code == 0, result.output
    assert "APP-2026-001 已改期：2026-02-12 14:00 → 2026-02-13 15:30–16:30（李师傅，房间A）" in result.stdout
    a = load_vault(root).index.appointments["APP-2026-001"]
    assert (str(a.start), a.status.value) == ("2026-02-13 15:30:00", "待服务")
    assert a.state.history == ["2026-02-12 14:05 改期 2026-02-12 14:00 → 2026-02-13 15:30（前台）"]
    assert "  预约时间: '15:30'\n" in (root / APP).read_text(encoding="utf-8")


def test_reschedule_with_only_a_time_keeps_the_date(vault, cli):
    root = vault({APP: app_note("APP-2026-001")}, config=CONFIG)
    result = cli(root, "reschedule", "APP-2026-001", "--time", "17:00", *AT)
    assert result.exit_code == 0, result.output
    a = load_vault(root).index.appointments["APP-2026-001"]
    assert str(a.start) == "2026-02-12 17:00:00"
    assert a.state.history == ["2026-02-12 14:05 改期 2026-02-12 14:00 → 2026-02-12 17:00（前台）"]


def test_reschedule_with_nothing_to_change_is_a_usage_error(vault, cli):
    root = vault({APP: app_note("APP-2026-001")}, config=CONFIG)
    before = (root / APP).read_bytes()
    result = cli(root, "reschedule", "APP-2026-001", *AT)
    assert result.exit_code == 2 and "请至少给出 --date、--time、--technician 或 --room 之一" in result.stderr
    assert (root / APP).read_bytes() == before


def test_reschedule_ignores_the_appointment_itself_but_not_others(vault, cli):
    root = vault({APP: app_note("APP-2026-001"),
                  "预约/APP-2026-002.md": app_note("APP-2026-002", customer="李四", time="16:00")}, config=CONFIG)
    assert cli(root, "reschedule", "APP-2026-001", "-d", "2026-02-12", "-t", "14:30", *AT).exit_code == 0
    before = (root / APP).read_bytes()
    clash = cli(root, "reschedule", "APP-2026-001", "-d", "2026-02-12", "-t", "15:10", *AT)
    assert clash.exit_code == 1
    assert "技师 李师傅 已有预约 APP-2026-002 李四 2026-02-12 16:00–17:00" in clash.stderr
    assert (root / APP).read_bytes() == before


def test_reschedule_to_another_technician(vault, cli):
    root = vault({APP: app_note("APP-2026-001")}, config=CONFIG)
    result = cli(root, "reschedule", "APP-2026-001", "-d", "2026-02-12", "-t", "19:00", "--technician", "王师傅", *AT)
    assert result.exit_code == 0, result.output
    a = load_vault(root).index.appointments["APP-2026-001"]
    assert a.service.technician == "王师傅"
    assert a.state.history == ["2026-02-12 14:05 改期 2026-02-12 14:00 → 2026-02-12 19:00，技师 李师傅 → 王师傅（前台）"]
    off = cli(root, "reschedule", "APP-2026-001", "-d", "2026-02-16", "-t", "14:00", "--technician", "李师傅", *AT)
    assert off.exit_code == 1 and "是技师 李师傅 的休息日（周一）" in off.stderr


@pytest.mark.parametrize("status", ["已完成", "已取消", "未到店"])
def test_only_active_appointments_move(vault, cli, status):
    root = vault({APP: app_note("APP-2026-001", status=status)}, config=CONFIG)
    before = (root / APP).read_bytes()
    result = cli(root, "reschedule", "APP-2026-001", "-d", "2026-02-13", "-t", "15:00", *AT)
    assert result.exit_code == 1 and f"已是「{status}」" in result.stderr
    assert (root / APP).read_bytes() == before


def test_reschedule_keeps_a_hand_edited_note(vault, cli):
    root = vault({APP: HAND_EDITED}, config=CONFIG)
    result = cli(root, "reschedule", "APP-2026-001", "-d", "2026-02-13", "-t", "10:00", *AT)
    assert result.exit_code == 0, result.output
    expected = (HAND_EDITED.replace("  预约日期: 2026/2/12\n", "  预约日期: 2026-02-13\n")
                .replace("  预约时间: 14:00\n", "  预约时间: '10:00'\n")
                .replace("  状态更新:\n", "  状态更新:\n    - '2026-02-12 14:05 改期 2026-02-12 14:00 → 2026-02-13 10:00（前台）'\n"))
    assert (root / APP).read_text(encoding="utf-8") == expected
    assert not load_vault(root).diagnostics


def test_reschedule_with_only_a_date_keeps_the_time(vault, cli):
    root = vault({APP: app_note("APP-2026-001")}, config=CONFIG)
    result = cli(root, "reschedule", "APP-2026-001", "--date", "2026-02-13", *AT)
    assert result.exit_code == 0, result.output
    assert str(load_vault(root).index.appointments["APP-2026-001"].start) == "2026-02-13 14:00:00"
