"""`vaultcrm init`: set up a new vault, or add what is missing to an existing one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..chain.stores import check_code, refuse_unknown_store, setup_store
from ..init.scaffold import init_vault
from .base import app, console, init_root


@app.command()
def init(
    path: Annotated[Optional[Path], typer.Argument(help="库的路径，不存在时创建（默认：--vault 或当前目录）")] = None,
    studio: Annotated[str, typer.Option("--studio", help="店名")] = "健康养生馆",
    upgrade: Annotated[bool, typer.Option(
        "--upgrade", help="升级已有的库：只补上新版本增加的目录与视图（预约.base 等），已有文件一律不动")] = False,
    store: Annotated[Optional[str], typer.Option(
        "--store", help="连锁门店：把本机设为该门店（如 SH01；记在本机，不同步），并安装 git 合并驱动")] = None,
) -> None:
    """初始化库：创建目录、示例配置 vaultcrm.yaml、服务追踪表与 Obsidian 视图（预约.base、客户.base、跟进.base）；已有文件不会被覆盖。"""
    root = init_root(path)
    if store is not None:
        store = check_code(store)
        refuse_unknown_store(root, store)
    created, kept = init_vault(root, studio, upgrade=upgrade)
    for path in created:
        console.print(f"[green]已创建[/green] {path}")
    for path in kept:
        console.print(f"[dim]已存在，未改动[/dim] {path}")
    if store is not None:
        setup = setup_store(root, store)
        for what in setup.changed:
            console.print(f"[green]已设置[/green] {what}")
        for note in setup.notes:
            console.print(f"[yellow]{note}[/yellow]")
        console.print(f"本机门店：{setup.store}")
    console.print(f"库已就绪：{root}")
