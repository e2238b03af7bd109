"""`vaultcrm agenda`: the day board — lanes, free gaps, clashes and overbooked rooms — in text, Markdown and JSON."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
import yaml
from booking_data import CONFIG, app_note
from rich.cells import cell_len
from rich.console import Console

from vaultcrm.booking.board import build_board, free_gaps
from vaultcrm.cli.agenda import agenda_lines
from vaultcrm.core.config import Settings
from vaultcrm.core.loader import load_vault

REPO_NODE = Path(os.environ.get("VAULTCRM_NODE_CACHE", Path.home() / ".cache" / "vaultcrm-tests" / "node"))
THU = dt.date(2026, 2, 12)  # 李师傅 09–18, 王师傅 12–21, 张技师 09–21 (business hours); buffer 10
AT = ("--at", "2026-02-12 08:00")
DAY = ("--date", "2026-02-12")


def notes(*items: tuple[str, dict]) -> dict[str, str]:
    return {f"预约/{app_id}.md": app_note(app_id, **kw) for app_id, kw in items}


@pytest.fixture
def busy(vault):
    """李师傅 is double-booked at 14:30; 房间A is overbooked at 16:00; a cancelled one and a stranger."""
    return vault(notes(
        ("APP-2026-001", dict(customer="张三", time="14:00", technician="李师傅", room="房间A")),
        ("APP-2026-002", dict(customer="李四", customer_id="C-0002", time="14:30", technician="李师傅", room="房间B",
                              status="已确认")),
        ("APP-2026-003", dict(customer="王五", customer_id="C-0003", time="16:00", technician="王师傅", room="房间A")),
        ("APP-2026-004", dict(customer="赵六", customer_id="C-0004", time="16:30", service="艾灸调理", minutes=45,
                              technician="张技师", room="房间A")),
        ("APP-2026-005", dict(customer="钱七", customer_id="C-0005", time="10:00", technician="王师傅", status="已取消")),
        ("APP-2026-006", dict(customer="孙八", customer_id="C-0006", time="11:00", technician="阿明", room="房间B")),
    ), config=CONFIG)


def test_json_is_the_specs_shape(busy, cli):
    result = cli(busy, "agenda", *DAY, "--format", "json", *AT)
    assert result.exit_code == 0, result.output
    data = result.json()
    assert list(data) == ["日期", "技师", "房间", "冲突"] and data["日期"] == "2026-02-12"
    assert [lane["技师"] for lane in data["技师"]] == ["李师傅", "王师傅", "张技师", "阿明"]
    li = data["技师"][0]
    assert list(li) == ["技师", "预约", "空闲"]
    assert li["预约"][0] == {"预约编号": "APP-2026-001", "开始": "14:00", "结束": "15:00", "客户": "张三",
                            "服务项目": "全身推拿", "房间": "房间A", "当前状态": "待服务"}
    assert li["空闲"] == [{"开始": "09:00", "结束": "13:50"}, {"开始": "15:40", "结束": "18:00"}]
    wang = data["技师"][1]
    assert [a["预约编号"] for a in wang["预约"]] == ["APP-2026-005", "APP-2026-003"]  # the cancelled one is shown
    assert wang["空闲"] == [{"开始": "12:00", "结束": "15:50"}, {"开始": "17:10", "结束": "21:00"}]
    assert [lane["房间"] for lane in data["房间"]] == ["房间A", "房间B"]
    assert data["冲突"] == [
        {"类型": "技师", "名称": "李师傅", "开始": "14:30", "结束": "15:00", "预约": ["APP-2026-001", "APP-2026-002"]},
        {"类型": "房间", "名称": "房间A", "开始": "16:30", "结束": "17:00", "预约": ["APP-2026-003", "APP-2026-004"]},
    ]


def test_piped_text_is_plain_aligned_lines_within_80_columns(busy, cli):
    result = cli(busy, "agenda", *DAY, *AT)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2026-02-12（周四）排班"
    assert "\x1b" not in result.stdout and "█" not in result.stdout
    assert all(cell_len(line) <= 80 for line in lines)
    assert "技师 李师傅  09:00–18:00  ⚠ 冲突" in lines
    assert "  09:00–13:50  空闲 4小时50分" in lines
    assert "  14:00–15:00  张三      全身推拿      房间A   待服务  APP-2026-001 ⚠冲突" in lines
    assert "  16:00–17:00  王五      全身推拿      房间A   待服务  APP-2026-003" in lines
    assert "  10:00–11:00  钱七      全身推拿      —       已取消  APP-2026-005" in lines
    tail = lines[lines.index("冲突 2 处："):]
    assert tail == ["冲突 2 处：",
                    "  ⚠ 技师 李师傅 重复预约 14:30–15:00",
                    "    APP-2026-001 张三 14:00–15:00 全身推拿",
                    "    APP-2026-002 李四 14:30–15:30 全身推拿",
                    "  ⚠ 房间 房间A 超订 16:30–17:00",
                    "    APP-2026-003 王五 16:00–17:00 全身推拿",
                    "    APP-2026-004 赵六 16:30–17:15 艾灸调理"]


def test_terminal_board_has_a_time_bar_and_red_clashes_within_80_columns(busy):
    vault = load_vault(busy)
    board = build_board(THU, vault.index.appointments_on(THU), vault.settings)
    lines = agenda_lines(board, board.technicians, width=120, terminal=True)
    assert all(cell_len(line.plain) <= 80 for line in lines)
    assert lines[1].plain.split() == [f"{h:02d}" for h in range(9, 21)]
    li_bar = lines[lines.index(next(x for x in lines if x.plain.startswith("技师 李师傅"))) + 1]
    cells = li_bar.plain[4:]
    assert cells[:29] == "·" * 29 and cells[30:39] == "█" * 9 and cells[39:54] == "·" * 15  # works until 18:00
    assert cells[54:] == " " * 18
    assert any(span.style == "bold red" for span in li_bar.spans)
    console = Console(force_terminal=True, width=80, color_system="standard", record=True)
    for line in lines:
        console.print(line)
    assert all(cell_len(x) <= 80 for x in console.export_text().splitlines())


def test_a_long_name_is_cut_not_wrapped(vault, cli):
    root = vault(notes(("APP-2026-001", dict(customer="欧阳长长长长名字", service="超长的服务项目名称一二三四五",
                                            technician="李师傅"))))
    result = cli(root, "agenda", *DAY, *AT)
    assert result.exit_code == 0, result.output
    assert all(cell_len(line) <= 80 for line in result.stdout.splitlines())
    assert "  14:00–15:00  欧阳长…   超长的服务…   —       待服务  APP-2026-001" in result.stdout


def test_technician_and_room_lanes(busy, cli):
    one = cli(busy, "agenda", *DAY, "--technician", "王师傅", "-f", "json", *AT).json()
    assert [lane["技师"] for lane in one["技师"]] == ["王师傅"] and one["房间"] == [] and one["冲突"] == []
    room = cli(busy, "agenda", *DAY, "--room", "房间A", *AT)
    assert room.exit_code == 0
    assert "房间 房间A  ⚠ 冲突" in room.stdout and "技师 李师傅" not in room.stdout
    assert "  16:00–17:00  王五      全身推拿      王师傅  待服务  APP-2026-003 ⚠冲突" in room.stdout
    every = cli(busy, "agenda", *DAY, "--room", "all", "-f", "json", *AT).json()
    assert [lane["房间"] for lane in every["房间"]] == ["房间A", "房间B"] and every["技师"] == []


def test_unknown_technician_or_room(busy, cli):
    result = cli(busy, "agenda", *DAY, "--technician", "赵师傅", *AT)
    assert result.exit_code == 1 and "未知的技师「赵师傅」，vaultcrm.yaml 中有：李师傅、王师傅、张技师" in result.stderr
    result = cli(busy, "agenda", *DAY, "--room", "房间Z", *AT)
    assert result.exit_code == 1 and "未知的房间「房间Z」" in result.stderr
    assert cli(busy, "agenda", "-f", "xml", *AT).exit_code == 2


def test_markdown_goes_through_the_template(busy, cli):
    result = cli(busy, "agenda", *DAY, "--format", "markdown", *AT)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("# 2026-02-12（周四）排班\n\n## 技师 李师傅（09:00–18:00）\n\n| 时间 | 客户 | 服务项目 | 房间 | 状态 | 预约编号 |")
    assert "| 14:00–15:00 | 张三 | 全身推拿 | 房间A | 待服务 ⚠冲突 | APP-2026-001 |" in text
    assert "| 09:00–13:50 | 空闲 290分钟 | - | - | - | - |" in text
    assert "## 冲突\n\n- ⚠ 技师 李师傅 重复预约 14:30–15:00：APP-2026-001 张三 14:00–15:00 与 APP-2026-002 李四 14:30–15:30" in text


def test_a_vault_may_override_the_markdown_template(busy, cli):
    override = busy / ".vaultcrm/templates/agenda.md.j2"
    override.parent.mkdir(parents=True)
    override.write_text("排班 {{ board.day }} 共 {{ board.entries|length }} 个预约\n", encoding="utf-8")
    assert cli(busy, "agenda", *DAY, "-f", "md", *AT).stdout.strip() == "排班 2026-02-12 共 6 个预约"


def test_days_off_and_relative_dates(vault, cli):
    root = vault({}, config=CONFIG)
    data = cli(root, "agenda", "--date", "明天", "-f", "json", "--at", "2026-02-15 20:00").json()  # Monday
    assert data["日期"] == "2026-02-16"
    li = next(lane for lane in data["技师"] if lane["技师"] == "李师傅")
    assert li == {"技师": "李师傅", "预约": [], "空闲": []}
    text = cli(root, "agenda", "-d", "2026-02-16", *AT).stdout
    assert "技师 李师傅  休息（周一）" in text


# -- the pure rules at their edges ------------------------------------------------------------------
STUDIO = Settings.model_validate(yaml.safe_load(CONFIG))


def board_of(*items, **kw):
    from vaultcrm.models import Appointment

    apps = [Appointment.model_validate({
        "预约编号": app_id, "预约信息": {"客户姓名": "某", "预约日期": THU, "预约时间": start},
        "服务信息": {"服务项目": "全身推拿", "服务时长": minutes, "技师安排": tech, "服务地点": room},
        "预约状态": {"当前状态": status}}) for app_id, start, minutes, tech, room, status in items]
    return build_board(THU, apps, STUDIO, **kw)


def test_touching_appointments_do_not_clash_and_leave_no_gap():
    board = board_of(("A1", "14:00", 60, "李师傅", "房间A", "待服务"), ("A2", "15:00", 60, "王师傅", "房间A", "待服务"),
                     ("A3", "15:10", 60, "李师傅", "房间B", "待服务"))
    assert board.conflicts == []
    li = board.technicians[0]
    assert [(f"{g.start:%H:%M}", f"{g.end:%H:%M}") for g in li.free] == [("09:00", "13:50"), ("16:20", "18:00")]


def test_exactly_the_buffer_leaves_no_gap_and_a_last_slot_gap_ends_at_closing():
    t = dt.datetime.combine(THU, dt.time(9))
    gaps = free_gaps([], t, t + dt.timedelta(hours=12), 10)
    assert [(g.start.hour, g.end.hour) for g in gaps] == [(9, 21)]
    board = board_of(("A1", "20:00", 60, "王师傅", None, "待服务"), ("A2", "12:00", 60, "王师傅", None, "已完成"))
    wang = board.technicians[1]
    assert [(f"{g.start:%H:%M}", f"{g.end:%H:%M}") for g in wang.free] == [("13:10", "19:50")]


def test_no_show_and_cancelled_free_their_time_and_never_clash():
    board = board_of(("A1", "14:00", 60, "李师傅", "房间A", "未到店"), ("A2", "14:00", 60, "李师傅", "房间A", "待服务"))
    assert board.conflicts == []
    assert len(board.technicians[0].entries) == 2


def test_unassigned_appointments_get_their_own_lane():
    board = board_of(("A1", "14:00", 60, None, None, "待服务"))
    assert [lane.name for lane in board.technicians][-1] == "未安排"
    assert board.technicians[-1].free == []


# -- the board as a note ----------------------------------------------------------------------------
TASK = re.compile(r"^    (?P<label>[^:#;\n]+?) :(?:(?P<tag>crit|done|active), )?(?P<start>\d\d:\d\d), (?P<end>\d\d:\d\d)$")


def parse_gantt(text: str) -> dict:
    """A structure check of Mermaid's gantt grammar as the note uses it: header, sections, tasks."""
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    lines = blocks[0].splitlines()
    assert lines[0] == "gantt"
    assert "    dateFormat HH:mm" in lines and "    axisFormat %H:%M" in lines
    sections: dict[str, list[dict]] = {}
    current = None
    for line in lines[1:]:
        if line.startswith(("    title ", "    dateFormat ", "    axisFormat ")):
            assert current is None, "settings come before the sections"
        elif line.startswith("    section "):
            current = line.removeprefix("    section ")
            assert current and ":" not in current and current not in sections
            sections[current] = []
        else:
            m = TASK.match(line)
            assert m and current is not None, f"not a task line: {line!r}"
            assert dt.time.fromisoformat(m["start"]) < dt.time.fromisoformat(m["end"])
            sections[current].append(m.groupdict())
    assert all(sections.values())
    return sections


