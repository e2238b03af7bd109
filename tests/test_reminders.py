"""`vaultcrm remind` without delivery: which reminders are due when, and the day notes that record them."""

from __future__ import annotations

import datetime as dt

import pytest
from reminder_data import app_note, config, customer_note, day_state, edit_note, followup_note, rows, studio_files

from vaultcrm.core.loader import load_vault
from vaultcrm.core.reminder_kinds import Audience
from vaultcrm.reminders.channels import compose
from vaultcrm.reminders.rules import CUSTOMER_FACTS, Reminder, birthday_in, due_reminders

PACKAGE = "\n  - 名称: 肩颈理疗套餐\n    剩余次数: 3\n    结束日期: 2026-03-01"


def listed(cli, root, at: str) -> set[tuple[str, str, str]]:
    result = cli(root, "remind", "--at", at, "--format", "json")
    assert result.exit_code == 0, result.output
    return {(r["提醒项"], r["关联记录"], r["到期时间"]) for r in result.json()}


@pytest.fixture
def studio(vault):
    files = studio_files(birthday="1990-03-10", packages=PACKAGE)
    files["跟进/FLW-2026-001.md"] = followup_note()
    return vault(files, config=config())


DUE_TIMES = [
    ("提前1天", "APP-2026-001", "2026-02-11 14:00"),
    ("提前2小时确认", "APP-2026-001", "2026-02-12 12:00"),
    ("服务前30分钟准备", "APP-2026-001", "2026-02-12 13:30"),
    ("技师排班提醒", "李师傅", "2026-02-12 08:00"),
    ("房间准备提醒", "房间A", "2026-02-12 08:00"),
    ("材料准备提醒", "2026-02-12", "2026-02-12 08:00"),
    ("回访时间提醒", "FLW-2026-001", "2026-02-14 09:00"),
    ("套餐到期提醒", "C-0001/肩颈理疗套餐", "2026-02-22 09:00"),
    ("生日关怀提醒", "C-0001", "2026-03-03 09:00"),
]


