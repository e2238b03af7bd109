"""The typer app, the global `--vault` option and what every command shares: consoles, vault loading."""

from __future__ import annotations

import datetime as dt
import importlib
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
import typer.main
from rich.console import Console
from typer.core import TyperGroup

from ..vault.discover import find_vault
from ..vault.perms import follow_vault
from ..vault.writer import confine
from .commands import COMMANDS, SUBCOMMANDS


def load_commands(*names: str) -> None:
    """Import the cli modules that register these top-level commands (all of them, and every subcommand's,
    when none is named)."""
    for name in names or tuple(COMMANDS):
        for module in COMMANDS[name][0]:
            importlib.import_module(f"{__package__}.{module}")
    if not names:
        for modules in SUBCOMMANDS.values():
            for module in modules.values():
                importlib.import_module(f"{__package__}.{module}")


class LazyGroup(TyperGroup):
    """The top-level group: lists every command of `commands.COMMANDS`, imports a command's module on first use."""

    def list_commands(self, ctx) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx, cmd_name: str):
        if self.commands.get(cmd_name) is None and cmd_name in COMMANDS:
            load_commands(cmd_name)
            for name, command in typer.main.get_group(app).commands.items():
                if self.commands.get(name) is None:
                    self.commands[name] = command
        return self.commands.get(cmd_name)

    def format_commands(self, ctx, formatter) -> None:
        """`vaultcrm --help`: the one-line helps from the table, without importing any command."""
        from typer.core import TyperCommand

        loaded = dict(self.commands)
        try:
            for name, (_, text) in COMMANDS.items():
                self.commands.setdefault(name, TyperCommand(name, help=text, hidden=not text))
            super().format_commands(ctx, formatter)
        finally:
            self.commands.clear()
            self.commands.update(loaded)

    def resolve_command(self, ctx, args):
        for name in COMMANDS:  # a mistyped command is matched against every command, loaded or not
            self.commands.setdefault(name, None)
        try:
            return super().resolve_command(ctx, args)
        finally:
            for name in [n for n, c in self.commands.items() if c is None]:
                del self.commands[name]


app = typer.Typer(
    cls=LazyGroup,
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
    loaded: object = None  # the last vault `open_vault` loaded: `cli.run` exits without freeing it


state = State()


NO_VAULT = ("没有找到库：当前目录及其上级都没有 vaultcrm.yaml 或 .obsidian/，也没有设置 $VAULTCRM_VAULT。"
            "请用 --vault 路径 指定库，或先运行 vaultcrm init 路径 新建一个库（未写入任何内容）")


def _chosen_vault() -> tuple[Path, str] | None:
    if state.vault_option is not None:
        return state.vault_option.expanduser(), "--vault"
    return find_vault(Path.cwd())


def vault_root() -> Path:
    """The vault every command but `init` works in; refused (nothing written) when there is none."""
    from ..errors import VaultCRMError

    chosen = _chosen_vault()
    if chosen is None:
        raise VaultCRMError(NO_VAULT)
    root, source = chosen
    if not root.is_dir():
        raise VaultCRMError(f"库目录不存在：{root}（来自 {source}）。请检查路径，"
                            f"或运行 vaultcrm init {root} 新建一个库（未写入任何内容）")
    from ..core.config import STATE_DIR

    root = root.resolve()
    follow_vault(root)  # what this command creates is no more readable than the vault's notes
    confine(root / STATE_DIR / "cache", root)  # a .vaultcrm/ symlinked elsewhere would carry the state out
    return root


def init_root(path: Path | None) -> Path:
    """Where `init` lays out a vault: PATH, else `--vault`/`$VAULTCRM_VAULT`/upward, else the current folder.

    The folder may not exist yet (init creates it); anything else at that path is refused.
    """
    from ..errors import VaultCRMError
    from .options import UsageError

    if path is not None and state.vault_option is not None \
            and path.expanduser().resolve() != state.vault_option.expanduser().resolve():
        raise UsageError(f"init 的路径 {path} 与 --vault {state.vault_option} 不一致，只给一个即可")
    chosen = (path.expanduser(), "路径") if path is not None else _chosen_vault()
    root = chosen[0] if chosen is not None else Path.cwd()
    if root.exists() and not root.is_dir():
        raise VaultCRMError(f"不能在 {root} 建库：这是一个文件，不是文件夹")
    return root.resolve()


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
        state.loaded = load_vault(root)
        return state.loaded
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("读取笔记"), BarColumn(), MofNCompleteColumn(), console=console_err,
                  transient=True) as bar:
        task = bar.add_task("load", total=None)

        def report(done: int, total: int) -> None:
            if total > 2000:
                bar.update(task, completed=done, total=total)

        state.loaded = load_vault(root, progress=report)
        return state.loaded


def log_crash(exc: BaseException) -> Path:
    """Write the traceback of an unexpected error under the vault's `.vaultcrm/logs/` (or the temp folder).

    Only into a vault that exists: never a `.vaultcrm/` made in whatever folder the command ran from.
    """
    text = "".join(traceback.format_exception(exc))
    try:
        folder = vault_root() / ".vaultcrm" / "logs"
        folder.mkdir(parents=True, exist_ok=True)
    except Exception:  # noqa: BLE001 - no vault, or not writable
        import tempfile

        folder = Path(tempfile.gettempdir())
    from ..vault.state import append_text

    path = folder / "crash.log"
    append_text(path, f"--- {dt.datetime.now().isoformat(timespec='seconds')}\n{text}\n")
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
