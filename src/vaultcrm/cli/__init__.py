"""The command line: thin typer commands over the core. This module is the single exit point.

Each command parses its options, calls one core function and renders the result; domain errors are
turned into a message and an exit code here and nowhere else. An unexpected error prints one line
and where the full report was logged, never a traceback.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading

import typer

from .base import console_err, load_commands
from .chinese import install as _install_chinese, show_error

# The commands are listed in `commands.COMMANDS` (one row each); a command's module is imported when it runs.

_install_chinese()  # click's and typer's own help and usage texts in Chinese


def __getattr__(name: str):
    """`vaultcrm.cli.app`: the typer app with every command registered (for tests and tools that walk it)."""
    if name == "app":
        from .base import app

        load_commands()
        return app
    raise AttributeError(name)


def _click_exceptions() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(usage-type errors, aborts) of click and of the copy of click that typer may carry."""
    errors: list[type] = []
    aborts: list[type] = [typer.Abort]
    click = sys.modules.get("click")  # typer ≥ 0.20 does not use click itself: only an older one has loaded it
    if click is not None:
        errors.append(click.exceptions.ClickException)
        aborts.append(click.exceptions.Abort)
    try:
        from typer import _click as vendored  # typer ≥ 0.20 ships its own click
    except ImportError:  # pragma: no cover - older typer uses click itself
        pass
    else:
        errors.append(vendored.exceptions.ClickException)
        aborts.append(getattr(vendored.exceptions, "Abort", typer.Abort))
    return tuple(errors), tuple(aborts)


def main(*, ending: bool = False) -> None:
    """Run the command line once. `ending`: the process exits right after (`run`, a warm worker's child),
    so the collector is left off; turned back on, its first pass would go through every object the
    command made (0.07 s after the answer at 100,000 notes)."""
    from ..errors import VaultCRMError
    from .base import log_crash

    usage_errors, aborts = _click_exceptions()
    collecting = gc.isenabled()
    # A command builds many objects that live until it exits and makes little cyclic garbage: with the
    # collector on, building 100,000 models costs four times as much. `watch`, which runs on, turns it back on.
    gc.disable()
    try:
        # Without standalone mode click returns (not raises) the code of a `typer.Exit`.
        from .base import app

        code = app(standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C inside a command into this code, silently
            console_err.print("已中断")
        sys.exit(code if isinstance(code, int) else 0)
    except VaultCRMError as exc:
        console_err.print(f"[red]{exc.message}[/red]", highlight=False)
        for line in exc.details:
            console_err.print(f"  {line}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, *aborts):
        console_err.print("已取消")
        sys.exit(1)
    except KeyboardInterrupt:
        console_err.print("已中断")
        sys.exit(130)
    except usage_errors as exc:
        show_error(exc)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the one place an unexpected error is turned into a line
        path = log_crash(exc)
        console_err.print(f"[red]意外错误：{type(exc).__name__}: {exc}[/red]（详细信息已记录到 {path}）",
                          highlight=False)
        sys.exit(1)
    finally:
        if collecting and not ending:
            gc.enable()


def run() -> None:
    """The `vaultcrm` program: `main`, then an exit that leaves what the command loaded to the system.

    Freeing a 100,000-note vault object by object takes half a second after the answer is out; the
    process is ending anyway. So the collector stays off (`ending`), and once the output is flushed and
    no other thread runs, the atexit hooks run and the process ends at once. `main` itself (tests call
    it in-process) exits as usual.
    """
    try:
        main(ending=True)
    except SystemExit as exc:
        code = exc.code
        if (code is None or type(code) is int) and threading.active_count() == 1:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except (OSError, ValueError):  # a closed pipe: the usual exit reports it as before
                raise exc from None
            atexit._run_exitfuncs()
            os._exit(code or 0)
        raise
