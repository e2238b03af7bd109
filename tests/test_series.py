"""Series (疗程): `book … --repeat … --times N` end to end on real vaults.

The studio of booking_data: 2026-02-12 is a Thursday; 李师傅 works 09:00–18:00 and is off on Mondays,
王师傅 works 12:00–21:00 and is off on Tuesdays, 张技师 (艾灸 only) is off on Wednesdays.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from booking_data import CONFIG, app_note, customer_note
from conftest import REPO, run_cli

from vaultcrm.core.loader import load_vault

AT = ("--at", "2026-02-11 10:00")
PUSH = ("--service", "全身推拿", "--technician", "李师傅")


def notes(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def series_notes(root) -> dict[str, str]:
    """APP notes of a series: ID → text."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((root / "预约").glob("APP-*.md"))
            if "系列编号" in p.read_text(encoding="utf-8")}


def field(text: str, key: str) -> str:
    m = re.search(rf"^\s*{key}:\s*(.*)$", text, re.MULTILINE)
    assert m, f"{key} not in note"
    return m[1].strip().strip("'\"")


@pytest.fixture
def studio(vault):
    return vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000")}, config=CONFIG)


def book(cli, root, *args, customer="张三", date="2026-02-12", time="10:00"):
    return cli(root, "book", "-c", customer, "--date", date, "--time", time, *args, *AT)


# -- the happy path -------------------------------------------------------------------------------
def test_weekly_series_books_every_occurrence_with_one_series_id(studio, cli):
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "4")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "已创建疗程 SER-2026-001：全身推拿 每周 × 4 次，客户 张三（C-0001）" in out
    for n, (app_id, day) in enumerate([("APP-2026-001", "2026-02-12（周四）"), ("APP-2026-002", "2026-02-19（周四）"),
                                       ("APP-2026-003", "2026-02-26（周四）"), ("APP-2026-004", "2026-03-05（周四）")], 1):
        assert re.search(rf"{n}/4\s+{app_id}\s+{re.escape(day)}\s+10:00–11:00\s+李师傅\s+房间A", out), out
    made = series_notes(studio)
    assert list(made) == ["APP-2026-001", "APP-2026-002", "APP-2026-003", "APP-2026-004"]
    for n, text in enumerate(made.values(), 1):
        assert field(text, "系列编号") == "SER-2026-001"
        assert field(text, "疗程序号") == f"{n}/4"
        assert "使用套餐" not in text
    # the keys sit in 预约信息, right after 预约渠道; the rest of the note is a plain booking's
    assert "  预约渠道:\n  系列编号: SER-2026-001\n  疗程序号: 1/4\n\n服务信息:" in made["APP-2026-001"]
    assert [a.info.series for a in load_vault(studio).index.appointments.values()] == ["SER-2026-001"] * 4
    assert cli(studio, "check").exit_code == 0


def test_a_single_booking_note_has_no_series_keys(studio, cli):
    assert book(cli, studio, *PUSH).exit_code == 0
    text = (studio / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert "系列编号" not in text and "疗程序号" not in text and "使用套餐" not in text
    assert "  预约时间: '10:00'\n  预约渠道:\n\n服务信息:" in text


def test_the_next_series_gets_the_next_number(studio, cli):
    assert book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "2").exit_code == 0
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "2", time="15:00")
    assert result.exit_code == 0, result.output
    assert "SER-2026-002" in result.stdout
    assert {field(t, "系列编号") for t in series_notes(studio).values()} == {"SER-2026-001", "SER-2026-002"}


@pytest.mark.parametrize(("repeat", "dates"), [
    ("daily", ["2026-02-12", "2026-02-13", "2026-02-14"]),
    ("每天", ["2026-02-12", "2026-02-13", "2026-02-14"]),
    ("每周", ["2026-02-12", "2026-02-19", "2026-02-26"]),
    ("biweekly", ["2026-02-12", "2026-02-26", "2026-03-12"]),
    ("每两周", ["2026-02-12", "2026-02-26", "2026-03-12"]),
    ("3d", ["2026-02-12", "2026-02-15", "2026-02-18"]),
    ("3天", ["2026-02-12", "2026-02-15", "2026-02-18"]),
])
def test_every_way_of_writing_the_interval(studio, cli, repeat, dates):
    result = book(cli, studio, *PUSH, "--repeat", repeat, "--times", "3")
    assert result.exit_code == 0, result.output
    assert [field(t, "预约日期") for t in series_notes(studio).values()] == dates


