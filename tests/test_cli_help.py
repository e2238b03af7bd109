"""Every command has help, appears in the README, and bad usage never shows a traceback."""

import re

import pytest

from conftest import REPO, run_cli
from vaultcrm.cli import app


def command_paths():
    import typer.main

    root = typer.main.get_command(app)
    found = []

    def walk(group, prefix):
        for name, command in sorted(group.commands.items()):
            path = (*prefix, name)
            if hasattr(command, "commands"):
                walk(command, path)
            found.append((path, command))

    walk(root, ())
    return found


COMMANDS = command_paths()


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(path, command):
    assert (command.help or "").strip(), f"vaultcrm {' '.join(path)} has no help text"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert re.search(r"vaultcrm(?: \[[^\]]*\]| --vault \S+)? " + re.escape(" ".join(path)) + r"\b", readme), \
        f"README does not mention `vaultcrm {' '.join(path)}`"


def test_main_commands_are_there():
    names = {p[0] for p, _ in COMMANDS}
    assert {"init", "check", "book", "status", "reschedule", "log", "follow", "stats"} <= names


@pytest.mark.parametrize("args,code", [(["nosuch"], 2), (["check", "--format", "xml"], 2), (["book", "--bogus"], 2)])
def test_usage_errors_exit_2_without_traceback(tmp_path, args, code):
    proc = run_cli("--vault", str(tmp_path), *args)
    assert proc.returncode == code
    assert "Traceback" not in proc.stderr + proc.stdout


def test_help_runs(tmp_path):
    proc = run_cli("--help")
    assert proc.returncode == 0 and "健康养生馆" in proc.stdout


def test_at_means_the_same_everywhere_and_is_in_every_help():
    from vaultcrm.cli.options import AT_HELP

    having = [(path, p) for path, command in COMMANDS for p in command.params if p.name == "at"]
    assert len(having) >= 15, [" ".join(path) for path, _ in having]
    for path, param in having:
        assert param.opts == ["--at"] and not param.hidden and param.help == AT_HELP, " ".join(path)


def test_short_t_is_the_time_wherever_it_exists():
    for path, command in COMMANDS:
        for param in command.params:
            if "-t" in getattr(param, "opts", []):
                assert param.name == "time", (" ".join(path), param.name)
