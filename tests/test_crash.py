"""Crash safety and concurrency at the level of real commands.

- Real commands (book, status, stats, restore) looping in a process that is SIGKILLed at random
  moments: afterwards every note loads, none is truncated, no ID is doubled, and the next command works.
- watch, a cron-style remind, two front desks booking, status changes, stats and a person editing notes
  by hand, all at once: nothing is lost.
- A note saved in Obsidian between vaultcrm's read and its write is never overwritten.
(The byte-level SIGKILL test of write_atomic is in test_writer.py.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import stop_watch

from vaultcrm.core import store
from vaultcrm.core.loader import load_vault
from vaultcrm.diagnostics import Severity
from vaultcrm.errors import ConcurrentChangeError

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}
ENV.pop("VAULTCRM_VAULT", None)

APP = """---
预约编号: {id}
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  预约日期: 2026-02-20
  预约时间: '{time}'
  预约渠道: 电话
服务信息:
  服务项目: 全身推拿
  服务时长: 60分钟
  技师安排: 李师傅
预约状态:
  创建时间: '2026-02-01 10:00'
  当前状态: 待服务
  状态更新:
---

# {id} 张三

## 备注
"""
PROFILE = "---\n客户编号: C-0001\n客户姓名: 张三\n联系方式: '13800138000'\n---\n\n# C-0001 张三\n\n## 备注\n"
BASE = {"预约/APP-2026-001.md": APP.format(id="APP-2026-001", time="10:00"),
        "预约/APP-2026-002.md": APP.format(id="APP-2026-002", time="15:00"),
        "客户/C-0001 张三.md": PROFILE}

# Runs real commands through the CLI's entry point, in one process so that kills land in the work,
# not in Python's start-up. Writes "ready" to its status file once a whole round has run, and the exit
# codes at the end. Output goes to files: a full pipe would stall it.
DRIVER = textwrap.dedent("""
    import json, sys
    from vaultcrm.cli import main
    root, status, rounds, script = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    codes = []
    i = 0
    while rounds < 0 or i < rounds:
        for args in script:
            args = [a.replace("{i}", str(i)).replace("{day}", f"{1 + i % 28:02d}").replace("{month}", f"{3 + i // 28 % 9:02d}")
                    .replace("{state}", "已确认" if i % 2 == 0 else "待服务") for a in args]
            sys.argv = ["vaultcrm", "--vault", root, *args]
            try:
                main()
                codes.append(0)
            except SystemExit as exc:
                codes.append(exc.code if isinstance(exc.code, int) else 1)
        if i == 0:
            open(status, "w").write("ready")
        i += 1
    open(status, "w").write(json.dumps(codes))