def test_stats_keeps_a_schedule_note_per_day_with_appointments(busy, cli):
    result = cli(busy, "stats", *AT)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (busy / "排班").iterdir()) == ["2026-02-12.md"]
    text = (busy / "排班/2026-02-12.md").read_text(encoding="utf-8")
    assert text.startswith("# 2026-02-12（周四）排班\n")
    sections = parse_gantt(text)
    assert list(sections) == ["李师傅", "王师傅", "张技师", "阿明"]
    assert [(t["label"], t["tag"], t["start"], t["end"]) for t in sections["李师傅"]] == [
        ("张三 全身推拿 房间A", "crit", "14:00", "15:00"), ("李四 全身推拿 房间B", "crit", "14:30", "15:30")]
    assert [t["start"] for t in sections["王师傅"]] == ["16:00"]  # the cancelled 10:00 takes no time
    assert "## 技师 李师傅（09:00–18:00）" in text and "| 14:00–15:00 | 张三 | 全身推拿 | 房间A | 待服务 ⚠冲突 | APP-2026-001 |" in text
    assert "## 冲突" in text
    assert cli(busy, "stats", *AT).stdout.strip() == "统计笔记已是最新，无需改动"


def test_a_day_whose_appointments_left_keeps_an_empty_board(busy, cli):
    cli(busy, "stats", *AT)
    for note in (busy / "预约").iterdir():
        note.unlink()
    result = cli(busy, "stats", *AT)
    assert "排班/2026-02-12.md" in result.stdout
    text = (busy / "排班/2026-02-12.md").read_text(encoding="utf-8")
    assert "```mermaid" not in text and "## 技师 李师傅（09:00–18:00）" in text and "## 冲突" not in text


