"""`vaultcrm export csv|ics`: the records as Excel-ready CSV files, appointments as a calendar feed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..exports.csv_tables import export_csv
from ..exports.ics_feed import export_ics, save_ics
from .base import app, console, open_vault, warn_diagnostics

export_app = typer.Typer(help="导出：CSV 表格（Excel 可直接打开）或 iCalendar 日历订阅（.ics）。", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(export_app, name="export")


@export_app.command("csv")
def export_csv_command(
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="输出目录（默认库内的 .vaultcrm/exports/，不会写进笔记文件夹）")] = None,
) -> None:
    """每类记录一个 CSV：预约.csv、服务记录.csv、跟进.csv、客户.csv（UTF-8 带 BOM；以 = + - @ 开头的单元格加 ' 前缀，防止被 Excel 当作公式）。"""
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    for path, rows, changed in export_csv(vault.index, vault.root, out.expanduser() if out else None):
        note = "" if changed else "（内容未变）"
        console.print(f"[green]已导出[/green] {path}：{rows} 条{note}", highlight=False)


@export_app.command("ics")
def export_ics_command(
    technician: Annotated[Optional[str], typer.Option("--technician", "-T", help="只导出这位技师的预约")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="写入此文件（默认输出到屏幕）")] = None,
) -> None:
    """把待服务、已确认、服务中和已完成的预约导出为 iCalendar 日历（可导入手机或电脑日历）。"""
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    text, count = export_ics(vault.index, vault.settings, technician)
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.buffer.flush()
        return
    save_ics(text, out)
    console.print(f"[green]已导出[/green] {out}：{count} 个预约", highlight=False)
