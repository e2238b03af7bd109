"""`vaultcrm watch` as a user runs it: a real subprocess on a real vault, changed the ways people change it.

Every wait polls the files against a deadline; nothing sleeps for a fixed time. UPDATE is how long a
change may take to show in the statistics on a busy two-core test machine (the watcher aims at < 1 s).
The subprocess tests are marked slow: each starts an interpreter (1–2 s here).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import wait_until

UPDATE = 2.5  # seconds from a save to the regenerated note
DAY, NEXT_MONTH_DAY = "2026-02-12", "2026-03-02"


def app_note(app_id: str, *, date: str = DAY, status: str = "待服务", channel: str = "电话") -> str:
    return f"""---
预约编号: {app_id}
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  联系方式: '13800138000'
  预约日期: {date}
  预约时间: '14:00'
  预约渠道: {channel}
服务信息:
  服务项目: 全身推拿
  服务时长: 60分钟
预约状态:
  当前状态: {status}
---

前台备注。
"""


def service_note(srv_id: str, *, date: str = DAY) -> str:
    return f"""---
服务编号: {srv_id}
服务基本信息:
  服务日期: {date}
  服务时间: 14:00-15:00
  服务时长: 60分钟
客户信息:
  客户姓名: 张三
  客户编号: C-0001
服务信息:
  服务项目: 全身推拿
