"""Commands are imported on use: `vaultcrm --help` lists them all from `cli/commands.py` without loading one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer.main

from vaultcrm.cli import app
from vaultcrm.cli.commands import COMMANDS

SRC = Path(__file__).resolve().parent.parent / "src"


def test_the_table_names_every_command_with_its_own_help():
    group = typer.main.get_command(app)
    assert set(group.commands) == set(COMMANDS)
    for name, (_, text) in COMMANDS.items():
        command = group.commands[name]
        assert (command.help or "").split("\n\n")[0].strip() == text if text else command.hidden, name


def _modules_after(*args: str) -> set[str]:
    code = ("import sys\nsys.argv = ['vaultcrm', *sys.argv[1:]]\nfrom vaultcrm.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=60)
    return set(done.stderr.split())


def test_help_lists_every_command_without_importing_them():
    done = subprocess.run([sys.executable, "-m", "vaultcrm", "--help"], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0
    for name, (_, text) in COMMANDS.items():
        assert (f"  {name} " in done.stdout) == bool(text), name  # a hidden command is not listed
    assert "检查库中所有笔记" in done.stdout
    loaded = _modules_after("--help")
    assert not {"pydantic", "jinja2", "vaultcrm.core.loader", "vaultcrm.cli.booking"} & loaded


def test_a_command_imports_its_own_module_only():
    loaded = _modules_after("book", "--help")
    assert "vaultcrm.cli.booking" in loaded
    assert not {"vaultcrm.cli.customer", "vaultcrm.cli.stats", "vaultcrm.cli.watch", "jinja2"} & loaded


def test_a_mistyped_command_is_matched_against_commands_not_yet_loaded(tmp_path):
    done = subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(tmp_path), "custmer"],
                          capture_output=True, text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
                          timeout=60)
    assert done.returncode == 2
    assert "没有命令「custmer」" in done.stderr and "customer" in done.stderr


def test_a_customer_subcommand_imports_only_the_module_that_registers_it():
    """`customer show` does not import what `customer forget` (privacy, backups), `customer merge` (chain
    sync) or `customer points` (membership) need; each of those still runs, and `customer --help` lists all."""
    elsewhere = {"vaultcrm.cli.privacy", "vaultcrm.cli.backup", "vaultcrm.cli.sync", "vaultcrm.cli.membership"}
    assert not elsewhere & _modules_after("customer", "show", "--help")
    from vaultcrm.cli.commands import SUBCOMMANDS

    for name, module in SUBCOMMANDS["customer"].items():  # each runs with its own module, not the others
        loaded = _modules_after("customer", name, "--help")
        others = {f"vaultcrm.cli.{m}" for m in SUBCOMMANDS["customer"].values() if m != module}
        assert f"vaultcrm.cli.{module}" in loaded and not others & loaded, name
    done = subprocess.run([sys.executable, "-m", "vaultcrm", "customer", "--help"], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0
    listed = {line.split()[0] for line in done.stdout.split("命令：")[1].splitlines() if line.strip()}
    assert listed == {"show", "list", "tag", "edit", "points", "package", "forget", "merge"}


def test_reading_a_customer_imports_no_note_writer(tmp_path):
    """`customer show` only reads: the round-trip YAML editor (ruamel) and the record store stay unloaded."""
    import shutil

    vault = tmp_path / "vault"
    shutil.copytree(SRC.parent / "example_vault", vault)
    loaded = _modules_after("--vault", str(vault), "customer", "show", "C-0001", "--at", "2026-11-30 10:00")
    assert "vaultcrm.cli.customer" in loaded and "vaultcrm.core.loader" in loaded
    assert not {"ruamel.yaml", "vaultcrm.core.store", "vaultcrm.customers.profiles"} & loaded