def test_json_output_lists_the_appointments(studio, cli):
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data["系列编号"] == "SER-2026-001" and data["重复"] == "每周 × 2 次" and data["跳过"] == []
    assert [(a["预约编号"], a["预约信息"]["预约日期"], a["预约信息"]["疗程序号"]) for a in data["预约"]] == [
        ("APP-2026-001", "2026-02-12", "1/2"), ("APP-2026-002", "2026-02-19", "2/2")]


def test_a_new_customer_gets_one_profile_for_the_whole_series(vault, cli):
    root = vault(config=CONFIG)
    result = cli(root, "book", "-c", "赵六", "--phone", "13500001111", "--date", "2026-02-12", "--time", "10:00",
                 *PUSH, "--repeat", "weekly", "--times", "3", *AT)
    assert result.exit_code == 0, result.output
    assert [p.name for p in (root / "客户").iterdir()] == ["C-0001 赵六.md"]
    assert {field(t, "客户编号") for t in series_notes(root).values()} == {"C-0001"}
    assert "C-0001，新建档案" in result.stdout


def test_without_a_technician_the_series_keeps_the_first_ones(vault, cli):
    """李师傅 is first in the config; on 2026-02-19 at 14:00 he is busy, so that week goes to 王师傅, and
    the week after is his again."""
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
                  "预约/APP-2026-001.md": app_note("APP-2026-001", customer="李四", customer_id="C-0002",
                                                   date="2026-02-19", time="14:30")}, config=CONFIG)
    result = book(cli, root, "--service", "全身推拿", "--repeat", "weekly", "--times", "3", time="14:00")
    assert result.exit_code == 0, result.output
    assert [field(t, "技师安排") for t in series_notes(root).values()] == ["李师傅", "王师傅", "李师傅"]


# -- the edges: all or nothing --------------------------------------------------------------------
def test_a_rest_day_refuses_the_whole_series_with_the_reason_and_a_bookable_alternative(vault, cli):
    root = vault(config=CONFIG)
    before = notes(root)
    result = cli(root, "book", "-c", "赵六", "--phone", "13500001111", "--date", "2026-02-12", "--time", "10:00",
                 *PUSH, "--repeat", "2d", "--times", "3", *AT)
    assert result.exit_code == 1
    err = result.stderr
    assert "未预约疗程：3 次中有 1 次无法预约，未写入任何预约" in err
    line = next(x for x in err.splitlines() if "第 3 次" in x)
    assert "2026-02-16（周一） 10:00" in line and "是技师 李师傅 的休息日（周一）" in line
    m = re.search(r"最近的空闲：(\d{4}-\d\d-\d\d)（周.） (\d\d:\d\d) (\S+) (\S+)", line)
    assert m, line
    assert notes(root) == before  # nothing written: no appointment, no profile for 赵六
    # the alternative is one `book` accepts for that customer, beside the two other occurrences
    assert cli(root, "book", "-c", "赵六", "--phone", "13500001111", *PUSH, "--repeat", "2d", "--times", "2",
               "--date", "2026-02-12", "--time", "10:00", *AT).exit_code == 0
    single = cli(root, "book", "-c", "赵六", "--date", m[1], "--time", m[2], "--service", "全身推拿",
                 "--technician", m[3], "--room", m[4], *AT)
    assert single.exit_code == 0, single.output


def test_the_alternative_avoids_the_days_of_the_other_occurrences(studio, cli):
    """Daily from Saturday: Monday is 李师傅's day off. The nearest free time on Sunday is taken by the series
    itself, so the nearest alternative is Tuesday morning."""
    result = book(cli, studio, *PUSH, "--repeat", "daily", "--times", "3", date="2026-02-14")
    assert result.exit_code == 1
    assert "第 3 次 2026-02-16（周一） 10:00" in result.stderr
    assert "最近的空闲：2026-02-17（周二） 09:00 李师傅 房间A" in result.stderr