---
"""


BROKEN = """---
预约编号: APP-2026-002
预约信息: [没有闭合
  预约日期: 2026-02-12
---
"""


def daily(root: Path, day: str = DAY) -> str:
    try:
        return (root / "统计" / "日报" / f"{day}.md").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def monthly(root: Path, month: str) -> str:
    try:
        return (root / "统计" / "月报" / f"{month}.md").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def figure(text: str, name: str) -> int | None:
    m = re.search(rf"^\| {name} \| (\d+) \|", text, re.M)
    return int(m[1]) if m else None


def studio_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the default 时区


def shows(root: Path, name: str, value: int, day: str = DAY):
    return lambda: figure(daily(root, day), name) == value


@pytest.mark.slow
def test_saves_update_the_daily_and_monthly_notes(vault, watch):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    w = watch(root)
    assert figure(daily(root), "预约客户数") == 1  # brought up to date at start
    assert "统计已同步" in w.output()

    (root / "预约" / "APP-2026-002.md").write_text(app_note("APP-2026-002", channel="微信"), encoding="utf-8")
    wait_until(shows(root, "预约客户数", 2), UPDATE, "a new appointment counted", w)
    wait_until(lambda: figure(monthly(root, "2026-02"), "微信预约") == 1, UPDATE, "the month counted", w)

    # Obsidian writes in place: an edited status
    (root / "预约" / "APP-2026-002.md").write_text(app_note("APP-2026-002", status="已取消"), encoding="utf-8")
    wait_until(shows(root, "取消预约数", 1), UPDATE, "a cancellation counted", w)

    (root / "服务记录").mkdir()
    (root / "服务记录" / "SRV-2026-001.md").write_text(service_note("SRV-2026-001"), encoding="utf-8")
    wait_until(shows(root, "实际服务数", 1), UPDATE, "a service counted", w)
    wait_until(lambda: "已更新：服务记录/SRV-2026-001.md 有变化 → 重写 统计/日报/2026-02-12.md" in w.output(),
               UPDATE, "the regeneration logged", w)
    assert figure(monthly(root, "2026-02"), "总服务人次") == 1


@pytest.mark.slow
def test_a_burst_of_saves_is_one_regeneration(vault, watch):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    w = watch(root)
    notes = {root / "预约" / f"APP-2026-{n:03d}.md": app_note(f"APP-2026-{n:03d}") for n in range(2, 52)}
    for path, text in notes.items():
        path.write_text(text, encoding="utf-8")
    wait_until(shows(root, "预约客户数", 51), UPDATE, "the burst counted", w)
    wait_until(w.updates, UPDATE, "the regeneration logged", w)  # logged right after the note is written
    assert 1 <= len(w.updates()) <= 3, w.updates()  # one, unless the machine stalled mid-burst


@pytest.mark.slow
def test_an_editor_saving_through_a_temp_file_and_rename(vault, watch):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    w = watch(root)
    note = root / "预约" / "APP-2026-001.md"
    (root / "预约" / ".APP-2026-001.md.swp").write_bytes(b"vim swap")
    (root / "预约" / "APP-2026-001.md~").write_text(app_note("APP-2026-001"), encoding="utf-8")
    tmp = root / "预约" / "APP-2026-001.md.tmp"
    tmp.write_text(app_note("APP-2026-001", status="未到店"), encoding="utf-8")
    os.replace(tmp, note)
    wait_until(shows(root, "未到客户数", 1), UPDATE, "the renamed save counted", w)
    assert figure(daily(root), "预约客户数") == 1  # the backup `~` file is not a second appointment


@pytest.mark.slow
def test_an_appointment_moved_to_another_day_updates_both_days_and_months(vault, watch):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001"),
                  "预约/APP-2026-002.md": app_note("APP-2026-002", date="2026-02-20")})
    w = watch(root)
    assert figure(monthly(root, "2026-02"), "电话预约") == 2
    (root / "预约" / "APP-2026-001.md").write_text(app_note("APP-2026-001", date=NEXT_MONTH_DAY), encoding="utf-8")
    wait_until(shows(root, "预约客户数", 1, NEXT_MONTH_DAY), UPDATE, "the new day counted", w)
    wait_until(shows(root, "预约客户数", 0, DAY), UPDATE, "the old day emptied", w)
    wait_until(lambda: figure(monthly(root, "2026-03"), "电话预约") == 1, UPDATE, "the new month counted", w)
    wait_until(lambda: figure(monthly(root, "2026-02"), "电话预约") == 1, UPDATE, "the old month counted", w)


@pytest.mark.slow
def test_deleted_trashed_and_restored_notes(vault, watch):
    root = vault({f"预约/APP-2026-00{n}.md": app_note(f"APP-2026-00{n}") for n in (1, 2, 3)})
    w = watch(root)
    assert figure(daily(root), "预约客户数") == 3
    (root / "预约" / "APP-2026-001.md").unlink()
    wait_until(shows(root, "预约客户数", 2), UPDATE, "a deletion counted", w)
    (root / ".trash").mkdir()
    os.replace(root / "预约" / "APP-2026-002.md", root / ".trash" / "APP-2026-002.md")  # Obsidian's delete
    wait_until(shows(root, "预约客户数", 1), UPDATE, "a move to .trash counted", w)
    (root / "归档").mkdir()
    os.replace(root / ".trash" / "APP-2026-002.md", root / "归档" / "APP-2026-002.md")  # restored elsewhere
    wait_until(shows(root, "预约客户数", 2), UPDATE, "a restored note counted", w)


@pytest.mark.slow
def test_a_broken_note_is_reported_once_and_counted_once_fixed(vault, watch):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    w = watch(root)
    broken = root / "预约" / "APP-2026-002.md"
    broken.write_text(BROKEN, encoding="utf-8")
    wait_until(lambda: "预约/APP-2026-002.md:4:" in w.output(), UPDATE, "the error reported", w)
    broken.write_text(BROKEN + "\n正在修改……\n", encoding="utf-8")  # saved again, still broken
    (root / "预约" / "APP-2026-003.md").write_text(app_note("APP-2026-003"), encoding="utf-8")
    wait_until(shows(root, "预约客户数", 2), UPDATE, "the watcher carried on", w)
    assert w.output().count("APP-2026-002.md:4:") == 1, w.output()

    broken.write_text(app_note("APP-2026-002"), encoding="utf-8")
    wait_until(shows(root, "预约客户数", 3), UPDATE, "the fixed note counted", w)
    wait_until(lambda: "已修正：预约/APP-2026-002.md" in w.output(), UPDATE, "the fix reported", w)


@pytest.mark.slow
def test_a_quiet_vault_is_not_rewritten(vault, watch):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001"), "随手记/想法.md": "# 想法\n"})
    w = watch(root)
    outputs = [*(root / "统计").rglob("*.md")]
    assert len(outputs) == 2
    stamps = {p: p.stat().st_mtime_ns for p in outputs}
    # People edit what is not a record: a plain note, the dashboard's own text, editor leftovers.
    (root / "随手记" / "想法.md").write_text("# 想法\n\n明天进货。\n", encoding="utf-8")
    dashboard = root / "服务追踪表.md"
    dashboard.write_text(dashboard.read_text(encoding="utf-8") + "\n老板的备注。\n", encoding="utf-8")
    dashboard_stamp = dashboard.stat().st_mtime_ns
    (root / ".#想法.md").write_text("lock", encoding="utf-8")
    (root / "~$想法.md.tmp").write_text("office", encoding="utf-8")
    day = studio_today()
    quiet_until = time.monotonic() + 2.0
    while time.monotonic() < quiet_until:
        assert {p: p.stat().st_mtime_ns for p in outputs} == stamps
        if dashboard.stat().st_mtime_ns != dashboard_stamp and studio_today() != day:
            pytest.skip("midnight passed: the dashboard rightly moved to the new day")
        assert dashboard.stat().st_mtime_ns == dashboard_stamp
        time.sleep(0.1)
    assert [line for line in w.updates() if "定时刷新" not in line] == []
    assert "老板的备注。" in dashboard.read_text(encoding="utf-8")


@pytest.mark.slow
def test_ctrl_c_stops_cleanly(vault, watch):
    """SIGTERM (systemd's stop) is what every other test ends with: see the `watch` fixture."""
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    w = watch(root)
    assert w.stop(signal.SIGINT) == 0, w.output()
    assert w.output().rstrip().splitlines()[-1] == "已停止监视"
    assert "Traceback" not in w.output()
    log = (root / ".vaultcrm" / "logs" / "watch.log").read_text(encoding="utf-8").splitlines()
    assert "统计已同步" in log[0] and "开始监视" in log[1] and log[-1].endswith(" 已停止监视")


@pytest.mark.slow
def test_poll_mode_for_network_drives(vault, watch):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    w = watch(root, "--poll", "--interval", "0.2")
    assert "轮询，每 0.2 秒" in w.output()
    (root / "预约" / "APP-2026-002.md").write_text(app_note("APP-2026-002"), encoding="utf-8")
    wait_until(shows(root, "预约客户数", 2), UPDATE, "a polled save counted", w)


@pytest.mark.parametrize("args, message", [
    (["--debounce", "-1"], "--debounce 应在 0–60 秒之间"),
    (["--interval", "2"], "--interval 只在 --poll 轮询时有效"),
    (["--poll", "--interval", "0"], "--interval 应在 0–3600 秒之间"),
])
def test_bad_options_are_usage_errors(vault, cli, args, message):
    result = cli(vault({}), "watch", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_broken_config_refuses_to_start(vault, cli):
    root = vault({}, config="时区: 火星/基地\n")
    result = cli(root, "watch")
    assert result.exit_code == 1
    assert "vaultcrm.yaml:1:" in result.stderr


def test_touched_periods_count_a_record_where_it_was_and_where_it_is(vault):
    from vaultcrm.core.loader import load_vault
    from vaultcrm.stats.periods import Month
    from vaultcrm.watch.watcher import Touched, touched_periods

    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001"),
                  "服务记录/SRV-2026-001.md": service_note("SRV-2026-001", date="2026-01-20"),
                  "客户/C-0001 张三.md": "---\n客户编号: C-0001\n客户姓名: 张三\n---\n"})
    old = load_vault(root).index
    os.replace(root / "预约" / "APP-2026-001.md", root / "APP-2026-001.md")
    (root / "APP-2026-001.md").write_text(app_note("APP-2026-001", date=NEXT_MONTH_DAY), encoding="utf-8")
    (root / "服务记录" / "SRV-2026-002.md").write_text(service_note("SRV-2026-002"), encoding="utf-8")
    new = load_vault(root).index
    touched = touched_periods(old, new, {"预约/APP-2026-001.md", "APP-2026-001.md", "服务记录/SRV-2026-002.md"})
    assert touched.notes == ["APP-2026-001.md", "服务记录/SRV-2026-002.md", "预约/APP-2026-001.md"]
    assert {d.isoformat() for d in touched.dates} == {DAY, NEXT_MONTH_DAY}
    # January: SRV-2026-002 joins the customer's services, whose first one (新客户服务) may have moved
    assert touched.months == {Month(2026, 1), Month(2026, 2), Month(2026, 3)}
    assert touched.services
    assert not touched_periods(old, new, {"预约/APP-2026-001.md"}).services

    (root / "客户" / "C-0001 张三.md").write_text("---\n客户编号: C-0001\n客户姓名: 张三丰\n---\n", encoding="utf-8")
    renamed = load_vault(root).index
    assert touched_periods(new, renamed, {"客户/C-0001 张三.md"}).months == {Month(2026, 1), Month(2026, 2)}
    assert touched_periods(new, new, {"随手记/想法.md"}) == Touched([], set(), set(), False)


def test_at_midnight_the_dashboard_moves_to_the_new_day(vault):
    import threading

    from vaultcrm.watch.watcher import Updated, Watcher

    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", date="2026-02-13")})
    clock = [dt.datetime(2026, 2, 12, 23, 59, 58)]
    watcher = Watcher(root)
    watcher.now = lambda: clock[0]
    watcher.start()
    dashboard = root / "服务追踪表.md"
    assert "今天（2026-02-12）" in dashboard.read_text(encoding="utf-8")
    clock[0] = dt.datetime(2026, 2, 13, 0, 0, 1)
    stop, reports = threading.Event(), []
    guard = threading.Timer(10, stop.set)
    guard.start()
    try:
        watcher.run(stop, lambda report: (reports.append(report), stop.set()))
    finally:
        guard.cancel()
        watcher.stop()
    assert reports == [Updated(clock[0], (), ("服务追踪表.md",), ())]
    text = dashboard.read_text(encoding="utf-8")
    assert "今天（2026-02-13）" in text
    assert figure(text, "预约客户数") == 1


def test_a_refused_write_is_reported_and_retried(vault, monkeypatch):
    import threading

    from vaultcrm.watch import watcher as watcher_module
    from vaultcrm.watch.watcher import Failed, Started, Updated

    monkeypatch.setattr(watcher_module, "RETRY_FIRST", 0.2)
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    dashboard = root / "服务追踪表.md"
    dashboard.mkdir()  # something in the way
    watcher = watcher_module.Watcher(root)
    started, failed = watcher.start()
    assert isinstance(started, Started) and started.written == ()
    assert isinstance(failed, Failed) and failed.message.startswith("写入失败") and failed.retry_in == 0.2
    dashboard.rmdir()
    stop, reports = threading.Event(), []
    guard = threading.Timer(10, stop.set)
    guard.start()
    try:
        watcher.run(stop, lambda report: (reports.append(report), isinstance(report, Updated) and stop.set()))
    finally:
        guard.cancel()
        watcher.stop()
    assert [type(r) for r in reports] == [Updated]
    assert "服务追踪表.md" in reports[0].written
    assert "<!-- vaultcrm:每日统计 开始 -->" in dashboard.read_text(encoding="utf-8")
    assert figure(daily(root), "预约客户数") == 1


def test_an_observer_that_will_not_stop_does_not_keep_the_watch_running(vault, monkeypatch):
    import threading

    from vaultcrm.watch import watcher as watcher_module

    monkeypatch.setattr(watcher_module, "STOP_WAIT", 0.3)
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001")})
    watcher = watcher_module.Watcher(root, poll=True, interval=0.1)
    watcher.start()
    observer = watcher._observer
    released = threading.Event()
    real_stop = observer.stop
    observer.stop = lambda: (released.wait(30), real_stop())  # an emitter stuck on a hung drive
    began = time.monotonic()
    try:
        watcher.stop()
        took = time.monotonic() - began
    finally:
        released.set()
        observer.join(timeout=5)
    assert took < 2.0
    assert not observer.is_alive()