""")


class Driver:
    def __init__(self, root: Path, script: list[list[str]], rounds: int, workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        self.status, self.log = workdir / "status", workdir / "output.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(root), str(self.status), str(rounds),
                                          json.dumps(script)], stdout=out, stderr=subprocess.STDOUT, env=ENV)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.status.exists():
            assert self.proc.poll() is None, self.log.read_text(encoding="utf-8")[-2000:]
            assert time.monotonic() < deadline, "driver never finished a round"
            time.sleep(0.02)

    def codes(self, timeout: float = 180) -> list[int]:
        self.proc.wait(timeout=timeout)
        output = self.log.read_text(encoding="utf-8")
        assert "Traceback" not in output and "意外错误" not in output, output[-2000:]
        return json.loads(self.status.read_text(encoding="utf-8"))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def driver(tmp_path):
    """Start command loops; whatever is still running when the test ends is killed."""
    started: list[Driver] = []

    def start(root: Path, script: list[list[str]], rounds: int = -1) -> Driver:
        d = Driver(root, script, rounds, tmp_path / "drivers" / str(len(started)))
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


def temp_files(root: Path) -> list[Path]:
    """Temp files of writes (notes, archives) that a kill cut short; the parse cache does not count."""
    return [p for p in root.rglob(".*.tmp") if "cache" not in p.parent.name]


def assert_vault_whole(root: Path) -> None:
    """Every note reads without error, none is cut short, no ID twice, no visible temp file."""
    vault = load_vault(root, use_cache=False)
    errors = [str(d) for d in vault.diagnostics if d.severity is Severity.ERROR]
    assert errors == []
    from vaultcrm.checks.cross_record import duplicate_ids

    assert list(duplicate_ids(vault.index, vault.settings)) == []
    for path in root.rglob("*.md"):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n"), path
        if path.parent.name in ("预约", "客户"):
            assert "## 备注" in text, f"{path} is cut short"
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp") and not p.name.startswith(".")]


KILL_SCRIPT = [
    ["book", "--customer", "客人{i}", "--date", "2026-{month}-{day}", "--time", "10:00", "--service", "全身推拿",
     "--technician", "李师傅", "--at", "2026-02-12 09:00"],
    ["status", "APP-2026-001", "{state}", "--force", "--at", "2026-02-12 09:00"],
    ["stats", "--at", "2026-02-12 18:00"],
]


@pytest.mark.slow
def test_commands_killed_at_random_never_leave_a_broken_vault(cli, vault, driver):
    root = vault(BASE)
    rng = random.Random(20260212)
    kills = mid_write = 0
    for _ in range(8):
        d = driver(root, KILL_SCRIPT)
        d.wait_ready()
        time.sleep(rng.uniform(0, 0.6))
        d.kill()
        kills += 1
        mid_write += len(temp_files(root))
        assert all((root / rel).is_file() for rel in BASE)  # nothing went missing
        assert_vault_whole(root)
    booked = cli(root, "book", "--customer", "收尾", "--date", "2027-01-05", "--time", "10:00", "--service", "全身推拿",
                 "--technician", "李师傅", "--at", "2026-02-12 09:00")
    assert booked.exit_code == 0, booked.output  # no lock or counter left behind
    assert cli(root, "check").exit_code == 0
    assert kills == 8
    print(f"\nreliability: {kills} kills of book/status/stats survived, {mid_write} mid-write")


@pytest.mark.slow
def test_restore_killed_at_random_leaves_each_note_old_or_new(cli, vault, driver):
    root = vault({**BASE, **{f"预约/APP-2026-{n:03d}.md": APP.format(id=f"APP-2026-{n:03d}", time="10:00")
                             for n in range(3, 40)}})
    assert cli(root, "backup", "--at", "2026-02-12 09:00").exit_code == 0
    versions: dict[str, set[bytes]] = {}
    for path in (root / "预约").iterdir():
        old = path.read_bytes()
        new = old.replace(b"## \xe5\xa4\x87\xe6\xb3\xa8\n", "## 备注\n改过了\n".encode())
        path.write_bytes(new)
        versions[path.name] = {old, new}
    assert cli(root, "backup", "--at", "2026-02-13 09:00").exit_code == 0
    script = [["restore", "vaultcrm-2026-02-12-090000.zip", "--yes", "--at", "2026-02-14 09:00"],
              ["restore", "vaultcrm-2026-02-13-090000.zip", "--yes", "--at", "2026-02-14 09:00"]]
    rng = random.Random(7)
    mid_write = 0
    for _ in range(6):
        d = driver(root, script)
        d.wait_ready()
        time.sleep(rng.uniform(0, 0.5))
        d.kill()
        mid_write += len(temp_files(root))  # writes the kill cut short
        for path in (root / "预约").glob("[!.]*"):
            assert path.read_bytes() in versions[path.name], path
        assert_vault_whole(root)
    archives = [p.name for p in (root / ".vaultcrm" / "backups").iterdir() if not p.name.startswith(".")]
    assert all(name.endswith(".zip") for name in archives)
    assert cli(root, "backup", "list").exit_code == 0
    print(f"\nreliability: 6 kills of restore survived, {mid_write} mid-write")


# -- many writers at once -------------------------------------------------------------------------

HAND_EDITOR = textwrap.dedent("""
    import sys, time, pathlib
    root, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        # Obsidian saves by rewriting the file in place
        for rel in ("预约/APP-2026-002.md", "客户/C-0001 张三.md"):
            path = root / rel
            text = path.read_text(encoding="utf-8")
            path.write_text(text + f"手写第{i}行\\n", encoding="utf-8")
        (root / "随手记").mkdir(exist_ok=True)
        (root / "随手记" / f"想法{i}.md").write_text(f"第{i}条想法\\n", encoding="utf-8")
        time.sleep(0.02)
    print("done", flush=True)
