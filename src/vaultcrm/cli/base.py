"""The typer app, the global `--vault` option and what every command shares: consoles, vault loading."""

from __future__ import annotations

import datetime as dt
import os
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ..vault.perms import follow_vault
from ..vault.writer import confine

app = typer.Typer(
    name="vaultcrm",
    help="健康养生馆的 Obsidian 客户管理工具：预约、服务记录、跟进、提醒与统计。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(highlight=False, soft_wrap=True)
console_err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    vault_option: Optional[Path] = None


state = State()


def find_vault(start: Path) -> Path:
    """`$VAULTCRM_VAULT`, else the nearest folder upward with `vaultcrm.yaml` or `.obsidian/`, else here."""
    env = os.environ.get("VAULTCRM_VAULT")
    if env:
        return Path(env).expanduser()
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "vaultcrm.yaml").is_file() or (folder / ".obsidian").is_dir():
            return folder
    return start


def vault_root() -> Path:
    root = state.vault_option if state.vault_option is not None else find_vault(Path.cwd())
    root = root.expanduser()
    if not root.is_dir():
        from ..errors import VaultCRMError

        raise VaultCRMError(f"库目录不存在：{root}")
    from ..core.config import STATE_DIR

    root = root.resolve()
    follow_vault(root)  # what this command creates is no more readable than the vault's notes
    confine(root / STATE_DIR / "cache", root)  # a .vaultcrm/ symlinked elsewhere would carry the state out
    return root


@app.callback()
def _global(
    vault: Annotated[Optional[Path], typer.Option("--vault", help="Obsidian 库的路径（默认：$VAULTCRM_VAULT 或向上查找）")] = None,
) -> None:
    state.vault_option = vault


def open_vault(root: Path | None = None, show_progress: bool = True):
    """Load the vault (`--vault`'s unless given), with a progress bar on a terminal when the load is long."""
    from ..core.loader import load_vault

    root = vault_root() if root is None else root
    if not (show_progress and console_err.is_terminal):
        return load_vault(root)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("读取笔记"), BarColumn(), MofNCompleteColumn(), console=console_err,
                  transient=True) as bar:
        task = bar.add_task("load", total=None)

        def report(done: int, total: int) -> None:
            if total > 2000:
                bar.update(task, completed=done, total=total)

        return load_vault(root, progress=report)


def log_crash(exc: BaseException) -> Path:
    """Write the traceback of an unexpected error under `.vaultcrm/logs/` (or the temp folder)."""
    text = "".join(traceback.format_exception(exc))
    try:
        folder = vault_root() / ".vaultcrm" / "logs"
        folder.mkdir(parents=True, exist_ok=True)
    except Exception:  # noqa: BLE001
        import tempfile

        folder = Path(tempfile.gettempdir())
    path = folder / "crash.log"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')}\n{text}\n")
    return path


def warn_diagnostics(diagnostics, limit: int = 5) -> None:
    """Commands other than `check` mention broken notes briefly on stderr and carry on."""
    from ..diagnostics import Severity

    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if not errors:
        return
    console_err.print(f"[yellow]注意：{len(errors)} 处笔记错误，相关字段未计入（运行 vaultcrm check 查看全部）[/yellow]")
    for d in errors[:limit]:
        console_err.print(f"  {d}", highlight=False, markup=False)
