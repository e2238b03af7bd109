"""No shadow vault: without `--vault`, `$VAULTCRM_VAULT` or a vault found upward, nothing is written.

Every command but `init` is run in an empty folder (also HOME, so nothing may land there either) in
real processes: each refuses with a message naming `--vault` and `init`, exits 1, and the folder tree,
HOME and the temp folder (where a crash log would go) are unchanged. `init PATH` creates the folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

COMMANDS = [
    ["check"], ["stats"], ["stats", "--date", "2026-02-12"], ["report", "services"],
    ["book", "-c", "张三", "-d", "2026-02-12", "-t", "14:00", "-s", "全身推拿"],
    ["status", "APP-2026-001", "已确认"], ["reschedule", "APP-2026-001", "--date", "2026-02-13", "--time", "10:00"],
    ["log", "--customer", "张三", "--service", "全身推拿"], ["log", "APP-2026-001"],
    ["follow", "plan"], ["follow", "list"], ["follow", "done", "FLW-2026-001"], ["follow", "cancel", "FLW-2026-001"],
    ["remind"], ["remind", "--send", "--quiet"], ["remind", "done", "R-0212-01"],
    ["watch", "--poll"],
    ["customer", "show", "张三"], ["customer", "list"], ["customer", "tag"], ["customer", "edit", "C-0001", "--phone", "13800138000"],
    ["customer", "points", "张三"], ["customer", "package", "add", "张三", "--name", "卡", "--sessions", "10"],
    ["customer", "forget", "C-0001", "--yes"], ["purge", "--yes"],
    ["import", "customers", "../名单.csv"], ["export", "csv"], ["export", "ics"],
    ["backup"], ["backup", "list"], ["restore", "x.zip", "--yes"],
]

# Each command in its own process forked from one that imported vaultcrm once (a cold start per command
# would cost a second of CPU each); the child runs the real entry point with the real cwd, HOME and env.
DRIVER = textwrap.dedent("""
    import json, os, sys
    from vaultcrm.cli import main
    results = []
    for i, args in enumerate(json.loads(sys.argv[1])):
        out = os.path.join(sys.argv[2], f"{i}.txt")
        pid = os.fork()
        if pid == 0:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1), os.dup2(fd, 2)
            sys.argv = ["vaultcrm", *args]
            code = 0
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            sys.stdout.flush(), sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        results.append([os.waitstatus_to_exitcode(status), open(out, encoding="utf-8").read()])
    print(json.dumps(results))
""")


def tree(folder: Path) -> dict[str, tuple]:
    """Every path under `folder` with its kind, size and mtime: any write shows up as a difference."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            found[str(path.relative_to(folder))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture
