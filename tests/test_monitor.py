"""`vaultcrm watch` as a file monitor: with a watch running, a command asks it which notes changed
instead of stat-ing the whole vault, and must see exactly what a scan sees.

Each test runs a real `watch` subprocess on a real vault and changes the notes the ways people do
(Obsidian saving in place, a sync tool restoring the mtime of a same-size edit, a save by rename, a
folder moved, notes created and deleted), then compares a load through the monitor with a load that
reads every file afresh (no cache, no monitor).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from vaultcrm.core.loader import load_vault
from vaultcrm.vault import monitor

from test_watch import DAY, app_note, service_note

pytestmark = pytest.mark.slow


def small_vault(vault) -> Path:
    files = {f"预约/APP-2026-{n:03d}.md": app_note(f"APP-2026-{n:03d}") for n in range(1, 31)}
    files.update({f"服务记录/SRV-2026-{n:03d}.md": service_note(f"SRV-2026-{n:03d}") for n in range(1, 11)})
    files["笔记/随手记.md"] = "# 不是记录的笔记\n"
    return vault(files)


def snapshot(vault) -> tuple:
    """What a command works from: every note's stamp, every record, every diagnostic."""
    records = sorted((r.kind, r.path, repr(r.model_dump())) for r in vault.index.records)
    return dict(vault.files), records, sorted(map(str, vault.diagnostics))


def assert_monitor_matches_scan(root: Path) -> None:
    """A load through the monitor sees what a fresh scan sees. The watch itself writes notes (the
    statistics it keeps current), late on a loaded machine: the comparison counts only when a scan
    before and a scan after the monitor's load agree, i.e. nothing was written meanwhile."""
    for _ in range(30):
        before = snapshot(load_vault(root, use_cache=False))
        through_monitor = load_vault(root)
        assert through_monitor.stats.monitored, "the running watch was not asked"
        if snapshot(load_vault(root, use_cache=False)) == before:
            assert snapshot(through_monitor) == before
            return
        time.sleep(0.5)
    pytest.fail("the watch kept writing notes for 15 s: no quiet moment to compare in")


