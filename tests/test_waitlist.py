"""`vaultcrm waitlist`: entries as notes; freed time offered to the waiting customers; booking closes an entry.

2026-02-12 is a Thursday; 李师傅 (推拿, 艾灸, 拔罐) works 09:00–18:00, 王师傅 (推拿) 12:00–21:00; the buffer is
10 minutes. An entry's window is 最早 … 最晚: the service must start and end inside it.
"""

from __future__ import annotations

import pytest
from booking_data import CONFIG, app_note, customer_note

from vaultcrm.core.loader import load_vault

AT = ("--at", "2026-02-11 10:00")
LATER = ("--at", "2026-02-11 11:00")
THU = "2026-02-12"
WL1 = "候补/WL-2026-001.md"


def notes(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


@pytest.fixture
def full(vault):
    """Only 李师傅 does 拔罐 and 艾灸; Thursday he has 13:00–14:00 (张三) and 14:10–15:10 (李四), nothing after 15:20
    free enough … and 王五 (C-0003) waits."""
    return vault({
        "客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
        "客户/C-0002 李四.md": customer_note("C-0002", "李四", "13900139000"),
        "客户/C-0003 王五.md": customer_note("C-0003", "王五", "13700137000"),
        "预约/APP-2026-001.md": app_note("APP-2026-001", time="13:00", room="房间A"),
        "预约/APP-2026-002.md": app_note("APP-2026-002", customer="李四", customer_id="C-0002", time="14:10",
                                         room="房间B"),
    }, config=CONFIG)


def add(cli, root, *args):
    return cli(root, "waitlist", "add", *args, *AT)


def test_add_writes_a_note_and_list_shows_it(full, cli):
    result = add(cli, full, "-c", "王五", "-s", "拔罐", "-d", THU, "--from", "13:00", "--to", "15:10")
    assert result.exit_code == 0, result.output
    assert "已登记候补 WL-2026-001：王五（C-0003） 2026-02-12 13:00–15:10 拔罐" in result.stdout
    text = (full / WL1).read_text(encoding="utf-8")
    assert text.startswith("---\n候补编号: WL-2026-001\n客户: 王五\n客户编号: C-0003\n客户档案: \"[[C-0003 王五]]\"\n"
                           "联系方式: '13700137000'\n服务项目: 拔罐\n日期: 2026-02-12\n最早: '13:00'\n最晚: '15:10'\n"
                           "技师:\n状态: 等待中\n创建时间: '2026-02-11 10:00'\n创建人: 前台\n关联预约:\n")
    listed = cli(full, "waitlist", "list", "--format", "json").json()
    assert [(w["候补编号"], w["客户"], w["最早"], w["最晚"], w["状态"]) for w in listed] == [
        ("WL-2026-001", "王五", "13:00", "15:10", "等待中")]
    text_list = cli(full, "waitlist", "list").stdout
    assert "WL-2026-001" in text_list and "137****7000" in text_list
    assert cli(full, "check").exit_code == 0


def test_a_new_customer_gets_a_profile_and_time_free_now_is_pointed_out(full, cli):
    result = add(cli, full, "-c", "赵六", "--phone", "13500135000", "-s", "全身推拿", "-d", THU)
    assert result.exit_code == 0, result.output
    assert "赵六（C-0004，新建档案）" in result.stdout
    assert "现在就有空位（09:00 李师傅" in result.stdout
    assert (full / "客户/C-0004 赵六.md").is_file()


def test_the_same_entry_twice_is_refused(full, cli):
    assert add(cli, full, "-c", "王五", "-s", "拔罐", "-d", THU).exit_code == 0
    before = notes(full)
    again = add(cli, full, "-c", "C-0003", "-s", "拔罐", "-d", THU, "--from", "15:00")
    assert again.exit_code == 1 and "王五 已在候补 WL-2026-001（2026-02-12 拔罐），未重复添加" in again.stderr
    assert notes(full) == before


@pytest.mark.parametrize("args,message", [
    (("-c", "王五", "-s", "拔罐", "-d", THU, "--from", "14:00", "--to", "14:20"), "14:00–14:20 放不下 拔罐（30分钟）"),
    (("-c", "王五", "-s", "拔罐", "-d", THU, "--from", "14:00", "--to", "13:00"), "最晚时间 13:00 应晚于最早时间 14:00"),
    (("-c", "王五", "-s", "足疗", "-d", THU), "未知的服务项目「足疗」"),
    (("-c", "王五", "-s", "拔罐", "-d", THU, "--technician", "王师傅"), "技师 王师傅 没有「拔罐」技能"),
    (("-c", "王五", "-s", "拔罐", "-d", "2026-02-10"), "2026-02-10 已经过去，不能再候补"),
])
def test_bad_entries_are_refused_and_write_nothing(full, cli, args, message):
    before = notes(full)
    result = add(cli, full, *args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert notes(full) == before


def test_waitlist_usage_errors(full, cli):
    assert add(cli, full, "-c", "王五", "-s", "拔罐").exit_code == 2
    assert add(cli, full, "-c", "王五", "-s", "拔罐", "-d", THU, "--from", "25:00").exit_code == 2
    assert cli(full, "waitlist", "list", "--format", "xml").exit_code == 2


def test_remove_marks_it_cancelled_and_keeps_the_note(full, cli):
    assert add(cli, full, "-c", "王五", "-s", "拔罐", "-d", THU).exit_code == 0
    result = cli(full, "waitlist", "remove", "wl-2026-001", "--by", "小李", *LATER)
    assert result.exit_code == 0 and "WL-2026-001 王五 已移出候补" in result.stdout
    text = (full / WL1).read_text(encoding="utf-8")
    assert "状态: 已取消" in text and "  - '2026-02-11 11:00 移出候补（小李）'" in text
    assert cli(full, "waitlist", "list", "-f", "json").json() == []
    assert [w["状态"] for w in cli(full, "waitlist", "list", "--all", "-f", "json").json()] == ["已取消"]
    again = cli(full, "waitlist", "remove", "WL-2026-001", *LATER)
    assert again.exit_code == 0 and "已是「已取消」，未修改" in again.stdout
    missing = cli(full, "waitlist", "remove", "WL-2026-009")
    assert missing.exit_code == 1 and "找不到候补 WL-2026-009" in missing.stderr


def test_a_cancellation_offers_the_freed_time_and_remind_lists_it_once(full, cli):
    assert add(cli, full, "-c", "王五", "-s", "拔罐", "-d", THU, "--from", "13:00", "--to", "15:00").exit_code == 0
    result = cli(full, "status", "APP-2026-001", "已取消", *LATER)
    assert result.exit_code == 0, result.output
    assert "候补可约：王五 02-12 13:00 李师傅 拔罐（WL-2026-001） 电话 13700137000" in result.stdout
    text = (full / WL1).read_text(encoding="utf-8")
    assert "可约时间: '2026-02-12 13:00'\n可约技师: 李师傅\n通知时间: '2026-02-11 11:00'\n" in text
    assert "  - '2026-02-11 11:00 可约 02-12 13:00 李师傅（APP-2026-001 已取消）'" in text
    for _ in range(2):
        remind = cli(full, "remind", "--at", "2026-02-11 11:05", "--format", "json")
        assert remind.exit_code == 0, remind.output
        mine = [r for r in remind.json() if r["提醒项"] == "候补通知"] if isinstance(remind.json(), list) else None
        assert mine is not None and len(mine) == 1, remind.stdout
        assert mine[0]["提醒内容"] == "候补通知：王五 02-12 13:00 李师傅 拔罐（WL-2026-001）"
    day_note = (full / "提醒/2026-02-11.md").read_text(encoding="utf-8")
    assert day_note.count("| 候补通知：王五") == 1
    # what was offered is bookable, and booking it closes the entry
    booked = cli(full, "book", "-c", "王五", "-d", THU, "-t", "13:00", "-s", "拔罐", "--technician", "李师傅", *LATER)
    assert booked.exit_code == 0, booked.output
    assert "候补 WL-2026-001 已改为「已预约」" in booked.stdout
    text = (full / WL1).read_text(encoding="utf-8")
    assert "状态: 已预约" in text and "关联预约: APP-2026-003" in text
    later = cli(full, "remind", "--at", "2026-02-11 11:10", "--format", "json").json()
    assert not [r for r in later if r["提醒项"] == "候补通知"]


@pytest.mark.parametrize("latest,offered", [("15:00", True), ("14:59", False)])
def test_the_window_is_honoured_to_the_minute(vault, cli, latest, offered):
    """李师傅 14:00–15:00 is cancelled (busy 12:50–13:50 and from 15:10); 全身推拿 takes 60 minutes: a window to
    15:00 fits it exactly, one to 14:59 does not."""
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", time="14:00"),
                  "预约/APP-2026-002.md": app_note("APP-2026-002", time="12:50", customer="李四", customer_id="C-0002"),
                  "预约/APP-2026-003.md": app_note("APP-2026-003", time="15:10", customer="李四", customer_id="C-0002")},
                 config=CONFIG.replace("王师傅: {技能: [推拿]", "王师傅: {技能: [足疗]"))
    assert add(cli, root, "-c", "王五", "-s", "全身推拿", "-d", THU, "--from", "13:50", "--to", latest).exit_code == 0
    result = cli(root, "status", "APP-2026-001", "cancelled", *LATER)
    assert result.exit_code == 0, result.output
    assert ("候补可约：王五 02-12 14:00 李师傅 全身推拿（WL-2026-001）" in result.stdout) is offered


