"""`vaultcrm leave`: the note, the booking rules honouring it at its edges, listing and reassigning.

2026-02-12 is a Thursday: 李师傅 (推拿, 艾灸, 拔罐) works 09:00–18:00, 王师傅 (推拿) 12:00–21:00, 张技师 (艾灸) all
day; the buffer is 10 minutes. A leave is [start, end): an appointment that only touches it is not affected.
"""

from __future__ import annotations

import pytest
from booking_data import CONFIG, app_note, customer_note

from vaultcrm.core.loader import load_vault

AT = ("--at", "2026-02-11 10:00")
THU = "2026-02-12"


def notes(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


@pytest.fixture
def studio(vault):
    """李师傅 on Thursday: 张三 12:00–13:00 (房间A), 李四 14:00–15:00 (房间B, prefers 王师傅), 张三 艾灸 16:00–16:45."""
    return vault({
        "客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
        "客户/C-0002 李四.md": customer_note("C-0002", "李四", "13900139000", preferred="王师傅"),
        "预约/APP-2026-001.md": app_note("APP-2026-001", time="12:00", room="房间A"),
        "预约/APP-2026-002.md": app_note("APP-2026-002", customer="李四", customer_id="C-0002", time="14:00",
                                         room="房间B"),
        "预约/APP-2026-003.md": app_note("APP-2026-003", time="16:00", service="艾灸调理", minutes=45, room="房间A"),
    }, config=CONFIG)


def test_a_leave_from_mid_day_is_a_note_and_lists_what_it_touches(studio, cli):
    result = cli(studio, "leave", "李师傅", "--date", THU, "--from", "13:00", "--reason", "病假", *AT)
    assert result.exit_code == 0, result.output
    assert "已登记请假 LV-2026-001：李师傅 2026-02-12 13:00 至 24:00（病假）" in result.stdout
    # 12:00–13:00 ends exactly as the leave starts: untouched.
    assert "APP-2026-001" not in result.stdout
    assert "APP-2026-002 02-12（周四）14:00 李四 全身推拿 房间B  可接：王师傅" in result.stdout
    assert "APP-2026-003 02-12（周四）16:00 张三 艾灸调理 房间A  可接：张技师" in result.stdout
    assert "加 --reassign" in result.stdout
    text = (studio / "请假/LV-2026-001.md").read_text(encoding="utf-8")
    assert text.startswith("---\n请假编号: LV-2026-001\n技师: 李师傅\n开始日期: 2026-02-12\n开始时间: '13:00'\n"
                           "结束日期: 2026-02-12\n结束时间:\n原因: 病假\n登记时间: '2026-02-11 10:00'\n登记人: 前台\n---\n")
    assert "- 时间：2026-02-12 13:00 至 24:00" in text
    assert "| [[APP-2026-002]] | 02-12 14:00 | 李四 | 全身推拿 | 未改派（可接：王师傅） |" in text
    # Nothing moved without --reassign.
    assert "技师安排: 李师傅" in (studio / "预约/APP-2026-002.md").read_text(encoding="utf-8")
    assert cli(studio, "check").exit_code == 0


@pytest.mark.parametrize("time,ok", [("12:00", True), ("12:10", False), ("11:50", True)])
def test_book_right_up_to_a_leave_that_starts_mid_day(vault, cli, time, ok):
    """A leave from 13:00: 全身推拿 (60 min) may end exactly at 13:00 (no buffer before a leave), not a minute later."""
    root = vault({"请假/LV-2026-001.md": LEAVE.format(first=THU, start="'13:00'", last=THU, end="")}, config=CONFIG)
    result = cli(root, "book", "-c", "王五", "-d", THU, "-t", time, "-s", "全身推拿", "--technician", "李师傅", *AT)
    assert result.exit_code == (0 if ok else 1), result.output
    if not ok:
        assert "技师 李师傅 请假（LV-2026-001 2026-02-12 13:00 至 24:00）" in result.stderr
        assert not (root / "预约/APP-2026-001.md").exists()


def test_free_stops_at_the_leave_and_starts_again_at_its_end(vault, cli):
    root = vault({"请假/LV-2026-001.md": LEAVE.format(first=THU, start="'11:00'", last=THU, end="'15:00'")},
                 config=CONFIG)
    result = cli(root, "free", "-s", "拔罐", "-d", THU, "--technician", "李师傅", "--limit", "0", "-f", "json", *AT)
    times = [s["时间"] for s in result.json()]
    assert "10:30" in times and "10:40" not in times  # 10:30–11:00 touches the leave; 10:40 runs into it
    assert "14:50" not in times and "15:00" in times  # starts again exactly when the leave ends
    # Every slot offered books.
    for t in ("10:30", "15:00"):
        assert cli(root, "book", "-c", f"客{t}", "-d", THU, "-t", t, "-s", "拔罐", "--technician", "李师傅",
                   *AT).exit_code == 0


def test_until_only_ends_a_leave_in_the_morning(vault, cli):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", time="12:00"),
                  "预约/APP-2026-002.md": app_note("APP-2026-002", time="10:00", customer="李四", customer_id="C-0002")},
                 config=CONFIG)
    result = cli(root, "leave", "李师傅", "--date", THU, "--until", "12:00", *AT)
    assert result.exit_code == 0, result.output
    assert "2026-02-12 00:00 至 12:00" in result.stdout
    assert "APP-2026-002" in result.stdout and "APP-2026-001" not in result.stdout  # 12:00 starts as it ends


