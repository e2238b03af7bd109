"""Chinese all the way down: click's and typer's help and usage errors, and libyaml's errors in `check`."""

from __future__ import annotations

import io
import re

import pytest

from conftest import Result, run_cli
from test_cli_help import COMMANDS

COMMAND_NAMES = {name for path, _ in COMMANDS for name in path}
# English that the commands' own help uses on purpose: the program, product and format names, the
# values options accept (`--format text`, `report technicians`, the status aliases `status` accepts),
# and the patterns IDs and dates are written in. Everything else in English is a failure.
ALLOWED = COMMAND_NAMES | {
    "vaultcrm", "python", "Obsidian", "CSV", "Excel", "iCalendar", "UTF", "BOM", "GBK", "xlsx", "zip", "ics",
    "cron", "YAML", "frontmatter", "Tab", "text", "json", "md", "csv", "technicians", "services", "customers",
    "APP", "SRV", "FLW", "ID", "YYYY", "MM", "DD", "HH", "VAULTCRM_VAULT",
    "WL", "LV", "SER", "CMP", "SH", "BJ", "campaigns", "stores", "git", "rebase", "merge", "driver",
    "PENDING", "CONFIRMED", "IN_PROGRESS", "COMPLETED", "CANCELLED", "NO_SHOW", "all",
}
_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
_PATH = re.compile(r"\S*[/\\]\S*|[\w.-]+\.(?:md|yaml|csv|ics|zip|xlsx|log|base)\b")


def english_words(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """Words of ASCII English outside option names, file paths and the allow-lists (case-sensitive)."""
    text = _PATH.sub(" ", _OPTION.sub(" ", text))
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_]+", text) if w not in ALLOWED and w not in allowed]


def test_the_detector_finds_click_english():
    sample = ("Usage: vaultcrm book [OPTIONS]\nTry 'vaultcrm book --help' for help.\n\n"
              "Error: No such option: --foo Did you mean --format?\n  --help  Show this message and exit.\n"
              "  -f, --format <str>  text 或 json  [default: text]  [required]\n")
    assert {"Usage", "OPTIONS", "Try", "Error", "Show", "str", "default", "required"} <= set(english_words(sample))
    assert english_words("用法：vaultcrm book [选项]\n  -f, --format <文本>  text 或 json  [默认：text]") == []