def test_the_last_slot_before_closing(studio, cli):
    """李师傅 works until 18:00: a 60-minute series at 17:00 fits, at 17:10 it does not, and 17:00 is offered."""
    assert book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "3", time="17:00").exit_code == 0
    later = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "2", time="17:10", date="2026-03-05")
    assert later.exit_code == 1
    assert "第 1 次 2026-03-05（周四） 17:10：17:10–18:10 超出技师 李师傅 的工作时间 09:00–18:00" in later.stderr
    assert "最近的空闲：2026-03-05（周四） 17:00 李师傅 房间A" in later.stderr
    assert len(series_notes(studio)) == 3


@pytest.fixture
def busy(vault):
    """李四 has 李师傅 on 2026-02-26 at 10:00; 张三 has 艾灸 with 张技师 on 2026-02-19 at 10:00."""
    return vault({
        "客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
        "客户/C-0002 李四.md": customer_note("C-0002", "李四", "13900000002"),
        "预约/APP-2026-001.md": app_note("APP-2026-001", customer="李四", customer_id="C-0002", date="2026-02-26",
                                         time="10:00"),
        "预约/APP-2026-002.md": app_note("APP-2026-002", date="2026-02-19", time="10:00", service="艾灸调理",
                                         minutes=45, technician="张技师"),
    }, config=CONFIG)


def test_an_occurrence_clashing_with_an_existing_appointment_refuses_all(busy, cli):
    before = notes(busy)
    result = book(cli, busy, *PUSH, "--repeat", "weekly", "--times", "4", time="11:00")
    assert result.exit_code == 1
    line = next(x for x in result.stderr.splitlines() if "第 3 次" in x)
    assert "技师 李师傅 已有预约 APP-2026-001 李四 2026-02-26 10:00–11:00" in line
    assert "最近的空闲：2026-02-26（周四） 11:10 李师傅 房间A" in line
    assert "--skip-conflicts" in result.stderr
    assert notes(busy) == before


def test_the_customers_own_overlapping_appointment_refuses_that_date(busy, cli):
    before = notes(busy)
    result = book(cli, busy, *PUSH, "--repeat", "weekly", "--times", "2", time="10:30")
    assert result.exit_code == 1
    line = next(x for x in result.stderr.splitlines() if "第 2 次" in x)
    assert "客户 张三 同一时间已有预约 APP-2026-002 2026-02-19 10:00–10:45" in line
    assert "第 1 次" not in result.stderr
    assert notes(busy) == before


def test_skip_conflicts_books_the_others_and_lists_the_skipped(busy, cli):
    result = book(cli, busy, *PUSH, "--repeat", "weekly", "--times", "4", "--skip-conflicts")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "已跳过 2 次（--skip-conflicts）：" in out
    assert re.search(r"第 2 次 2026-02-19（周四） 10:00：客户 张三 同一时间已有预约 APP-2026-002.*最近的空闲：", out)
    assert re.search(r"第 3 次 2026-02-26（周四） 10:00：技师 李师傅 已有预约 APP-2026-001.*最近的空闲：", out)
    made = series_notes(busy)
    assert [(field(t, "预约日期"), field(t, "疗程序号")) for t in made.values()] == [
        ("2026-02-12", "1/2"), ("2026-03-05", "2/2")]


def test_skip_conflicts_with_nothing_bookable_is_refused(studio, cli):
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "2", "--skip-conflicts", date="2026-02-16")
    assert result.exit_code == 1
    assert "2 次都无法预约" in result.stderr
    assert not (studio / "预约").exists()


def test_a_start_already_past_is_a_failing_date(studio, cli):
    result = cli(studio, "book", "-c", "张三", "--date", "2026-02-05", "--time", "10:00", *PUSH, "--repeat", "weekly",
                 "--times", "2", *AT)
    assert result.exit_code == 1
    assert "第 1 次 2026-02-05（周四） 10:00：开始时间 2026-02-05 10:00 已经过去" in result.stderr


