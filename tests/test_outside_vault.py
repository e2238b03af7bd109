"""Nothing lands outside the vault, and nothing planted at a note's path hangs a command.

A synced vault is a folder others can write to: a folder may be swapped for a symlink to anywhere,
`vaultcrm.yaml` may point a folder at `../x` or `/srv/x`, and a FIFO, socket or device may sit where
the dashboard or a day's reminder note belongs. Each command then refuses with a message naming the
path, exits 1 and writes nothing outside the vault. Commands run as real subprocesses with a timeout,
so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from service_data import CONFIG, customer

from vaultcrm.vault.writer import NotRegularFileError, UnsafePathError, create_exclusive, read_stamped, write_atomic

BOOK = ["book", "--customer", "张三", "--date", "2026-02-13", "--time", "10:00", "--service", "全身推拿",
        "--at", "2026-02-12 09:00"]
LOG = ["log", "APP-2026-001", "--at", "2026-02-13 11:05"]
STATS = ["stats", "--at", "2026-02-13 18:00"]
REMIND = ["remind", "--at", "2026-02-13 08:00"]


def vaultcrm(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VAULTCRM_VAULT"}
    return subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def studio(tmp_path):
    """A vault with one customer and one appointment for 2026-02-13, booked through the CLI."""
    root = tmp_path / "vault"
    (root / "客户").mkdir(parents=True)
    (root / "vaultcrm.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "客户" / "C-0001 张三.md").write_text(customer(), encoding="utf-8")
    result = vaultcrm(root, *BOOK)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def everything(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "意外错误" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def swap_for_symlink(root: Path, folder: str, target: Path) -> None:
    path = root / folder
    if path.exists():
        for child in sorted(path.rglob("*"), reverse=True):
            child.unlink() if not child.is_dir() else child.rmdir()
        path.rmdir()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target, target_is_directory=True)


# -- symlinked folders ------------------------------------------------------------------------------

@pytest.mark.parametrize("folder, args, words", [
    ("提醒", REMIND, ["提醒/2026-02-1", "不在库内"]),
    ("统计/日报", STATS, ["统计/日报/2026-02-13.md", "不在库内"]),
    ("服务记录", LOG, ["「服务记录」文件夹是指向库外", "outside"]),
    ("跟进", ["follow", "plan", "--at", "2026-02-14 09:00"], []),
    (".vaultcrm", ["check"], [".vaultcrm", "库外"]),
])
def test_a_folder_symlinked_out_of_the_vault_is_never_written_through(studio, outside, folder, args, words):
    if folder == "跟进":  # a service first, so that `follow plan` has a follow-up to write
        assert vaultcrm(studio, *LOG).returncode == 0
    swap_for_symlink(studio, folder, outside)
    result = vaultcrm(studio, *args)
    refused(result, *words)
    assert everything(outside) == []


def test_remind_through_a_symlinked_reminders_folder_keeps_customer_names_in(studio, outside):
    """The reported case: `提醒/` pointing elsewhere made `remind` write the day's customers there."""
    swap_for_symlink(studio, "提醒", outside)
    result = vaultcrm(studio, *REMIND)
    refused(result, "提醒", "符号链接")
    assert everything(outside) == []
    assert not any("张三" in p.read_text(encoding="utf-8") for p in outside.parent.rglob("*.md")
                   if not p.resolve().is_relative_to(studio.resolve()))


# -- folders in vaultcrm.yaml -----------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [("提醒", "../x"), ("日报", "../../x"), ("服务记录", "/tmp/vaultcrm-abs"),
                                        ("总览", "../服务追踪表.md"), ("客户", "a/../../x"), ("月报", ".obsidian/x")])
@pytest.mark.parametrize("args", [REMIND, STATS, LOG], ids=["remind", "stats", "log"])
def test_a_configured_folder_outside_the_vault_is_refused(studio, key, value, args):
    before = everything(studio.parent)
    config = studio / "vaultcrm.yaml"
    config.write_text(CONFIG + f"目录:\n  {key}: {value}\n", encoding="utf-8")
    line = len(CONFIG.splitlines()) + 2
    result = vaultcrm(studio, *args)
    refused(result, f"vaultcrm.yaml:{line}", f"目录.{key}", value)
    assert everything(studio.parent) == before
    assert not Path("/tmp/vaultcrm-abs").exists()


# -- FIFOs, sockets and devices at fixed paths -------------------------------------------------------

def plant_fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


