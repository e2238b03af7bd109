"""`vaultcrm init`: set up a new vault, or add what is missing to an existing one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..init.scaffold import init_vault
from .base import app, console, init_root


@app.command()
def init(
    path: Annotated[Optional[Path], typer.Argument(help="库的路径，不存在时创建（默认：--vault 或当前目录）")] = None,
    studio: Annotated[str, typer.Option("--studio", help="店名")] = "健康养生馆",
    upgrade: Annotated[bool, typer.Option(
        "--upgrade", help="升级已有的库：只补上新版本增加的目录与视图（预约.base 等），已有文件一律不动")] = False,
) -> None:
    """初始化库：创建目录、示例配置 vaultcrm.yaml、服务追踪表与 Obsidian 视图（预约.base、客户.base、跟进.base）；已有文件不会被覆盖。"""
    root = init_root(path)
    created, kept = init_vault(root, studio, upgrade=upgrade)
    for path in created:
        console.print(f"[green]已创建[/green] {path}")
    for path in kept:
        console.print(f"[dim]已存在，未改动[/dim] {path}")
    console.print(f"库已就绪：{root}")