def nowhere(tmp_path: Path):
    """(empty cwd, environment): HOME is that folder too, TMPDIR a folder of its own, no $VAULTCRM_VAULT."""
    empty, temp, outputs = tmp_path / "空目录", tmp_path / "tmp", tmp_path / "outputs"
    for folder in (empty, temp, outputs):
        folder.mkdir()
    (empty / "随手记.md").write_text("一篇不相干的笔记\n", encoding="utf-8")
    (tmp_path / "名单.csv").write_text("姓名,电话\n张三,13800138000\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "VAULTCRM_VAULT"}
    env.update(HOME=str(empty), TMPDIR=str(temp), COLUMNS="200")
    return empty, env, outputs


def run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vaultcrm", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def run_all(commands: list[list[str]], cwd: Path, env: dict, outputs: Path) -> list[tuple[int, str]]:
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(commands), str(outputs)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [tuple(r) for r in json.loads(proc.stdout)]


def test_every_command_but_init_refuses_without_a_vault_and_writes_nothing(nowhere):
    empty, env, outputs = nowhere
    before, temp_before = tree(empty), tree(Path(env["TMPDIR"]))
    for args, (code, output) in zip(COMMANDS, run_all(COMMANDS, empty, env, outputs)):
        assert code == 1, (args, code, output)
        assert "没有找到库" in output and "--vault" in output and "vaultcrm init" in output, (args, output)
        assert "Traceback" not in output and "意外错误" not in output, (args, output)
    assert tree(empty) == before  # no .vaultcrm/, no note, no log, nothing in HOME
    assert tree(Path(env["TMPDIR"])) == temp_before  # and no crash log in the temp folder


def test_a_real_booking_in_the_wrong_folder_lands_nowhere(nowhere):
    empty, env, _ = nowhere
    before = tree(empty)
    proc = run(["book", "-c", "张三", "-d", "2026-02-12", "-t", "14:00", "-s", "全身推拿", "--at", "2026-02-01 10:00"],
               empty, env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "--vault" in proc.stderr and "init" in proc.stderr and "Traceback" not in proc.stderr
    assert tree(empty) == before


@pytest.mark.parametrize("how", ["--vault", "$VAULTCRM_VAULT"])
def test_a_vault_path_that_does_not_exist_is_refused_and_named(nowhere, how):
    empty, env, outputs = nowhere
    missing = empty / "养生馆"
    some = [args for args in COMMANDS if args[0] in ("check", "book", "log", "remind", "watch", "backup")]
    if how == "--vault":
        commands = [["--vault", str(missing), *args] for args in some]
    else:
        commands, env = some, {**env, "VAULTCRM_VAULT": str(missing)}
    before = tree(empty)
    for args, (code, output) in zip(commands, run_all(commands, empty, env, outputs)):
        assert code == 1, (args, code, output)
        assert "库目录不存在" in output and str(missing) in output.replace("\n", "") and how in output, (args, output)
    assert tree(empty) == before and not missing.exists()


def test_init_path_creates_the_missing_folder_with_its_parents(nowhere):
    empty, env, _ = nowhere
    proc = run(["init", "门店/静心养生馆", "--studio", "静心养生馆"], empty, env)
    assert proc.returncode == 0, proc.stderr
    root = empty / "门店" / "静心养生馆"
    assert "静心养生馆" in (root / "vaultcrm.yaml").read_text(encoding="utf-8")
    assert (root / "预约").is_dir() and (root / "服务追踪表.md").is_file()
    assert not (empty / "vaultcrm.yaml").exists() and not (empty / ".vaultcrm").exists()
    # The new vault is then found from inside it without --vault.
    proc = run(["check"], root / "预约", env)
    assert proc.returncode == 0 and "预约 0" in proc.stdout, proc.stdout + proc.stderr


def test_init_with_the_readmes_vault_option_creates_the_folder(nowhere):
    empty, env, _ = nowhere
    proc = run(["--vault", "./养生馆", "init"], empty, env)
    assert proc.returncode == 0, proc.stderr
    assert (empty / "养生馆" / "vaultcrm.yaml").is_file()
    proc = run(["--vault", "./养生馆", "book", "-c", "张三", "-d", "2026-02-12", "-t", "14:00", "-s", "全身推拿",
                "--at", "2026-02-01 10:00", "--yes"], empty, env)
    assert proc.returncode == 0 and "APP-2026-001" in proc.stdout, proc.stderr
    assert (empty / "养生馆" / "预约" / "APP-2026-001.md").is_file()


def test_init_without_a_path_or_vault_initialises_the_current_folder(nowhere):
    empty, env, _ = nowhere
    proc = run(["init"], empty, env)
    assert proc.returncode == 0, proc.stderr
    assert (empty / "vaultcrm.yaml").is_file() and (empty / "随手记.md").read_text(encoding="utf-8") == "一篇不相干的笔记\n"


def test_init_refuses_a_file_and_a_path_that_contradicts_vault(nowhere):
    empty, env, _ = nowhere
    before = tree(empty)
    proc = run(["init", "随手记.md"], empty, env)
    assert proc.returncode == 1 and "不是文件夹" in proc.stderr and "随手记.md" in proc.stderr
    proc = run(["--vault", "甲", "init", "乙"], empty, env)
    assert proc.returncode == 2 and "--vault" in proc.stderr
    assert tree(empty) == before


def test_a_vault_is_still_found_upward_and_by_the_environment(nowhere):
    empty, env, _ = nowhere
    root = empty / "库"
    (root / ".obsidian").mkdir(parents=True)
    (root / "客户" / "深处").mkdir(parents=True)
    (root / "客户" / "C-0001 张三.md").write_text("---\n客户编号: C-0001\n客户姓名: 张三\n---\n", encoding="utf-8")
    proc = run(["check"], root / "客户" / "深处", env)
    assert proc.returncode == 0 and "客户 1" in proc.stdout, proc.stderr
    proc = run(["check"], empty, {**env, "VAULTCRM_VAULT": str(root)})
    assert proc.returncode == 0 and "客户 1" in proc.stdout, proc.stderr