@pytest.mark.parametrize("relpath, args", [
    ("服务追踪表.md", STATS),
    ("统计/日报/2026-02-13.md", STATS),
    ("统计/月报/2026-02.md", STATS),
    ("提醒/2026-02-13.md", REMIND),
])
def test_a_fifo_at_a_note_path_is_refused_not_hung(studio, relpath, args):
    plant_fifo(studio / relpath)
    result = vaultcrm(studio, *args, timeout=30)
    refused(result, relpath.split("/")[-1], "命名管道", "不是普通文件")
    assert stat.S_ISFIFO((studio / relpath).lstat().st_mode)


def test_a_fifo_for_vaultcrm_yaml_is_refused_at_its_name(studio):
    """Every command reads the config first: a FIFO there would hang them all (cron's `remind` too)."""
    plant_fifo(studio / "vaultcrm.yaml")
    for args in (STATS, REMIND, ["check"]):
        refused(vaultcrm(studio, *args, timeout=30), "vaultcrm.yaml:1", "不是可读的普通文本文件")


def test_a_fifo_for_the_remind_log_neither_hangs_nor_stops_the_sending(studio):
    """Logs are best effort: a planted FIFO (or symlink) is passed over, the work itself is done."""
    (studio / "vaultcrm.yaml").write_text(CONFIG + """
提醒规则:
  发送渠道:
    - {名称: 记录, 类型: 命令, 命令: ["true"]}
""", encoding="utf-8")
    relpath = ".vaultcrm/logs/remind.log"
    plant_fifo(studio / relpath)
    result = vaultcrm(studio, "remind", "--send", "--at", "2026-02-12 10:00", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "已发送 1 条" in result.stdout or "已发送" in result.stdout, result.stdout
    assert stat.S_ISFIFO((studio / relpath).lstat().st_mode)


def test_log_with_a_fifo_dashboard_does_not_hang_holding_the_booking_lock(studio):
    """The service is logged, the dashboard is left alone with a message, and the lock is free again."""
    plant_fifo(studio / "服务追踪表.md")
    result = vaultcrm(studio, *LOG, timeout=30)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert "服务日志未更新" in said and "服务追踪表.md" in said and "命名管道" in said
    assert (studio / "服务记录" / "SRV-2026-001.md").is_file()
    assert stat.S_ISFIFO((studio / "服务追踪表.md").lstat().st_mode)
    again = vaultcrm(studio, "book", "--customer", "张三", "--date", "2026-02-14", "--time", "10:00",
                     "--service", "全身推拿", "--at", "2026-02-12 09:00", timeout=30)
    assert again.returncode == 0, again.stderr  # the booking lock was released


def test_a_socket_at_the_dashboard_is_refused(studio):
    path = studio / "服务追踪表.md"
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
    except OSError as exc:  # pragma: no cover - a socket path longer than the platform allows
        pytest.skip(f"cannot bind a socket here: {exc}")
    try:
        result = vaultcrm(studio, *STATS, timeout=30)
        refused(result, "服务追踪表.md", "套接字")
    finally:
        server.close()


def test_a_day_note_linked_to_a_device_is_refused(studio):
    day = studio / "提醒" / "2026-02-13.md"
    day.parent.mkdir(exist_ok=True)
    day.unlink(missing_ok=True)
    day.symlink_to("/dev/zero")  # endless bytes, were it read
    result = vaultcrm(studio, *REMIND, timeout=30)
    refused(result, "2026-02-13.md", "不在库内")
    assert day.is_symlink()


def test_a_device_is_never_read(tmp_path):
    with pytest.raises(NotRegularFileError, match="字符设备"):
        read_stamped("/dev/zero")
    with pytest.raises(IsADirectoryError):
        read_stamped(tmp_path)


# -- the write layer itself --------------------------------------------------------------------------

def test_writes_find_their_vault_and_stay_in_it(tmp_path, outside):
    root = tmp_path / "vault"
    (root / "统计").mkdir(parents=True)
    (root / "vaultcrm.yaml").write_text("", encoding="utf-8")
    (root / "提醒").symlink_to(outside, target_is_directory=True)
    for path in (root / "提醒" / "x.md", root / "统计" / ".." / ".." / "outside" / "y.md",
                 root / "统计" / ".." / ".." / "z.md"):
        with pytest.raises(UnsafePathError, match="会写到库外"):
            write_atomic(path, b"x")
        with pytest.raises(UnsafePathError, match="会写到库外"):
            create_exclusive(path, b"x")
    assert everything(outside) == [] and not (tmp_path / "z.md").exists()
    assert write_atomic(root / "统计" / "ok.md", b"ok") is True
    assert write_atomic(outside / "chosen.csv", b"a", within=None) is True  # a place the user named


def test_a_fifo_is_never_opened_for_reading_by_the_writer(tmp_path):
    fifo = tmp_path / "note.md"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError, match="命名管道"):
        write_atomic(fifo, b"x")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