""")


@pytest.mark.slow
def test_watch_remind_book_status_stats_and_hand_edits_at_once_lose_nothing(vault, driver, tmp_path):
    root = vault(BASE)
    n = 6
    watch_log = tmp_path / "watch.log"
    with open(watch_log, "w") as out:  # PYTHONFAULTHANDLER: a watch that hangs shows its threads on SIGABRT
        watch = subprocess.Popen([sys.executable, "-m", "vaultcrm", "--vault", str(root), "watch", "--poll",
                                  "--interval", "0.2"], stdout=out, stderr=subprocess.STDOUT,
                                 env={**ENV, "PYTHONFAULTHANDLER": "1"})
    try:
        deadline = time.monotonic() + 60
        while not watch_log.read_text(encoding="utf-8"):  # synced and watching
            assert watch.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        writers = {
            "desk A": driver(root, [["book", "--customer", "甲{i}", "--date", "2026-{month}-{day}", "--time", "10:00",
                                     "--service", "全身推拿", "--technician", "李师傅", "--at", "2026-02-12 09:00"]], n),
            "desk B": driver(root, [["book", "--customer", "乙{i}", "--date", "2026-{month}-{day}", "--time", "14:00",
                                     "--service", "全身推拿", "--technician", "王师傅", "--at", "2026-02-12 09:00"]], n),
            "status": driver(root, [["status", "APP-2026-001", "{state}", "--force"]], n),
            "stats": driver(root, [["stats", "--at", "2026-02-12 18:00"]], n),
            "cron remind": driver(root, [["remind", "--at", "2026-02-19 15:{i}0", "--quiet"]], n),
        }
        hand = subprocess.run([sys.executable, "-c", HAND_EDITOR, str(root), str(n)], capture_output=True,
                              text=True, env=ENV, timeout=60)
        assert hand.stdout.strip() == "done", hand.stderr
        codes = {name: d.codes() for name, d in writers.items()}
    finally:
        stop_watch(watch, watch_log)
    assert "Traceback" not in watch_log.read_text(encoding="utf-8")
    assert codes["desk A"] == [0] * n and codes["desk B"] == [0] * n, codes
    assert set(codes["stats"]) == {0} and set(codes["cron remind"]) == {0}, codes
    assert set(codes["status"]) <= {0, 1}  # 1: refused because the note changed under it — never overwritten

    vault_now = load_vault(root, use_cache=False)
    apps = vault_now.index.appointments
    assert len(apps) == 2 + 2 * n
    names = sorted(a.info.customer_name for a in apps.values())
    assert names == sorted(["张三", "张三", *(f"甲{i}" for i in range(n)), *(f"乙{i}" for i in range(n))])
    for rel in ("预约/APP-2026-002.md", "客户/C-0001 张三.md"):
        text = (root / rel).read_text(encoding="utf-8")
        assert [f"手写第{i}行" in text for i in range(n)] == [True] * n, rel
    assert len(list((root / "随手记").iterdir())) == n
    history = apps["APP-2026-001"].state.history
    assert len(history) == codes["status"].count(0)  # every status change that succeeded is recorded
    assert_vault_whole(root)
    print(f"\nreliability: 7 concurrent writers; status refused {codes['status'].count(1)} of {n} "
          "times because a note changed under it")


# -- a save in Obsidian between read and write ---------------------------------------------------

def test_update_refuses_a_note_saved_after_the_vault_was_read(vault):
    root = vault(BASE)
    loaded = load_vault(root, use_cache=False)
    record = loaded.index.appointments["APP-2026-001"]
    path = root / record.path
    edited = path.read_text(encoding="utf-8").replace("## 备注\n", "## 备注\n客户改约到下午\n")
    path.write_text(edited, encoding="utf-8")
    with pytest.raises(ConcurrentChangeError, match="在读取后被修改"):
        store.update_record(root, record, {("预约状态", "当前状态"): "已确认"}, loaded=loaded.loaded_stamp(record))
    assert path.read_text(encoding="utf-8") == edited


def test_status_command_does_not_overwrite_a_save_made_during_it(cli, vault, monkeypatch):
    import vaultcrm.cli.booking as booking_cli

    root = vault(BASE)
    path = root / "预约/APP-2026-001.md"
    real = booking_cli.open_vault

    def load_then_user_saves(*args, **kwargs):
        loaded = real(*args, **kwargs)
        path.write_text(path.read_text(encoding="utf-8") + "刚在 Obsidian 里写的\n", encoding="utf-8")
        return loaded

    monkeypatch.setattr(booking_cli, "open_vault", load_then_user_saves)
    result = cli(root, "status", "APP-2026-001", "已确认")
    assert result.exit_code == 1 and "在读取后被修改" in result.stderr
    text = path.read_text(encoding="utf-8")
    assert "刚在 Obsidian 里写的" in text and "当前状态: 待服务" in text