@pytest.fixture
def cli(capsys, monkeypatch):
    """`vaultcrm --vault ROOT args…` through the real entry point, in-process (the shared `cli` fixture
    wraps `main` in a click command that would answer `--help` itself)."""
    import sys

    import vaultcrm.cli.base as app_module
    from vaultcrm.cli import main

    monkeypatch.delenv("VAULTCRM_VAULT", raising=False)

    def run(root, *args):
        app_module.state.vault_option = None
        monkeypatch.setattr(sys, "argv", ["vaultcrm", "--vault", str(root), *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        captured = capsys.readouterr()
        prog = re.compile(r"python -m \S+")  # click names the program after how pytest was started
        return Result(exit_.value.code or 0, prog.sub("vaultcrm", captured.out), prog.sub("vaultcrm", captured.err))

    return run


HELP_PAGES = [(), *(path for path, _ in COMMANDS)]


@pytest.mark.parametrize("path", HELP_PAGES, ids=["vaultcrm", *(" ".join(p) for p, _ in COMMANDS)])
def test_every_help_page_is_chinese(cli, tmp_path, path):
    result = cli(tmp_path, *path, "--help")
    assert result.exit_code == 0, result.output
    assert "用法：" in result.output and "选项：" in result.output and "显示此帮助并退出。" in result.output
    assert english_words(result.output) == [], result.output


def test_metavars_defaults_and_required_in_chinese(cli, tmp_path):
    out = cli(tmp_path, "report", "--help").output
    assert "{类别}" in out and "参数：" in out and "[必填]" in out and "[默认：text]" in out
    assert "-f, --format <文本>" in out
    out = cli(tmp_path, "follow", "done", "--help").output
    assert "<整数范围>" in out and "[≥1]" in out


def test_help_columns_stay_aligned_with_chinese_metavars(cli, tmp_path):
    from rich.cells import cell_len

    out = cli(tmp_path, "book", "--help").output
    rows = [line for line in out.splitlines() if line.startswith("  -")]
    starts = set()
    for line in rows:
        term = re.match(r"  (\S(?:.*?\S)?)  +", line)
        starts.add(cell_len(term.group(0)))
    assert len(rows) > 5 and len(starts) == 1, out


WRONG = [
    (["bok"], "没有命令「bok」，是不是要用「book」？"),
    (["customer", "lst"], "没有命令「lst」，是不是要用「list」？"),
    (["book", "--foo"], "没有选项「--foo」，是不是要用「--force」或「--format」或「--room」？"),
    (["follow", "done"], "缺少参数「FLW-ID」。"),
    (["customer", "show"], "缺少参数「客户」。"),
    (["backup", "--keep", "x"], "「--keep」的取值无效：应为整数"),
    (["follow", "done", "FLW-2026-001", "--next-days", "0"], "「--next-days」的取值无效：应不小于 1"),
    (["check", "--format"], "选项「--format」后面缺少取值。"),
    (["check", "extra"], "多余的参数：「extra」"),
    (["check", "--format", "xml"], "--format 不支持「xml」"),
]


@pytest.mark.parametrize("args,expected", WRONG, ids=[" ".join(a) for a, _ in WRONG])
def test_wrong_invocations_are_told_in_chinese(cli, tmp_path, args, expected):
    result = cli(tmp_path, *args)
    assert result.exit_code == 2
    assert expected in result.output, result.output
    assert english_words(result.output, set(args) | {"xml", "bok", "lst"}) == [], result.output


def test_usage_error_shows_usage_and_help_hint_in_a_real_process(tmp_path):
    proc = run_cli("--vault", str(tmp_path), "bok")
    assert proc.returncode == 2
    assert proc.stderr.startswith("用法：")
    assert "查看帮助。" in proc.stderr and "错误：没有命令「bok」，是不是要用「book」？" in proc.stderr
    assert english_words(proc.stderr, {"bok"}) == [], proc.stderr


def test_a_group_run_bare_shows_its_help_in_chinese(cli, tmp_path):
    result = cli(tmp_path, "follow")
    assert "命令：" in result.output and "显示此帮助并退出。" in result.output
    assert english_words(result.output) == [], result.output


def test_standalone_click_is_translated_too():
    """An older typer runs on click itself (whose strings go through gettext): same catalogue, same text."""
    import click

    from vaultcrm.cli.chinese import install, show_error

    install()

    @click.command()
    @click.option("--keep", type=int, default=7, show_default=True, help="保留天数")
    @click.argument("name")
    def command(keep, name):  # pragma: no cover - never invoked
        pass

    ctx = click.Context(command, info_name="demo")
    text = command.get_help(ctx)
    assert text.startswith("用法：demo [选项] NAME") and "显示此帮助并退出。" in text and "[默认：7]" in text
    for args, expected in ((["--kep", "1", "a"], "没有选项「--kep」，是不是要用「--help」或「--keep」？"),
                           ([], "缺少参数「NAME」。"),
                           (["--keep", "x", "a"], "「--keep」的取值无效：「x」不是整数")):
        with pytest.raises(click.UsageError) as info:
            command.main(args, prog_name="demo", standalone_mode=False)
        out = io.StringIO()
        show_error(info.value, out)
        assert expected in out.getvalue(), out.getvalue()
        assert english_words(out.getvalue(), {"demo", "NAME", "kep"}) == [], out.getvalue()


BROKEN = {
    "客户/a.md": "---\n客户编号: C-0001\n姓名: 张三\n标签: [VIP, 常客\n电话: '13800000000'\n---\n",
    "客户/b.md": "---\n客户编号: C-0002\n姓名: *李四\n---\n",
    "客户/c.md": "---\n客户编号: C-0003\n姓名: 王五\n备注: 加钟: 30分钟\n---\n",
    "客户/d.md": "---\n客户编号: C-0004\n姓名: 赵六\n备注\n电话: '1'\n---\n",
    "客户/e.md": "---\n客户编号: C-0005\n姓名: '@赵七\n---\n".replace("'@", "@"),
    "客户/f.md": "---\n客户编号: C-0006\n姓名: '钱八\n电话: 1\n---\n",
    "客户/g.md": "---\n客户编号: C-0007\n偏好: {力度: 重\n---\n",
    "客户/h.md": "---\n客户编号: C-0008\n姓名: 孙九\n  电话: '1'\n---\n",
}


def test_yaml_syntax_errors_are_explained_in_chinese_with_the_line(cli, vault):
    root = vault({path: text.replace("\n", "\n") for path, text in BROKEN.items()})
    for path, text in BROKEN.items():
        (root / path).write_text(text, encoding="utf-8")
    result = cli(root, "check")
    assert result.exit_code == 1
    out = result.output
    expected = [
        ("客户/a.md:5:", "第 4 行的「[」缺少对应的「]」"),
        ("客户/b.md:3:", "以 & 或 * 开头的值在 YAML 中表示锚点或引用"),
        ("客户/c.md:4:", "多了一个冒号「: 」"),
        ("客户/d.md:5:", "缺少冒号：第 4 行应写成「字段: 值」"),
        ("客户/e.md:3:", "保留字符"),
        ("客户/f.md:5:", "第 3 行开始的引号缺少结束的引号"),
        ("客户/g.md:4:", "第 3 行的「{」缺少对应的「}」"),
        ("客户/h.md:4:", "多了一个冒号「: 」，或缩进与上一行不一致"),
    ]
    lines = out.splitlines()
    for prefix, text in expected:
        assert any(line.startswith(prefix) and text in line for line in lines), (prefix, text, out)
    assert english_words(out, {"VIP"}) == [], out


def test_every_libyaml_problem_we_explain_is_chinese():
    from vaultcrm.vault.yaml_messages import EXPLANATIONS

    for _, text in EXPLANATIONS:
        assert re.search(r"[\u4e00-\u9fff]", text) and english_words(text.format(start="这一行")) == []


def test_a_missing_value_asked_for_on_a_terminal_is_complained_about_in_chinese(tmp_path):
    """`book` without --customer on a terminal asks for it; an empty answer gets a Chinese complaint."""
    import os
    import pty
    import select
    import sys
    import time

    (tmp_path / "vaultcrm.yaml").write_text("店名: 测试\n", encoding="utf-8")
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execv(sys.executable, [sys.executable, "-m", "vaultcrm", "--vault", str(tmp_path), "book",
                                  "-d", "2030-01-07", "-t", "10:00", "-s", "足疗"])
    out = b""

    def read(seconds: float) -> None:
        nonlocal out
        end = time.time() + seconds
        while time.time() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return

    read(4)
    os.write(fd, b"\r")
    read(2)
    os.write(fd, "张三\r".encode())
    read(4)
    os.write(fd, b"n\r")
    read(3)
    os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert "错误：客户（姓名、客户编号或电话）不能为空" in text, text
    assert "Error" not in text and "已取消" in text, text