def test_only_time_that_frees_up_is_offered_not_what_was_free_before(vault, cli):
    """王师傅 was free all along at 16:00: a waiting customer for 16:00–17:00 is not told about a 10:00 cancellation."""
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", time="10:00")}, config=CONFIG)
    assert add(cli, root, "-c", "王五", "-s", "全身推拿", "-d", THU, "--from", "16:00").exit_code == 0
    result = cli(root, "status", "APP-2026-001", "已取消", *LATER)
    assert result.exit_code == 0 and "候补可约" not in result.stdout
    assert "可约时间:\n" in (root / WL1).read_text(encoding="utf-8")


@pytest.mark.parametrize("technician,offered", [("王师傅", False), ("李师傅", True), (None, True)])
def test_an_entry_for_one_technician_is_offered_only_their_time(vault, cli, technician, offered):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", time="13:00"),
                  "预约/APP-2026-002.md": app_note("APP-2026-002", time="13:00", technician="王师傅",
                                                   customer="李四", customer_id="C-0002")}, config=CONFIG)
    pick = ("--technician", technician) if technician else ()
    assert add(cli, root, "-c", "王五", "-s", "全身推拿", "-d", THU, "--from", "13:00", "--to", "14:00",
               *pick).exit_code == 0
    result = cli(root, "status", "APP-2026-001", "已取消", *LATER)
    assert result.exit_code == 0
    assert ("候补可约：王五 02-12 13:00 李师傅 全身推拿（WL-2026-001）" in result.stdout) is offered


