"""`python -m vaultcrm` ends without freeing what it loaded (`cli.run`): the same output and exit codes as `main`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ENV = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}


def appointment(n: int) -> str:
    return (f"---\n预约编号: APP-2026-{n:05d}\n预约信息:\n  客户姓名: 客户{n}\n  预约日期: 2026-11-23\n"
            f"  预约时间: '{9 + n}:00'\n服务信息:\n  服务项目: 推拿\n  技师安排: 李师傅\n预约状态:\n  当前状态: 已确认\n---\n")


def run(vault: Path, *args: str, entry: str) -> subprocess.CompletedProcess:
    """`entry` "run" is `python -m vaultcrm`; "main" calls `cli.main` in the usual way (a normal exit)."""
    if entry == "run":
        argv = [sys.executable, "-m", "vaultcrm", "--vault", str(vault), *args]
    else:
        argv = [sys.executable, "-c", "import sys\nfrom vaultcrm.cli import main\nsys.argv[0] = 'vaultcrm'\nmain()",
                "--vault", str(vault), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=120)


def test_output_and_exit_codes_are_those_of_main(tmp_path):
    vault = tmp_path / "v"
    (vault / "预约").mkdir(parents=True)
    for n in range(1, 4):
        (vault / "预约" / f"APP-2026-{n:05d}.md").write_text(appointment(n), encoding="utf-8")
    cases = [(["agenda", "--date", "2026-11-23", "--format", "json"], 0),
             (["agenda", "--date", "2026-11-23"], 0),
             (["free", "-s", "推拿", "--date", "2026-11-23", "--at", "2026-11-22 09:00", "--limit", "0"], 0),
             (["agenda", "--date", "不是日期"], 2),
             (["customer", "show", "C-9999"], 1)]
    for args, code in cases:
        fast, usual = run(vault, *args, entry="run"), run(vault, *args, entry="main")
        assert (fast.returncode, fast.stdout, fast.stderr) == (usual.returncode, usual.stdout, usual.stderr), args
        assert fast.returncode == code, (args, fast.stderr)
    board = run(vault, "agenda", "--date", "2026-11-23", entry="run").stdout
    assert "APP-2026-00003" in board and board.rstrip().endswith("13:10–21:00  空闲 7小时50分")  # the last line is out too


def test_main_in_process_gives_the_collector_back_and_the_ending_program_leaves_it_off(tmp_path):
    """A command runs with the collector off. Called in-process (tests, tools) `main` turns it back on;
    the program (`run`) and a warm worker's child exit right after, so they leave it off: turned on, its
    first pass would go through everything the command loaded."""
    vault = tmp_path / "v"
    (vault / "预约").mkdir(parents=True)
    (vault / "预约" / "APP-2026-00001.md").write_text(appointment(1), encoding="utf-8")
    probe = ("import gc, sys\nfrom vaultcrm.cli import main\n"
             "sys.argv = ['vaultcrm', '--vault', sys.argv[1], 'agenda', '--date', '2026-11-23', '--format', 'json']\n"
             "try:\n    main(ending=ENDING)\nexcept SystemExit as exc:\n"
             "    sys.stderr.write(f'exit {exc.code} collector {gc.isenabled()}')\n")
    for ending in (False, True):
        code = probe.replace("ENDING", str(ending))
        done = subprocess.run([sys.executable, "-c", code, str(vault)], capture_output=True, text=True, env=ENV,
                              timeout=120)
        assert done.stderr == f"exit 0 collector {not ending}", done.stderr
        assert "APP-2026-00001" in done.stdout
