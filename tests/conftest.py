"""Shared fixtures: vaults written into tmp_path from dicts, and the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
import os
import signal
import subprocess
import sys
import textwrap
import time
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


# -- `vaultcrm watch` as a real subprocess (test_watch.py, test_monitor.py, test_warm.py) --------------

WATCH_START = 20.0  # seconds for the interpreter to start and the first sync (cold caches, loaded machine)


def wait_until(predicate, timeout: float, what: str, watcher: "WatchProcess | None" = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            output = watcher.output() if watcher else ""
            pytest.fail(f"{what} did not happen within {timeout} s\n--- watch output ---\n{output}")
        time.sleep(0.05)


WATCH_STOP = 30.0  # seconds from SIGTERM to exit, the final regeneration included, on a loaded machine


def stop_watch(proc: subprocess.Popen, output: Path, sig: int = signal.SIGTERM) -> int:
    """Send `sig` and wait for the watch to end. One that hangs is sent SIGABRT, which (started with
    PYTHONFAULTHANDLER=1) writes every thread's stack to its output, and the test fails showing them."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=WATCH_STOP)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(timeout=WATCH_STOP)
        text = output.read_text(encoding="utf-8", errors="replace")
        pytest.fail(f"watch did not end within {WATCH_STOP:g} s of signal {sig}:\n{text[-8000:]}")


class WatchProcess:
    """`python -m vaultcrm --vault ROOT watch …` with stdout in a file; ready once it printed 开始监视,
    its last line at start (after the first sync)."""

    def __init__(self, root: Path, *args: str):
        self.root = root
        self.out_path = root.parent / "watch.out"
        env = {k: v for k, v in os.environ.items() if k != "VAULTCRM_VAULT"}
        env["PYTHONFAULTHANDLER"] = "1"  # see stop_watch
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "vaultcrm", "--vault", str(root), "watch", *args],
                                         stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_until(lambda: "开始监视" in self.output() or self.proc.poll() is not None, WATCH_START, "start", self)
        assert self.proc.poll() is None, self.output()

    def output(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def updates(self) -> list[str]:
        """The regenerations logged in `.vaultcrm/logs/watch.log`, one line each."""
        log = self.root / ".vaultcrm" / "logs" / "watch.log"
        return [line for line in log.read_text(encoding="utf-8").splitlines() if " 已更新：" in line]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return stop_watch(self.proc, self.out_path, sig)


@pytest.fixture
def watch():
    """Start watchers; each must end with exit 0 and 「已停止监视」 on SIGTERM, without a traceback."""
    started: list[WatchProcess] = []

    def start(root: Path, *args: str) -> WatchProcess:
        started.append(WatchProcess(root, *args))
        return started[-1]

    yield start
    for w in started:
        if w.proc.poll() is None:
            code = w.stop()
            assert code == 0, w.output()
            assert w.output().rstrip().endswith("已停止监视"), w.output()
        assert "Traceback" not in w.output()


@contextmanager
def lock_held(root: Path, name: str = "booking") -> Iterator[None]:
    """Another process holds the vault's lock `name` (a write in flight) until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from vaultcrm.vault.lock import FileLock
        with FileLock({str(root)!r}, {name!r}, timeout=5):
            print("held", flush=True)
            time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True, env={k: v for k, v in os.environ.items() if k != "VAULTCRM_WARM"})
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()
