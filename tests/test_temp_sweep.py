"""Temp files of a killed writer (a whole customer record, the name in the file name) go at once.

A real writer process is stopped between writing its temp files and renaming them (a note and
`.vaultcrm/ids.json`), then SIGKILLed: the next command removes both. While the writer still runs,
or while anyone holds a temp file's lock, the file is kept; a user's own dot-files are never touched.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import run_cli

from vaultcrm.core.loader import load_vault

PROFILE = "---\n客户编号: C-0001\n客户姓名: 张三\n联系方式: '13800138000'\n---\n\n# C-0001 张三\n"

# A writer that stops right before its renames: the temp files are fully written, as at a SIGKILL there.
WRITER = textwrap.dedent("""
    import os, sys, threading, time
    from pathlib import Path
    from vaultcrm.vault.writer import write_atomic

    printing = threading.Lock()

    def stuck(src, dst):
        with printing:
            print(src, flush=True)
        time.sleep(600)

    os.replace = stuck
    root = Path(sys.argv[1])
    note = root / "客户" / "C-0001 张三.md"
    text = note.read_text(encoding="utf-8").replace("13800138000", "13900139000")
    for target, data in [(note, text.encode()), (root / ".vaultcrm" / "ids.json", b'{"C-": 1}')]:
        threading.Thread(target=write_atomic, args=(target, data), daemon=True).start()
    time.sleep(600)
""")


@pytest.fixture
def studio(tmp_path: Path) -> Path:
    root = tmp_path / "库"
    (root / "客户").mkdir(parents=True)
    (root / ".vaultcrm").mkdir()
    (root / "客户" / "C-0001 张三.md").write_text(PROFILE, encoding="utf-8")
    (root / ".vaultcrm" / "ids.json").write_text('{"C-": 1}\n', encoding="utf-8")
    (root / "客户" / ".我的草稿.md.tmp").write_text("用户自己的临时文件", encoding="utf-8")
    return root


def start_writer(root: Path) -> tuple[subprocess.Popen, list[Path]]:
    """The writer process, once both of its temp files are on disk, and their paths."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    temps = [Path(proc.stdout.readline().strip()) for _ in range(2)]
    assert all(p.is_file() for p in temps), temps
    return proc, temps


def stats(root: Path) -> None:
    proc = run_cli("--vault", str(root), "stats", "--at", "2026-02-12 18:00")
    assert proc.returncode == 0, proc.stderr


def test_temp_files_of_a_killed_writer_are_swept_by_the_next_command(studio):
    proc, temps = start_writer(studio)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()
    note_temp, ids_temp = sorted(temps, key=lambda p: p.parent.name != "客户")
    assert "张三" in note_temp.name and "13900139000" in note_temp.read_text(encoding="utf-8")
    assert ids_temp.parent.name == ".vaultcrm" and ids_temp.name.startswith(".ids.json.")
    stats(studio)
    assert not note_temp.exists() and not ids_temp.exists()
    assert sorted(p.name for p in (studio / "客户").iterdir()) == [".我的草稿.md.tmp", "C-0001 张三.md"]
    assert "13800138000" in (studio / "客户" / "C-0001 张三.md").read_text(encoding="utf-8")  # the kill's edit never landed
    assert not [p for p in studio.rglob("*") if "张三" in p.name and p.name.startswith(".")]


def test_temp_files_of_a_running_writer_are_kept(studio):
    proc, temps = start_writer(studio)
    try:
        stats(studio)  # another command while the writer is between its write and its rename
        assert all(p.is_file() for p in temps)
    finally:
        proc.kill()
        proc.wait()
    stats(studio)
    assert not any(p.exists() for p in temps)


def test_a_locked_temp_file_is_kept_even_when_its_pid_is_dead(studio):
    proc, temps = start_writer(studio)
    proc.kill()
    proc.wait()
    fd = os.open(temps[0], os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # someone (a PID reused, another process) still holds it
        load_vault(studio)
        assert temps[0].is_file() and not temps[1].exists()
    finally:
        os.close(fd)
    load_vault(studio)
    assert not temps[0].exists()


def test_temp_files_whose_writer_cannot_be_checked_wait_an_hour(studio):
    folder = studio / "客户"
    other_host = folder / ".C-0002 李四.md.vaultcrm-1-000000-0badc0de.tmp"  # PID 1 on some other machine
    old_style = folder / ".C-0003 王五.md.vaultcrm-0badc0df.tmp"  # written before names carried a PID
    for path in (other_host, old_style):
        path.write_text("---\n客户姓名: 某人\n---\n", encoding="utf-8")
    load_vault(studio)
    assert other_host.exists() and old_style.exists()
    hour_ago = time.time() - 3700
    for path in (other_host, old_style):
        os.utime(path, (hour_ago, hour_ago))
    load_vault(studio)
    assert not other_host.exists() and not old_style.exists()
    assert (folder / ".我的草稿.md.tmp").exists()


CACHE_WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from vaultcrm.vault.writer import write_atomic

    def stuck(src, dst):
        print(src, flush=True)
        time.sleep(600)

    os.replace = stuck
    folder = Path(sys.argv[1]) / ".vaultcrm" / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "notes-00.msgpack", "客户姓名: 张三, 联系方式: 13800138000".encode())
""")


def test_a_killed_cache_writers_temp_file_is_swept_too(studio):
    """Cache shards hold whole notes: after a `forget` their temp copies must not outlive the erasure."""
    proc = subprocess.Popen([sys.executable, "-c", CACHE_WRITER, str(studio)], stdout=subprocess.PIPE, text=True)
    temp = Path(proc.stdout.readline().strip())
    proc.kill()
    proc.wait()
    assert temp.is_file() and temp.parent.name == "cache"
    stats(studio)
    assert not temp.exists()