def test_reschedule_offers_the_old_time(full, cli):
    assert add(cli, full, "-c", "王五", "-s", "全身推拿", "-d", THU, "--from", "14:00", "--to", "15:10",
               "--technician", "李师傅").exit_code == 0
    result = cli(full, "reschedule", "APP-2026-002", "--time", "16:00", *LATER)
    assert result.exit_code == 0, result.output
    assert "候补可约：王五 02-12 14:10 李师傅 全身推拿（WL-2026-001）" in result.stdout


def test_a_no_show_offers_what_is_left_of_its_time(full, cli):
    assert add(cli, full, "-c", "王五", "-s", "拔罐", "-d", THU, "--from", "13:00", "--to", "14:00").exit_code == 0
    result = cli(full, "status", "APP-2026-001", "未到店", "--at", "2026-02-12 13:15")
    assert result.exit_code == 0, result.output
    assert "候补可约：王五 02-12 13:20 李师傅 拔罐（WL-2026-001）" in result.stdout


def test_a_booking_of_another_service_or_day_leaves_the_entry_open(full, cli):
    assert add(cli, full, "-c", "王五", "-s", "拔罐", "-d", THU).exit_code == 0
    assert cli(full, "book", "-c", "王五", "-d", THU, "-t", "09:00", "-s", "全身推拿", *LATER).exit_code == 0
    assert cli(full, "book", "-c", "王五", "-d", "2026-02-13", "-t", "09:00", "-s", "拔罐", *LATER).exit_code == 0
    assert "状态: 等待中" in (full / WL1).read_text(encoding="utf-8")


HAND_MADE = """---
候补编号: WL-2026-005
客户: 王五
客户编号: C-0003
服务项目: 拔罐
日期: 2026/2/12
最早: 13:00
最晚: 15:00
状态:
---
"""


def test_a_hand_made_entry_is_read_and_offered(full, cli):
    """Written in Obsidian: bare times (840 in YAML 1.1), a slashed date, no status (waiting)."""
    (full / "候补").mkdir()
    (full / "候补/王五候补.md").write_text(HAND_MADE, encoding="utf-8")
    entry = load_vault(full).index.waitlist["WL-2026-005"]
    assert entry.is_open and entry.earliest.hour == 13 and entry.latest.hour == 15
    result = cli(full, "status", "APP-2026-001", "已取消", *LATER)
    assert "候补可约：王五 02-12 13:00 李师傅 拔罐（WL-2026-005）" in result.stdout
    assert cli(full, "check").exit_code == 0


def test_check_reports_a_bad_entry_by_line(full, cli):
    (full / "候补").mkdir()
    (full / "候补/WL-2026-001.md").write_text(HAND_MADE.replace("WL-2026-005", "WL-2026-001")
                                              .replace("状态:", "状态: 排队"), encoding="utf-8")
    result = cli(full, "check")
    assert result.exit_code == 1
    assert "候补/WL-2026-001.md:9: 错误：状态：无法识别的候补状态「排队」，可选：等待中、已预约、已取消" in result.stdout