def test_an_allergy_refuses_the_series_once(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", contraindications="骨折未愈")}, config=CONFIG)
    result = book(cli, root, *PUSH, "--repeat", "weekly", "--times", "3")
    assert result.exit_code == 1
    assert result.stderr.startswith("未预约：张三")
    assert not (root / "预约").exists()


# -- after booking: one occurrence at a time ------------------------------------------------------
def test_status_and_reschedule_of_one_occurrence_leave_the_others(studio, cli):
    assert book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "4").exit_code == 0
    before = notes(studio)
    assert cli(studio, "status", "APP-2026-002", "cancelled", *AT).exit_code == 0
    moved = cli(studio, "reschedule", "APP-2026-003", "--time", "15:00", *AT)
    assert moved.exit_code == 0, moved.output
    after = notes(studio)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"预约/APP-2026-002.md", "预约/APP-2026-003.md"}
    text = after["预约/APP-2026-003.md"].decode()
    assert field(text, "预约时间") == "15:00" and field(text, "系列编号") == "SER-2026-001"
    assert field(after["预约/APP-2026-002.md"].decode(), "当前状态") == "已取消"


def test_agenda_marks_the_occurrence(studio, cli):
    assert book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "4").exit_code == 0
    assert book(cli, studio, "--service", "全身推拿", "--technician", "王师傅", date="2026-02-19", time="14:00").exit_code == 0
    text = cli(studio, "agenda", "--date", "2026-02-19", *AT)
    assert re.search(r"10:00–11:00\s+张三\s+全身推拿\s+房间A\s+待服务\s+APP-2026-002 疗程 2/4", text.stdout), text.stdout
    assert re.search(r"14:00–15:00 .*APP-2026-005\n", text.stdout)
    md = cli(studio, "agenda", "--date", "2026-02-19", "--format", "md", *AT).stdout
    assert "| 张三 | 全身推拿（疗程 2/4） | 房间A | 待服务 | APP-2026-002 |" in md
    board = cli(studio, "agenda", "--date", "2026-02-19", "--format", "json", *AT).json()
    items = {i["预约编号"]: i for lane in board["技师"] for i in lane["预约"]}
    assert items["APP-2026-002"]["系列编号"] == "SER-2026-001" and items["APP-2026-002"]["疗程序号"] == "2/4"
    assert "系列编号" not in items["APP-2026-005"]


def test_customer_show_tells_how_far_the_series_has_come(studio, cli):
    assert book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "4").exit_code == 0
    assert cli(studio, "log", "APP-2026-001", "--at", "2026-02-12 11:00").exit_code == 0
    assert cli(studio, "status", "APP-2026-003", "cancelled", *AT).exit_code == 0
    shown = cli(studio, "customer", "show", "张三", "--at", "2026-02-13 09:00")
    assert shown.exit_code == 0, shown.output
    assert re.search(r"SER-2026-001\s+全身推拿\s+已完成 1/4，剩余 2，取消或未到 1", shown.stdout), shown.stdout
    assert "2026-02-12✓、2026-02-19、2026-02-26（已取消）、2026-03-05" in shown.stdout
    data = cli(studio, "customer", "show", "张三", "--format", "json", "--at", "2026-02-13 09:00").json()
    (series,) = data["疗程"]
    assert (series["系列编号"], series["服务项目"], series["次数"], series["已完成"], series["剩余"]) == (
        "SER-2026-001", "全身推拿", 4, 1, 2)
    assert [(a["预约日期"], a["当前状态"]) for a in series["预约"]] == [
        ("2026-02-12", "已完成"), ("2026-02-19", "待服务"), ("2026-02-26", "已取消"), ("2026-03-05", "待服务")]


# -- a series that draws on a 次卡 -------------------------------------------------------------------
def add_card(cli, root, sessions: int, end: str = "2026-06-30", service: str = "全身推拿"):
    result = cli(root, "customer", "package", "add", "张三", "--name", f"推拿{sessions}次卡", "--sessions", str(sessions),
                 "--service", service, "--start", "2026-02-01", "--end", end)
    assert result.exit_code == 0, result.output


def test_a_series_draws_on_the_card(studio, cli):
    add_card(cli, studio, 5)
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "4", "--package")
    assert result.exit_code == 0, result.output
    assert "使用套餐：推拿5次卡" in result.stdout
    assert {field(t, "使用套餐") for t in series_notes(studio).values()} == {"推拿5次卡"}
    # the card's visits are promised: a second series of two no longer fits in the one left
    again = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "2", "--package", time="15:00")
    assert again.exit_code == 1
    assert "次卡「推拿5次卡」剩余 5 次（其中 4 次已被其他预约占用），不够本疗程 2 次" in again.stderr
    # logging a visit takes it from the card, as for any appointment
    assert cli(studio, "log", "APP-2026-001", "--at", "2026-02-12 11:00").exit_code == 0
    assert "剩余次数: 4" in (studio / "客户/C-0001 张三.md").read_text(encoding="utf-8")


