"""Shared fixtures: vaults written into tmp_path from dicts, and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "tests" / "data" / "服务追踪表.md"  # a copy of shared/seeds/: the studio's own template


def write_vault(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `path -> text` into `root`; text is dedented so fixtures can be indented in tests."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def vault(tmp_path: Path):
    """A factory: `vault({path: text})` writes an inline vault and returns its root."""

    def make(files: dict[str, str | bytes] | None = None, config: str | None = None) -> Path:
        root = tmp_path / "vault"
        root.mkdir(exist_ok=True)
        if config is not None:
            (root / "vaultcrm.yaml").write_text(textwrap.dedent(config).lstrip("\n"), encoding="utf-8")
        return write_vault(root, files or {})

    return make


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def cli(monkeypatch):
    """Run `vaultcrm --vault ROOT args…` in-process through the real entry point (`main`)."""
    from vaultcrm.cli import main

    runner = CliRunner()
    monkeypatch.delenv("VAULTCRM_VAULT", raising=False)

    def run(root: Path, *args: str, input: str | None = None) -> Result:
        import vaultcrm.cli.base as app_module

        app_module.state.vault_option = None
        result = runner.invoke(_entry(main), ["--vault", str(root), *args], input=input, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


def _entry(main):
    """Wrap `main` (which calls sys.exit) as a click command so CliRunner can capture it."""
    import click

    @click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.pass_context
    def entry(ctx):
        sys.argv = ["vaultcrm", *ctx.args]
        main()

    return entry


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """The installed command in a real subprocess (for concurrency and crash tests)."""
    full_env = {k: v for k, v in os.environ.items() if k != "VAULTCRM_VAULT"}
    full_env.update(env or {})  # a test may set $VAULTCRM_VAULT itself
    return subprocess.run([sys.executable, "-m", "vaultcrm", *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=timeout)
