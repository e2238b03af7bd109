"""`vaultcrm backup [--keep 7] [--encrypt] [--to DIR]`, `backup list` and `restore ARCHIVE [--yes]`.

The passphrase of encrypted archives comes from the environment variable the config names (备份.
加密口令变量, default VAULTCRM_BACKUP_PASSPHRASE); on a terminal it is asked for, hidden, when unset.

Restoring overwrites notes, so it always shows what it would do first. On a terminal it then asks;
in a script it only shows the preview and stops unless `--yes` is given, which makes a bare
`vaultcrm restore ARCHIVE` a safe dry run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..errors import VaultCRMError
from ..privacy.backup import (
    apply_restore,
    backup_passphrase,
    create_backup,
    find_archive,
    list_backups,
    needs_passphrase,
    plan_restore,
    recovery_settings,
)
from . import options
from .base import app, console, console_err, vault_root
from .options import AtOption
from .stats import parse_at
from .tables import print_table

SHOWN = 15  # file names listed per group in a preview
SAFETY_LABEL = "恢复前安全备份"

backup_app = typer.Typer(help="备份库中的笔记与 vaultcrm.yaml（.vaultcrm/backups/ 下按日期命名的 zip），并按天轮换。",
                         invoke_without_command=True, rich_markup_mode=None)
app.add_typer(backup_app, name="backup")



def confirm_or_stop(question: str, refusal: str, yes: bool) -> None:
    """Go on with --yes; ask on a terminal; otherwise stop (exit 1) with `refusal`."""
    if yes:
        return
    if options.interactive():
        options.confirm(question, default=False)
        return
    raise VaultCRMError(refusal)


def _now(root, at: str | None):
    """`--at` or now, in the studio's zone; a broken vaultcrm.yaml is shown, not fatal, here."""
    settings, config_error = recovery_settings(root)
    if config_error is not None:
        console_err.print(f"[yellow]注意：{config_error.message}（备份与恢复照常进行，按默认设置计时）[/yellow]",
                          highlight=False)
    return parse_at(at, settings)


def _passphrase(root, purpose: str, *, twice: bool = False) -> str:
    """The backup passphrase: from its environment variable, else asked for (hidden) on a terminal;
    `twice` for a new archive, where a typo would lock the studio out of its own backup."""
    settings, _ = recovery_settings(root)
    variable = settings.backup.passphrase_env
    found = backup_passphrase(settings)
    if found is not None:
        return found
    if not options.interactive():
        raise VaultCRMError(f"{purpose}需要备份口令：请把口令放进环境变量 {variable}"
                            "（变量名可在 vaultcrm.yaml 的 备份.加密口令变量 中更改；口令本身不要写进库里），"
                            "或在终端中运行以输入口令")
    while True:
        answer = typer.prompt("备份口令（输入时不显示）", hide_input=True, default="", show_default=False)
        if not answer:
            typer.echo("错误：口令不能为空", err=True)
            continue
        if twice and typer.prompt("再输入一次口令", hide_input=True, default="", show_default=False) != answer:
            typer.echo("错误：两次输入的口令不一致，请重新输入", err=True)
            continue
        return answer


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"


@backup_app.callback()
def backup(
    ctx: typer.Context,
    keep: Annotated[int, typer.Option("--keep", help="保留最近多少天的备份（每天一份）")] = 7,
    encrypt: Annotated[bool, typer.Option("--encrypt", help="加密备份（口令取自 备份.加密口令变量 指定的环境变量）")] = False,
    to: Annotated[Optional[str], typer.Option("--to", help="再复制一份到此文件夹（已挂载的网盘或网络存储），同样轮换；须加密")] = None,
    at: AtOption = None,
) -> None:
    """备份：把所有笔记与 vaultcrm.yaml 打包到 .vaultcrm/backups/vaultcrm-日期-时间.zip（--encrypt：.zip.enc），只保留最近 --keep 天（每天一份）。"""
    if ctx.invoked_subcommand is not None:
        return
    root = vault_root()
    now = _now(root, at)
    settings, _ = recovery_settings(root)
    folder = to if to is not None else (settings.backup.offsite if encrypt else None)
    if folder is not None and not encrypt:
        raise VaultCRMError("异地备份只能是加密的：请同时加 --encrypt（客户资料不以明文离开本机）")
    offsite = Path(folder).expanduser() if folder else None
    if offsite is not None and not offsite.is_absolute():
        offsite = root / offsite
    passphrase = _passphrase(root, "加密备份", twice=True) if encrypt else None
    result = create_backup(root, now, keep=keep, passphrase=passphrase, offsite=offsite)
    kind = "（已加密）" if result.archive.encrypted else ""
    console.print(f"已备份 {result.files} 个文件{kind} → {result.archive.path.relative_to(root)}（{_size(result.archive.size)}）")
    for archive in result.pruned:
        console.print(f"[dim]已删除过期备份 {archive.name}[/dim]")
    if result.offsite is not None:
        console.print(f"已复制到异地目录 → {result.offsite.path}", markup=False)
        for archive in result.offsite_pruned:
            console.print(f"[dim]已删除异地目录中的过期备份 {archive.name}[/dim]")