def test_a_card_without_enough_visits_is_refused_by_name(studio, cli):
    add_card(cli, studio, 3)
    before = notes(studio)
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "4", "--package")
    assert result.exit_code == 1
    assert "未预约疗程：次卡「推拿3次卡」剩余 3 次，不够本疗程 4 次" in result.stderr
    assert notes(studio) == before


def test_a_card_expiring_before_the_last_occurrence_is_refused_by_name(studio, cli):
    add_card(cli, studio, 10, end="2026-02-28")
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "4", "--package")
    assert result.exit_code == 1
    assert "未预约疗程：次卡「推拿10次卡」2026-02-28 到期，早于疗程最后一次 2026-03-05" in result.stderr
    assert not (studio / "预约").exists()


def test_no_card_for_the_service_is_refused(studio, cli):
    add_card(cli, studio, 10, service="艾灸调理")
    result = book(cli, studio, *PUSH, "--repeat", "weekly", "--times", "2", "--package")
    assert result.exit_code == 1
    assert "客户 张三 没有可用于「全身推拿」的次卡" in result.stderr


# -- usage ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (("--times", "4"), "--times 需与 --repeat 一起使用"),
    (("--repeat", "weekly"), "--repeat 需与 --times 一起使用"),
    (("--repeat", "monthly", "--times", "4"), "无法识别的重复方式「monthly」"),
    (("--repeat", "weekly", "--times", "1"), "疗程次数应在 2–52 之间"),
    (("--repeat", "weekly", "--times", "四"), "--times：应为整数"),
    (("--skip-conflicts",), "--skip-conflicts 只用于疗程"),
    (("--package",), "--package 只用于疗程"),
])
def test_usage_errors(studio, cli, args, message):
    result = book(cli, studio, *PUSH, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (studio / "预约").exists()


# -- a killed run ----------------------------------------------------------------------------------
def test_a_series_killed_half_way_is_reported_by_the_same_command_not_booked_twice(vault, tmp_path):
    """Killed after its journal was written (at the second note it links into place), the series is
    finished by the next command, and the same `book` run again reports it instead of booking it again."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace 未安装")
    root = vault(config=CONFIG)
    args = ["--vault", str(root), "book", "-c", "赵六", "--phone", "13500001111", "--date", "2026-02-21", "--time",
            "14:00", *PUSH, "--repeat", "weekly", "--times", "4", "--at", "2026-02-20 09:00"]
    killed = subprocess.run([strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=linkat",
                             "-e", "inject=linkat:signal=KILL:when=2", sys.executable, "-m", "vaultcrm", *args],
                            env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}, capture_output=True, check=False,
                            text=True, timeout=120)
    if killed.returncode != -9:
        pytest.skip(f"strace could not kill the run here ({killed.stderr.strip()[:200]})")
    assert list((root / ".vaultcrm" / "journal").glob("*.json")), "killed before its journal was written"
    again = run_cli(*args, env={"PYTHONPATH": str(REPO / "src")})
    assert again.returncode == 0, again.stderr
    assert "疗程已预约（上次中断的运行已完成） SER-2026-001" in again.stdout
    assert sorted(p.name for p in (root / "预约").iterdir()) == [f"APP-2026-00{n}.md" for n in range(1, 5)]
    assert [p.name for p in (root / "客户").iterdir()] == ["C-0001 赵六.md"]
    assert not list((root / ".vaultcrm" / "journal").glob("*.json"))


def test_json_lists_the_skipped_occurrences(busy, cli):
    result = book(cli, busy, *PUSH, "--repeat", "weekly", "--times", "4", "--skip-conflicts", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert [a["预约编号"] for a in data["预约"]] == ["APP-2026-003", "APP-2026-004"]
    assert [(s["序号"], s["日期"], s["时间"]) for s in data["跳过"]] == [(2, "2026-02-19", "10:00"), (3, "2026-02-26", "10:00")]
    assert data["跳过"][1]["原因"].startswith("技师 李师傅 已有预约 APP-2026-001")
    assert data["跳过"][1]["最近的空闲"] == "2026-02-26（周四） 11:10 李师傅 房间A"
