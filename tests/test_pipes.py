"""Tables survive a pipe, cron mail and an 80-column terminal: no `16:`/`00`, no one character per line."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios

import pytest
from rich.cells import cell_len

from conftest import REPO, run_cli

AT = "2026-11-21 10:00"
COMMANDS = {
    "customer list": (["customer", "list", "--at", "2026-11-21"], ["编号", "姓名", "电话", "最近到店", "近12月消费"]),
    "follow list": (["follow", "list", "--at", AT], ["编号", "计划日期", "类型", "客户", "电话"]),
    "remind": (["remind", "--at", AT], ["编号", "提醒日期", "提醒类型", "提醒内容", "关联客户"]),
    "report technicians": (["report", "technicians", "--month", "2026-11"], ["技师", "服务次数", "营业额", "提成"]),
    "stats --date": (["stats", "--date", "2026-11-21"], ["项目", "数据"]),
    "customer show": (["customer", "show", "C-0001", "--at", "2026-11-21"], ["日期", "服务项目", "技师", "服务记忆"]),
}
BROKEN_TIME = re.compile(r"\d\d:\s*\n\s*[│┃|]?\s*\d\d")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipes") / "vault"
    shutil.copytree(REPO / "example_vault", root, ignore=shutil.ignore_patterns(".vaultcrm", "*.py"))
    return root


def assert_unbroken(out: str) -> None:
    assert not BROKEN_TIME.search(out), out
    # a column squeezed to one character: text stacked a character per line, line after line
    single = [len(line.strip(" │┃|")) == 1 for line in out.splitlines()]
    assert not any(a and b for a, b in zip(single, single[1:])), out


@pytest.mark.parametrize("name", COMMANDS)
def test_piped_tables_are_plain_aligned_lines(example, name):
    args, header = COMMANDS[name]
    proc = run_cli("--vault", str(example), *args, env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert_unbroken(out)
    tables = out.split("最近服务")[-1] if name == "customer show" else out  # its panels are not tables
    assert not re.search(r"[│┃┏┗━─╭╰]", tables), out
    heads = [line for line in out.splitlines() if all(h in line for h in header)]
    assert heads, out
    # every column header appears in order on one line, separated by at least two spaces
    assert re.search(r"\s{2,}".join(map(re.escape, header[:2])), heads[0]), heads[0]


def test_piped_customer_list_is_one_line_per_customer(example):
    proc = run_cli("--vault", str(example), "customer", "list", "--at", "2026-11-21", env={"COLUMNS": "80"})
    rows = [line for line in proc.stdout.splitlines() if re.match(r"C-\d{4}\s", line)]
    assert len(rows) == 90
    for line in rows:
        assert re.match(r"C-\d{4}\s+\S+\s+1\d{10}\s+\S+\s+\d+\s+(\d{4}-\d\d-\d\d|—)\s+¥[\d,.]+\s+\d+", line), line
    # aligned: the phone column starts at the same cell on every row
    starts = {cell_len(line[: re.search(r"1\d{10}", line).start()]) for line in rows}
    assert len(starts) == 1


def test_piped_reminders_keep_date_and_time_together(example):
    proc = run_cli("--vault", str(example), "remind", "--at", AT, env={"COLUMNS": "80"})
    rows = [line for line in proc.stdout.splitlines() if re.match(r"R-\d{4}-\d\d\s", line)]
    assert rows and all(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line) for line in rows), proc.stdout


def run_in_pty(args: list[str], columns: int = 80) -> tuple[int, str]:
    """The command on a pseudo-terminal `columns` wide, as a person at an 80-column terminal sees it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm"}
    env.pop("VAULTCRM_VAULT", None)
    proc = subprocess.Popen([sys.executable, "-m", "vaultcrm", *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=60)
    os.close(master)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")


@pytest.mark.parametrize("name", ["customer list", "follow list", "remind", "report technicians", "customer show"])
def test_80_column_terminal_keeps_times_dates_ids_and_phones_whole(example, name):
    args, header = COMMANDS[name]
    code, out = run_in_pty(["--vault", str(example), *args])
    assert code == 0, out
    assert_unbroken(out)
    for pattern in (r"C-\d{3}$", r"FLW-\d{4}-\d{0,2}$", r"\d{4}-\d\d-$", r"(?:^|[\s│])1\d{2,9}$", r"\d{4}-\d{1,2}$"):
        assert not any(re.search(pattern, line.rstrip(" │┃")) for line in out.splitlines()), (pattern, out)


def test_80_column_terminal_folds_free_text_inside_the_width(example):
    code, out = run_in_pty(["--vault", str(example), "customer", "list", "--at", "2026-11-21"])
    lines = [line for line in out.splitlines() if line.strip()]
    rows = [line for line in lines if re.match(r"C-\d{4} ", line)]
    assert len(rows) == 90
    assert all(cell_len(line) <= 80 for line in lines[1:]), out
    assert all(re.search(r"1\d{10} .* \d{4}-\d\d-\d\d ", line) for line in rows), out


def test_customer_list_shows_brackets_and_backslashes_as_written_piped_and_on_a_terminal(tmp_path):
    root = tmp_path / "vault"
    shutil.copytree(REPO / "example_vault", root, ignore=shutil.ignore_patterns(".vaultcrm", "*.py"))
    note = next((root / "客户").glob("C-0001 *.md"))
    text = note.read_text(encoding="utf-8").replace("客户姓名: 莫子涵", "客户姓名: '[VIP]莫\\子涵'")
    note.write_text(text.replace("标签:\n", "标签:\n  - '[red]老客'\n", 1), encoding="utf-8")
    args = ["--vault", str(root), "customer", "list", "--at", "2026-11-21"]
    piped = run_cli(*args, env={"COLUMNS": "80"})
    assert piped.returncode == 0, piped.stderr
    line = next(line for line in piped.stdout.splitlines() if line.startswith("C-0001"))
    assert "[VIP]莫\\子涵" in line and "[red]老客" in line, line
    code, out = run_in_pty(args, columns=200)
    assert code == 0, out
    line = next(line for line in out.splitlines() if line.startswith("C-0001"))
    assert "[VIP]莫\\子涵" in line and "[red]老客" in line, line