@backup_app.command("list")
def backup_list() -> None:
    """列出已有的备份，最新的在前。"""
    root = vault_root()
    archives = list_backups(root)
    if not archives:
        console.print("还没有备份；运行 vaultcrm backup 创建一份")
        return
    table = Table("备份", "大小", "类型", title=f"备份（{root / '.vaultcrm' / 'backups'}）", title_justify="left")
    for a in archives:
        kind = SAFETY_LABEL if a.safety else "日常备份"
        table.add_row(a.name, _size(a.size), f"{kind}（加密）" if a.encrypted else kind)
    print_table(table)
    if any(a.safety for a in archives):
        console.print(f"[dim]{SAFETY_LABEL}不参与按天轮换，不会被自动删除；确认不再需要后请自行删除。[/dim]")


def _show(label: str, names: list[str]) -> None:
    if not names:
        return
    console.print(f"{label} {len(names)} 个：")
    for name in names[:SHOWN]:
        console.print(f"  {name}", markup=False)
    if len(names) > SHOWN:
        console.print(f"  …… 另有 {len(names) - SHOWN} 个")


@app.command()
def restore(
    archive: Annotated[str, typer.Argument(help="备份文件：路径，或 .vaultcrm/backups/ 中的文件名")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="不再询问，直接恢复")] = False,
    at: AtOption = None,
) -> None:
    """从备份恢复笔记：先列出将覆盖与新增的文件并确认，再为当前状态做一次安全备份，然后逐个文件原子写入。"""
    root = vault_root()
    now = _now(root, at)
    path = find_archive(root, archive)
    passphrase = _passphrase(root, f"恢复加密备份 {path.name} ") if needs_passphrase(path) else None
    plan = plan_restore(root, path, passphrase)
    console.print(f"备份 {plan.archive.name}：")
    _show("[yellow]将覆盖[/yellow]", plan.overwritten)
    _show("[green]将新增[/green]", plan.added)
    _show("[yellow]将删除（同一编号的记录已改名，由备份中的版本取代）[/yellow]", sorted(plan.replaced.values()))
    console.print(f"内容相同、不变 {len(plan.unchanged)} 个；库中另有 {plan.untouched} 个笔记不在备份中，保持不动。")
    if plan.revived:
        console.print(f"[red]注意：备份中有已注销客户（{'、'.join(plan.revived)}）注销前的个人信息，恢复后会重新出现；"
                      "恢复后请再对他们运行 vaultcrm customer forget。[/red]")
    if not plan.changes:
        console.print("当前库与备份一致，无需恢复。")
        return
    confirm_or_stop(f"确认恢复？将覆盖 {len(plan.overwritten)} 个、新增 {len(plan.added)} 个文件",
                    f"未恢复（仅预览）：将覆盖 {len(plan.overwritten)} 个、新增 {len(plan.added)} 个文件；确认无误请加 --yes",
                    yes)
    result = apply_restore(root, plan, now)
    if result.safety:
        console.print(f"已先备份当前状态 → {result.safety.path.relative_to(root)}（{SAFETY_LABEL}：不会被按天轮换删除，"
                      "确认恢复无误后可自行删除）")
    console.print(f"[green]已恢复 {len(result.written)} 个文件[/green]")
    _show("已删除被取代的", result.removed)
    if result.skipped:
        _show("[red]在预览后被修改、未覆盖[/red]", result.skipped)
        raise typer.Exit(1)