def edit_keeping_mtime_and_size(path: Path, old: str, new: str) -> None:
    """What a sync tool does: same size, mtime set back. Only the ctime tells."""
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    changed = text.replace(old, new, 1)
    assert changed != text and len(changed.encode()) == len(text.encode())
    path.write_text(changed, encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_commands_ask_the_running_watch_and_see_what_a_scan_sees(vault, watch):
    root = small_vault(vault)
    watch(root)
    assert_monitor_matches_scan(root)

    # Obsidian saving in place
    note = root / "预约" / "APP-2026-001.md"
    note.write_text(app_note("APP-2026-001", status="已完成"), encoding="utf-8")
    assert load_vault(root).index.appointments["APP-2026-001"].status == "已完成"
    assert_monitor_matches_scan(root)

    # a sync tool: same size, mtime restored
    edit_keeping_mtime_and_size(note, "已完成", "已取消")
    assert load_vault(root).index.appointments["APP-2026-001"].status == "已取消"
    assert_monitor_matches_scan(root)

    # an editor saving through a temp file and a rename
    tmp = root / "预约" / ".APP-2026-002.md.swp"
    tmp.write_text(app_note("APP-2026-002", status="已确认"), encoding="utf-8")
    os.replace(tmp, root / "预约" / "APP-2026-002.md")
    assert load_vault(root).index.appointments["APP-2026-002"].status == "已确认"
    assert_monitor_matches_scan(root)

    # created, deleted
    (root / "预约" / "APP-2026-031.md").write_text(app_note("APP-2026-031"), encoding="utf-8")
    (root / "预约" / "APP-2026-003.md").unlink()
    loaded = load_vault(root)
    assert "APP-2026-031" in loaded.index.appointments and "APP-2026-003" not in loaded.index.appointments
    assert_monitor_matches_scan(root)

    # a whole folder moved, then a note written into a new folder at once
    (root / "服务记录").rename(root / "服务记录-归档")
    (root / "新文件夹" / "更深").mkdir(parents=True)
    (root / "新文件夹" / "更深" / "APP-2026-040.md").write_text(app_note("APP-2026-040"), encoding="utf-8")
    loaded = load_vault(root)
    assert loaded.index.services["SRV-2026-001"].path == "服务记录-归档/SRV-2026-001.md"
    assert "APP-2026-040" in loaded.index.appointments
    assert_monitor_matches_scan(root)

    # a folder deleted
    shutil.rmtree(root / "服务记录-归档")
    assert not load_vault(root).index.services
    assert_monitor_matches_scan(root)


def test_a_note_changed_while_watch_was_down_is_seen(vault, watch):
    root = small_vault(vault)
    first = watch(root)
    assert_monitor_matches_scan(root)
    assert first.stop() == 0

    note = root / "预约" / "APP-2026-005.md"
    edit_keeping_mtime_and_size(note, "待服务", "已完成")
    without = load_vault(root)  # no watch: a scan, as always
    assert not without.stats.monitored
    assert without.index.appointments["APP-2026-005"].status == "已完成"

    edit_keeping_mtime_and_size(note, "已完成", "已取消")  # and again, before the next watch starts
    watch(root)
    loaded = load_vault(root)
    assert loaded.index.appointments["APP-2026-005"].status == "已取消"
    assert_monitor_matches_scan(root)


def test_a_token_of_another_watch_is_not_trusted(vault, watch):
    """Shards written under one watch say nothing about changes made before the next one started."""
    root = small_vault(vault)
    watch(root)
    loaded = load_vault(root)
    instance, _, seq = loaded.token.partition(":")
    assert len(instance) == 32 and seq.isdigit()
    other = monitor.ask(root, "0" * 32 + ":0")
    assert other is not None and not other.fresh and other.token.startswith(instance)
    assert monitor.ask(root, f"{instance}:{int(seq) + 10**6}").fresh is False  # a number it never gave
    later = monitor.ask(root, loaded.token)
    assert later.fresh and later.files == ()


def test_commands_give_the_same_output_with_and_without_watch(vault, watch, cli):
    root = small_vault(vault)
    before = cli(root, "agenda", "--date", DAY, "--format", "json")
    listing = cli(root, "customer", "list")
    w = watch(root)
    (root / "预约" / "APP-2026-010.md").write_text(app_note("APP-2026-010", status="已取消"), encoding="utf-8")
    with_watch = cli(root, "agenda", "--date", DAY, "--format", "json")
    assert load_vault(root).stats.monitored
    assert w.stop() == 0
    without_watch = cli(root, "agenda", "--date", DAY, "--format", "json")
    assert with_watch.exit_code == without_watch.exit_code == 0
    assert with_watch.stdout == without_watch.stdout != before.stdout
    assert cli(root, "customer", "list").stdout == listing.stdout


def test_the_watch_reloads_from_its_events_without_scanning(vault, monkeypatch):
    """The watch stats only the paths its events named (the whole vault only at start)."""
    import time

    from vaultcrm.core import loader
    from vaultcrm.watch.watcher import Watcher

    root = small_vault(vault)
    scans: list[Path] = []
    real_scan = loader.scan
    monkeypatch.setattr(loader, "scan", lambda where, *a: scans.append(Path(where)) or real_scan(where, *a))
    watcher = Watcher(root, debounce=0.05)
    try:
        watcher.start()
        assert scans == [root]
        (root / "预约" / "APP-2026-007.md").write_text(app_note("APP-2026-007", status="已完成"), encoding="utf-8")
        deadline = time.monotonic() + 10
        while watcher.vault.index.appointments["APP-2026-007"].status != "已完成":
            assert time.monotonic() < deadline, "the watch did not pick the save up"
            watcher._collect(0.1)
            if watcher._due():
                watcher._cycle()
        assert scans == [root]
        assert snapshot(watcher.vault)[1] == snapshot(load_vault(root, use_cache=False))[1]
    finally:
        watcher.stop()