def test_leave_over_several_days_and_agenda_shows_it(studio, vault, cli):
    write = studio / "预约/APP-2026-004.md"
    write.write_text(app_note("APP-2026-004", date="2026-02-13", time="10:00"), encoding="utf-8")
    (studio / "预约/APP-2026-005.md").write_text(app_note("APP-2026-005", date="2026-02-14", time="10:00"),
                                                encoding="utf-8")
    result = cli(studio, "leave", "李师傅", "--date", THU, "--to", "2026-02-13", *AT)
    assert result.exit_code == 0, result.output
    assert "2026-02-12 至 2026-02-13" in result.stdout
    assert "受影响的预约 4 个" in result.stdout
    assert "APP-2026-004" in result.stdout and "APP-2026-005" not in result.stdout
    board = cli(studio, "agenda", "-d", "2026-02-13", "--technician", "李师傅", "-f", "json").json()
    lane = board["技师"][0]
    assert lane["请假"] == [{"开始": "09:00", "结束": "18:00", "请假编号": "LV-2026-001"}] and lane["空闲"] == []
    text = cli(studio, "agenda", "-d", "2026-02-13", "--technician", "李师傅").stdout
    assert "全天请假 LV-2026-001" in text
    # reschedule into the leave is refused, out of it accepted
    moved = cli(studio, "reschedule", "APP-2026-005", "--date", "2026-02-13", *AT)
    assert moved.exit_code == 1 and "请假（LV-2026-001 2026-02-12 至 2026-02-13）" in moved.stderr
    assert cli(studio, "reschedule", "APP-2026-004", "--date", "2026-02-14", "--time", "12:00", *AT).exit_code == 0


def test_agenda_shows_a_part_day_leave_and_no_free_time_in_it(vault, cli):
    root = vault({"请假/LV-2026-001.md": LEAVE.format(first=THU, start="'14:00'", last=THU, end="'16:00'")},
                 config=CONFIG)
    lane = cli(root, "agenda", "-d", THU, "--technician", "李师傅", "-f", "json").json()["技师"][0]
    assert lane["请假"] == [{"开始": "14:00", "结束": "16:00", "请假编号": "LV-2026-001"}]
    assert lane["空闲"] == [{"开始": "09:00", "结束": "14:00"}, {"开始": "16:00", "结束": "18:00"}]
    text = cli(root, "agenda", "-d", THU, "--technician", "李师傅").stdout
    assert "14:00–16:00  请假 LV-2026-001" in text
    md = cli(root, "agenda", "-d", THU, "-f", "md").stdout
    assert "| 14:00–16:00 | 请假 | - | - | - | [[LV-2026-001]] |" in md