@pytest.mark.parametrize("kind,record,due", DUE_TIMES, ids=[k for k, _, _ in DUE_TIMES])
def test_each_kind_is_due_at_its_time_not_a_minute_before(cli, studio, kind, record, due):
    before = (dt.datetime.fromisoformat(due) - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    assert (kind, record, due) not in listed(cli, studio, before)
    assert (kind, record, due) in listed(cli, studio, due)


@pytest.mark.parametrize("kind,record,due,last,gone", [
    ("提前1天", "APP-2026-001", "2026-02-11 14:00", "2026-02-12 13:59", "2026-02-12 14:00"),
    ("技师排班提醒", "李师傅", "2026-02-12 08:00", "2026-02-12 20:59", "2026-02-12 21:00"),
    ("回访时间提醒", "FLW-2026-001", "2026-02-14 09:00", "2026-02-21 09:00", "2026-02-21 09:01"),
    ("生日关怀提醒", "C-0001", "2026-03-03 09:00", "2026-03-10 09:00", "2026-03-10 09:01"),
])
def test_a_missed_reminder_stays_listed_only_within_its_window(cli, studio, kind, record, due, last, gone):
    assert (kind, record, due) in listed(cli, studio, last)
    assert (kind, record, due) not in listed(cli, studio, gone)


def test_birthday_on_feb_29_is_kept_on_feb_28_in_other_years(cli, vault):
    assert birthday_in(dt.date(2000, 2, 29), 2027) == dt.date(2027, 2, 28)
    assert birthday_in(dt.date(2000, 2, 29), 2028) == dt.date(2028, 2, 29)
    root = vault({"客户/C-0001 张三.md": customer_note(birthday="2000-02-29")}, config=config())
    assert ("生日关怀提醒", "C-0001", "2027-02-21 09:00") not in listed(cli, root, "2027-02-21 08:59")
    result = cli(root, "remind", "--at", "2027-02-21 09:00", "--format", "json")
    assert [r["提醒内容"] for r in result.json()] == ["生日关怀提醒：张三 02-28 生日"]


def test_no_birthday_greeting_for_a_customer_who_declined_marketing(cli, vault):
    note = customer_note(birthday="1990-03-10").replace("营销: 是", "营销: 否")
    root = vault({"客户/C-0001 张三.md": note}, config=config())
    assert listed(cli, root, "2026-03-03 09:00") == set()


def test_a_used_up_package_has_no_expiry_reminder(cli, vault):
    used_up = PACKAGE.replace("剩余次数: 3", "剩余次数: 0")
    root = vault({"客户/C-0001 张三.md": customer_note(packages=used_up)}, config=config())
    assert listed(cli, root, "2026-02-22 09:00") == set()


def test_booked_after_the_customer_reminders_were_due_only_staff_is_reminded(cli, vault):
    root = vault({"预约/APP-2026-001.md": app_note(created="2026-02-12 13:00")}, config=config())
    kinds = {k for k, record, _ in listed(cli, root, "2026-02-12 13:40") if record == "APP-2026-001"}
    assert kinds == {"服务前30分钟准备"}


def test_staff_preparation_carries_health_data_and_last_service_notes(studio):
    vault_ = load_vault(studio)
    found = due_reminders(vault_.index, vault_.settings, dt.datetime(2026, 2, 12, 13, 30))
    prep = next(r for r in found if r.kind == "服务前30分钟准备")
    assert prep.audience is Audience.STAFF
    text = "\n".join(prep.details)
    for expected in ("房间：房间A", "材料：王不留行籽、耳穴贴", "过敏史：花粉", "禁忌事项：孕期", "服务禁忌：孕期",
                     "服务前评估注意事项：左耳有小伤口", "调整内容：力度减轻", "服务后评估注意事项：多喝温水",
                     "后续建议：两周后复诊", "上次服务：2026-02-01 耳穴调理（李师傅）"):
        assert expected in text


def test_customer_texts_carry_no_health_data(studio):
    vault_ = load_vault(studio)
    found = [r for at in (dt.datetime(2026, 2, 12, 13, 30), dt.datetime(2026, 3, 3, 9))
             for r in due_reminders(vault_.index, vault_.settings, at)]
    customer = [r for r in found if r.audience is Audience.CUSTOMER]
    assert {r.kind for r in customer} == {"提前1天", "提前2小时确认", "生日关怀提醒"}
    for r in customer:
        message = compose(r, vault_.settings, studio).text
        assert "张三" in message and "静心养生馆" in message
        for secret in ("花粉", "孕期", "腰肌劳损", "伤口"):
            assert secret not in message and secret not in r.content


def test_a_customer_reminder_refuses_details():
    with pytest.raises(ValueError):
        Reminder("提前1天", "APP-2026-001", dt.datetime(2026, 2, 11, 14), "x", details=("过敏史：花粉",))
    with pytest.raises(ValueError):
        Reminder("生日关怀提醒", "C-0001", dt.datetime(2026, 3, 3, 9), "x", facts={"allergies": "花粉"})
    assert "allergies" not in CUSTOMER_FACTS


# -- the day notes --------------------------------------------------------------------------------
def test_the_note_lists_each_reminder_once_after_three_runs(cli, studio):
    for at in ("2026-02-12 08:30", "2026-02-12 12:05", "2026-02-12 13:45"):
        assert cli(studio, "remind", "--at", at, "--quiet").exit_code == 0
    table = rows(studio, "2026-02-12")
    contents = [r[3] for r in table]
    assert len(contents) == len(set(contents)) == 5
    assert sorted(r[0] for r in table) == [f"R-0212-0{i}" for i in range(1, 6)]
    assert contents[-1] == "服务前30分钟准备：张三 14:00 耳穴调理（李师傅，房间A）"
    assert table[-1][1:3] == ["2026-02-12 13:30", "预约提醒"]
    assert all(r[5:] == ["待发送", "-"] for r in table)
    assert len(day_state(studio, "2026-02-12")) == 5
    assert [r[3] for r in rows(studio, "2026-02-11")] == ["提前1天：张三 02-12 14:00 耳穴调理（李师傅）"]


@pytest.mark.parametrize("status", ["已取消", "已完成"])
def test_a_cancelled_or_finished_appointment_drops_its_waiting_reminders(cli, studio, status):
    cli(studio, "remind", "--at", "2026-02-12 13:45")
    assert any("APP-2026-001" == e["关联记录"] for e in day_state(studio, "2026-02-12").values())
    edit_note(studio, "预约/APP-2026-001.md", "当前状态: 待服务", f"当前状态: {status}")
    assert not [r for r in listed(cli, studio, "2026-02-12 13:46") if r[1] == "APP-2026-001"]
    assert not [e for e in day_state(studio, "2026-02-12").values() if e["关联记录"] == "APP-2026-001"]
    assert rows(studio, "2026-02-11") == []


def test_a_cancelled_appointment_leaves_the_days_schedule(cli, studio):
    assert ("技师排班提醒", "李师傅", "2026-02-12 08:00") in listed(cli, studio, "2026-02-12 08:00")
    edit_note(studio, "预约/APP-2026-001.md", "当前状态: 待服务", "当前状态: 已取消")
    assert listed(cli, studio, "2026-02-12 08:01") == set()
    assert day_state(studio, "2026-02-12") == {}


def test_a_moved_appointment_gets_new_reminders_and_keeps_the_handled_ones(cli, studio):
    cli(studio, "remind", "--at", "2026-02-11 14:00")
    done = cli(studio, "remind", "done", "R-0211-01", "--at", "2026-02-11 14:10")
    assert done.exit_code == 0 and "已完成" in done.stdout
    cli(studio, "remind", "--at", "2026-02-12 12:30")
    assert "提前2小时确认：张三 02-12 14:00 耳穴调理（李师傅）" in [r[3] for r in rows(studio, "2026-02-12")]
    edit_note(studio, "预约/APP-2026-001.md", "预约日期: 2026-02-12\n  预约时间: '14:00'",
              "预约日期: 2026-02-13\n  预约时间: '16:00'")
    now = listed(cli, studio, "2026-02-12 16:00")
    assert ("提前1天", "APP-2026-001", "2026-02-12 16:00") in now
    assert not any(k == "提前2小时确认" for k, _, _ in now)
    day12 = [r[3] for r in rows(studio, "2026-02-12")]
    assert "提前1天：张三 02-13 16:00 耳穴调理（李师傅）" in day12
    assert not any("02-12 14:00" in c for c in day12)
    assert rows(studio, "2026-02-11") == [["R-0211-01", "2026-02-11 14:00", "预约提醒",
                                           "提前1天：张三 02-12 14:00 耳穴调理（李师傅）", "张三", "已完成",
                                           "2026-02-11 14:10"]]


def test_done_marks_one_reminder_by_hand(cli, studio):
    cli(studio, "remind", "--at", "2026-02-12 12:00")
    first = cli(studio, "remind", "done", "r-0212-04", "--at", "2026-02-12 12:05")
    assert first.exit_code == 0, first.output
    entry = day_state(studio, "2026-02-12")["R-0212-04"]
    assert (entry["提醒项"], entry["状态"], entry["完成时间"]) == ("提前2小时确认", "已完成", "2026-02-12 12:05")
    assert ("提前2小时确认", "APP-2026-001", "2026-02-12 12:00") not in listed(cli, studio, "2026-02-12 12:10")
    again = cli(studio, "remind", "done", "R-0212-04")
    assert again.exit_code == 0 and "已是已完成" in again.stdout
    missing = cli(studio, "remind", "done", "R-0212-99")
    assert missing.exit_code == 1 and "找不到提醒 R-0212-99" in missing.stderr


def test_a_status_edited_in_obsidian_is_respected_and_user_text_kept(cli, studio):
    cli(studio, "remind", "--at", "2026-02-12 12:00")
    path = studio / "提醒" / "2026-02-12.md"
    text = path.read_text(encoding="utf-8")
    # Obsidian's Properties panel: quotes dropped, a property added; the user writes below the table.
    head, fm, body = text.split("---\n", 2)
    entry = fm.split("  R-0212-04:\n")[1].split("  R-")[0]
    fm = fm.replace(entry, entry.replace("状态: 待发送", "状态: 已完成")).replace("'", "")
    path.write_text(f"{head}---\n{fm}tags:\n  - 提醒\n---\n{body}\n我的备注：记得买耳穴贴\n", encoding="utf-8")
    assert ("提前2小时确认", "APP-2026-001", "2026-02-12 12:00") not in listed(cli, studio, "2026-02-12 12:30")
    after = path.read_text(encoding="utf-8")
    assert "我的备注：记得买耳穴贴" in after and "  - 提醒" in after
    assert day_state(studio, "2026-02-12")["R-0212-04"]["状态"] == "已完成"
    assert [r[5] for r in rows(studio, "2026-02-12") if r[0] == "R-0212-04"] == ["已完成"]


def test_a_broken_state_refuses_to_run(cli, studio):
    cli(studio, "remind", "--at", "2026-02-12 12:00")
    edit_note(studio, "提醒/2026-02-12.md", "提醒项: 提前2小时确认", "提醒项: 随便")
    result = cli(studio, "remind", "--at", "2026-02-12 12:30")
    assert result.exit_code == 1
    assert "提醒/2026-02-12.md" in result.stderr and "提醒项「随便」未知" in result.stderr


# -- output ----------------------------------------------------------------------------------------
def test_text_md_and_quiet_output(cli, studio):
    text = cli(studio, "remind", "--at", "2026-02-12 12:00")
    assert text.exit_code == 0 and "R-0212-04" in text.stdout and "提前2小时确认" in text.stdout
    md = cli(studio, "remind", "--at", "2026-02-12 12:00", "--format", "md")
    assert md.stdout.startswith("| 编号 | 提醒日期 | 提醒类型 | 提醒内容 | 关联客户 | 提醒状态 | 完成时间 |\n")
    assert "| R-0212-04 | 2026-02-12 12:00 | 预约提醒 | 提前2小时确认：张三 02-12 14:00 耳穴调理（李师傅） | 张三 | 待发送 | - |" \
        in md.stdout
    calm = "2026-01-01 10:00"
    assert cli(studio, "remind", "--at", calm).stdout.strip() == "截至 2026-01-01 10:00 没有待发送的提醒"
    quiet = cli(studio, "remind", "--at", calm, "--quiet")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert cli(studio, "remind", "--at", calm, "--format", "json").json() == []


def test_json_fields(cli, studio):
    [item] = [r for r in cli(studio, "remind", "--at", "2026-02-12 12:00", "--format", "json").json()
              if r["提醒项"] == "提前2小时确认"]
    assert item == {"编号": "R-0212-04", "提醒类型": "预约提醒", "提醒项": "提前2小时确认",
                    "到期时间": "2026-02-12 12:00", "提醒内容": "提前2小时确认：张三 02-12 14:00 耳穴调理（李师傅）",
                    "关联客户": "张三", "关联记录": "APP-2026-001", "对象": "客户", "提醒状态": "待发送",
                    "完成时间": None}


def test_usage_and_config_errors(cli, studio, vault):
    assert cli(studio, "remind", "--at", "明天").exit_code == 2
    assert cli(studio, "remind", "--format", "csv").exit_code == 2
    no_channel = cli(studio, "remind", "--at", "2026-02-12 12:00", "--send")
    assert no_channel.exit_code == 1 and "未配置发送渠道" in no_channel.stderr
    assert not (studio / "提醒").exists()
    for channels, message in (("- 类型: 企业微信", "企业微信 渠道需要 地址"),
                              ("- {类型: 钉钉, 地址: 'file:///etc/passwd'}", "钉钉 渠道需要 地址"),
                              ("- {类型: 命令, 命令: 'true', 仅限: [提前三天]}", "仅限 中的「提前三天」"),
                              ("- {类型: 短信, 地址: 'http://x'}", "无法识别的发送渠道类型「短信」"),
                              ("- {类型: 命令, 命令: a}\n- {类型: 命令, 命令: b}", "发送渠道「命令」出现多次")):
        root = vault(config=config(channels))
        result = cli(root, "remind")
        assert result.exit_code == 1 and message in result.stderr, (channels, result.stderr)
        assert "vaultcrm.yaml:" in result.stderr