def test_gantt_labels_cannot_break_the_chart():
    board = board_of(("A1", "14:00", 60, "李:师傅", "房间#1", "待服务"))
    from vaultcrm.booking.board import gantt_sections

    [section] = gantt_sections(board)
    assert section.name == "李 师傅" and ":" not in section.tasks[0].label and "#" not in section.tasks[0].label


@pytest.mark.slow
def test_the_gantt_renders_in_mermaid(busy, cli, tmp_path):
    """Where Chromium and mermaid are at hand (see test_mermaid_render.py), the chart really renders."""
    from test_mermaid_render import BROWSERS, render_all

    import shutil

    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("Chromium is not installed")
    request_script = REPO_NODE / "node_modules/mermaid/dist/mermaid.min.js"
    if not request_script.is_file():
        pytest.skip("mermaid is not installed (test_mermaid_render.py installs it)")
    assert cli(busy, "stats", *AT).exit_code == 0
    text = (busy / "排班/2026-02-12.md").read_text(encoding="utf-8")
    sources = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert render_all(browser, request_script, sources, tmp_path) == ["ok"]


@pytest.mark.slow
def test_watch_keeps_the_schedule_note_current(busy):
    from conftest import WatchProcess, wait_until

    w = WatchProcess(busy)
    note = busy / "排班/2026-02-13.md"
    assert (busy / "排班/2026-02-12.md").is_file() and not note.exists()  # brought up to date at start
    (busy / "预约/APP-2026-007.md").write_text(app_note("APP-2026-007", customer="周九", customer_id="C-0009",
                                                        date="2026-02-13", time="10:00", technician="张技师"),
                                               encoding="utf-8")
    try:
        wait_until(lambda: note.is_file() and "周九 全身推拿 :10:00, 11:00" in note.read_text(encoding="utf-8"), 30,
                   "the 排班 note of 2026-02-13", w)
    finally:
        assert w.stop() == 0 and "Traceback" not in w.output()
