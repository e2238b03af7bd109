"""`vaultcrm sync` (a store's changes to and from the chain's central repository) and the hidden
`merge-driver` command that git calls for every note both sides changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..chain.dedupe import merge_customers
from ..chain.driver import drive
from ..chain.sync import sync as run_sync
from ..core.config import load_settings
from .base import app, console, open_vault, vault_root
from .customer import customer_app
from .options import AtOption
from .stats import parse_at


@app.command()
def sync() -> None:
    """连锁门店同步：提交本店的修改，从总部仓库拉取（rebase）并上传；笔记按字段合并，冲突取较新的修改并列出。可由 cron 定时运行。"""
    root = vault_root()
    settings, _ = load_settings(root)
    result = run_sync(root, settings)
    if result.resumed:
        console.print("[yellow]上次同步在合并途中被中断：已撤销那次未完成的合并（本店的提交都在），这次重新合并[/yellow]")
    if result.set_aside:
        console.print(f"[yellow]中断之后改过的 {len(result.set_aside)} 个文件，当时的内容已另存（不同步），"
                      "请与现在的笔记核对，需要的修改请手工补回：[/yellow]")
        for path in result.set_aside:
            console.print(f"  {path}")
    if result.committed:
        console.print(f"[green]已提交[/green] {result.committed.splitlines()[0]}")
        for line in result.committed.strip().splitlines()[2:]:
            console.print(f"  {line}")
    else:
        console.print("本店没有新的修改")
    if result.received:
        console.print(f"已从总部仓库取回其他门店的 {result.received} 个提交")
    console.print("已上传到总部仓库" if result.pushed else "总部仓库已是最新")
    for path in result.kept_deleted:
        console.print(f"[yellow]注意：{path} 一方删除、另一方修改，已保留修改后的笔记[/yellow]")
    for entry in result.conflicts:
        console.print(f"[yellow]合并冲突（已取较新的修改）：{entry['笔记']}[/yellow]")
        for line in entry.get("字段") or []:
            console.print(f"  {line}")
        if entry.get("正文两份都保留"):
            console.print("  正文两边都改了同一处：已保留较新的正文，较早的一份附在其后（请人工整理）")
    console.print(f"同步用时 {result.seconds:.1f} 秒")


@app.command("merge-driver", hidden=True)
def merge_driver(
    base: Annotated[str, typer.Argument(metavar="共同祖先", help="git 给的共同祖先版本（%O）")],
    ours: Annotated[str, typer.Argument(metavar="本方版本", help="本方版本（%A），合并结果写回这里")],
    theirs: Annotated[str, typer.Argument(metavar="对方版本", help="对方版本（%B）")],
    path: Annotated[str, typer.Argument(metavar="笔记路径", help="笔记在库中的路径（%P）")],
) -> None:
    """git 合并驱动（由 git 调用）：按 YAML 字段合并笔记的两个版本。"""
    raise typer.Exit(drive(Path.cwd(), base, ours, theirs, path))


@customer_app.command("merge")
def customer_merge(
    keep: Annotated[str, typer.Argument(metavar="保留的客户编号", help="合并后保留的档案，如 C-SH01-0003")],
    drop: Annotated[str, typer.Argument(metavar="并入的客户编号", help="并入后删除的档案，如 C-BJ01-0007")],
    at: AtOption = None,
) -> None:
    """合并同一位客户的两份档案（如两家门店各登记了一次）：补全字段、合并列表与积分，并把后者的预约、服务记录和跟进改指向前者。"""
    vault = open_vault()
    merged = merge_customers(vault, keep, drop, now=parse_at(at, vault.settings))
    if merged.done_before:
        console.print(f"{merged.drop.id} 已并入 {merged.keep.id}，无需处理")
        return
    console.print(f"[green]已合并[/green] {merged.drop.id} → {merged.keep.id} {merged.keep.name or ''}")
    for path in merged.repointed:
        console.print(f"  已改指向 {path}")
    for line in merged.differing:
        console.print(f"  [yellow]不同的值[/yellow] {line}（另一份已记在档案正文的 合并记录 中）")
    console.print(f"已删除 {merged.drop.path}")