def test_reassign_needs_yes_in_a_script_and_writes_nothing_without(studio, cli):
    before = notes(studio)
    result = cli(studio, "leave", "李师傅", "--date", THU, "--from", "13:00", "--reassign", *AT)
    assert result.exit_code == 1
    assert "未登记：改派 2 个预约前请确认，确认无误请加 --yes" in result.stderr
    assert notes(studio) == before


def test_reassign_prefers_the_customers_technician_and_lists_the_rest_for_a_call(vault, cli):
    root = vault({
        "客户/C-0002 李四.md": customer_note("C-0002", "李四", "13900139000", preferred="王师傅"),
        "预约/APP-2026-001.md": app_note("APP-2026-001", time="14:00", room="房间A"),
        "预约/APP-2026-002.md": app_note("APP-2026-002", customer="李四", customer_id="C-0002", time="14:00",
                                         room="房间B", technician="张技师", service="艾灸调理", minutes=45),
        "预约/APP-2026-003.md": app_note("APP-2026-003", time="16:00", service="艾灸调理", minutes=45),
        "预约/APP-2026-004.md": app_note("APP-2026-004", time="10:00", service="拔罐", minutes=30,
                                         customer="李四", customer_id="C-0002"),
    }, config=CONFIG)
    result = cli(root, "leave", "李师傅", "--date", THU, "--reassign", "--yes", "--by", "店长", *AT)
    assert result.exit_code == 0, result.output
    assert "受影响的预约 3 个，已改派 2 个" in result.stdout
    assert "APP-2026-004 02-12（周四）10:00 李四 拔罐" in result.stdout  # nobody else does 拔罐
    assert "需电话联系 1 位客户：APP-2026-004" in result.stdout
    one = (root / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert "技师安排: 王师傅" in one
    assert "- '2026-02-11 10:00 请假改派：技师 李师傅 → 王师傅（LV-2026-001 李师傅请假）（店长）'" in one
    assert "技师安排: 张技师" in (root / "预约/APP-2026-003.md").read_text(encoding="utf-8")
    assert "技师安排: 李师傅" in (root / "预约/APP-2026-004.md").read_text(encoding="utf-8")
    text = (root / "请假/LV-2026-001.md").read_text(encoding="utf-8")
    assert "| [[APP-2026-004]] | 02-12 10:00 | 李四 | 拔罐 | 待电话联系（无人可接） |" in text
    assert "| [[APP-2026-001]] | 02-12 14:00 | 张三 | 全身推拿 | 改派 王师傅 |" in text
    assert cli(root, "check").exit_code == 0


def test_reassign_gives_the_preferred_technician_first(studio, cli):
    """李四 prefers 王师傅; 王师傅 is free at 14:00, so he gets it even if another could."""
    (studio / "vaultcrm.yaml").write_text(CONFIG.replace("张技师: {技能: [艾灸]", "张技师: {技能: [艾灸, 推拿]"),
                                          encoding="utf-8")
    result = cli(studio, "leave", "李师傅", "--date", THU, "--from", "13:00", "--reassign", "--yes", *AT)
    assert result.exit_code == 0, result.output
    assert "APP-2026-002 02-12（周四）14:00 李四 全身推拿 房间B → 改派 王师傅" in result.stdout


def test_two_appointments_reassigned_in_turn_do_not_double_book_a_colleague(vault, cli):
    root = vault({
        "预约/APP-2026-001.md": app_note("APP-2026-001", time="14:00", service="艾灸调理", minutes=45),
        "预约/APP-2026-002.md": app_note("APP-2026-002", customer="李四", customer_id="C-0002", time="14:30",
                                         service="艾灸调理", minutes=45),
    }, config=CONFIG)
    result = cli(root, "leave", "李师傅", "--date", THU, "--reassign", "--yes", *AT)
    assert result.exit_code == 0, result.output
    assert "APP-2026-001 02-12（周四）14:00 张三 艾灸调理 → 改派 张技师" in result.stdout
    assert "APP-2026-002 02-12（周四）14:30 李四 艾灸调理  无人可接" in result.stdout
    board = cli(root, "agenda", "-d", THU, "-f", "json").json()
    assert board["冲突"] == []


def test_the_same_leave_twice_is_one_note(studio, cli):
    args = ("leave", "李师傅", "--date", THU, "--from", "13:00", *AT)
    assert cli(studio, *args).exit_code == 0
    before = notes(studio)
    again = cli(studio, *args)
    assert again.exit_code == 0
    assert "LV-2026-001 已登记过" in again.stdout
    assert notes(studio) == before
    # …and --reassign afterwards does what is left to do under the same note
    done = cli(studio, *args, "--reassign", "--yes")
    assert done.exit_code == 0 and "已改派 2 个" in done.stdout
    assert not (studio / "请假/LV-2026-002.md").exists()


@pytest.mark.parametrize("args,message", [
    (("王老师", "--date", THU), "未知的技师「王老师」，vaultcrm.yaml 中有：李师傅、王师傅、张技师"),
    (("李师傅", "--date", THU, "--from", "14:00", "--until", "14:00"), "请假结束时间 2026-02-12 14:00 应晚于开始时间"),
    (("李师傅", "--date", THU, "--to", "2026-02-11"), "请假结束日期 2026-02-11 早于开始日期 2026-02-12"),
])
def test_bad_leave_is_refused_and_writes_nothing(studio, cli, args, message):
    before = notes(studio)
    result = cli(studio, "leave", *args, *AT)
    assert result.exit_code == 1
    assert message in result.stderr
    assert notes(studio) == before


@pytest.mark.parametrize("args", [("李师傅",), ("李师傅", "--date", "明年"), ("李师傅", "--date", THU, "--from", "25:00")])
def test_leave_usage_errors(studio, cli, args):
    result = cli(studio, "leave", *args, *AT)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


LEAVE = """---
请假编号: LV-2026-001
技师: 李师傅
开始日期: {first}
开始时间: {start}
结束日期: {last}
结束时间: {end}
原因:
---
"""


def test_a_leave_edited_in_obsidian_is_honoured(vault, cli):
    """Obsidian drops the quotes: `开始时间: 14:00` reads as 840 in YAML 1.1, and must still mean 14:00."""
    root = vault({"请假/张.md": "---\n请假编号: LV-2026-007\n技师: 李师傅\n开始日期: 2026/2/12\n开始时间: 14:00\n"
                                "结束日期: 2026年2月12日\n结束时间: 16:00\n原因: 事假\n---\n"}, config=CONFIG)
    result = cli(root, "book", "-c", "王五", "-d", THU, "-t", "15:00", "-s", "全身推拿", "--technician", "李师傅", *AT)
    assert result.exit_code == 1 and "LV-2026-007 2026-02-12 14:00 至 16:00，事假" in result.stderr
    leave = load_vault(root).index.leaves["LV-2026-007"]
    assert leave.period[0].hour == 14 and leave.period[1].hour == 16


def test_check_reports_a_bad_leave_note_by_line(vault, cli):
    root = vault({"请假/LV-2026-001.md": LEAVE.format(first="2026-02-30", start="", last="", end="")}, config=CONFIG)
    result = cli(root, "check")
    assert result.exit_code == 1
    assert "请假/LV-2026-001.md:4: 错误：开始日期：无法识别的日期「2026-02-30」" in result.stdout
    listing = cli(root, "check", "--format", "json").json()
    assert any(d["path"] == "请假/LV-2026-001.md" and d["line"] == 4 for d in listing)
