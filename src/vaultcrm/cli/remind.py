"""`vaultcrm remind`: the reminders due now, the day notes that record them, delivery for cron."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..core.render import render
from ..reminders.dispatch import RemindReport, mark_done, run_remind
from .base import app, console, console_err, open_vault, vault_root, warn_diagnostics
from .options import AtOption, OutputFormat, parse_at, parse_format
from .tables import print_table

remind_app = typer.Typer(rich_markup_mode=None, add_completion=False)
app.add_typer(remind_app, name="remind", help="提醒：列出到期的提醒并记入当天的提醒笔记；--send 发送；done 手动完成。")



def _at(value: str | None, settings) -> dt.datetime:
    """`--at`, to the minute, or the store's clock."""
    parsed = parse_at(value)
    return settings.now() if parsed is None else parsed.replace(second=0)


@remind_app.callback(invoke_without_command=True)
def remind(
    ctx: typer.Context,
    at: AtOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text、md 或 json")] = "text",
    send: Annotated[bool, typer.Option("--send", help="通过 vaultcrm.yaml 中配置的渠道发送待发送的提醒")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="没有到期提醒时什么也不输出（适合 cron）")] = False,
) -> None:
    """列出截至 --at 到期、尚未发送或完成的提醒，并写入 提醒/YYYY-MM-DD.md。发送失败时退出码为 1。"""
    if ctx.invoked_subcommand is not None:
        return
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.MD, OutputFormat.JSON})
    vault = open_vault(show_progress=not quiet)
    when = _at(at, vault.settings)
    if not quiet:
        warn_diagnostics(vault.diagnostics)
    report = run_remind(vault.root, vault.settings, vault.index, when, send=send)
    if report.listed or not quiet:
        _show(report, fmt, vault.root, vault.settings, send)
    if report.unrouted and not quiet:
        console_err.print(f"[yellow]{len(report.unrouted)} 条提醒没有可用的发送渠道（见 vaultcrm.yaml 提醒规则.发送渠道 的 "
                          "仅限/对象），仍为待发送[/yellow]")
    for failure in report.failures:
        console_err.print(f"[red]发送失败：{failure.entry.id} {failure.entry.kind} → {escape(failure.channel)}："
                          f"{escape(failure.reason)}[/red]（仍为待发送，下次运行重试）", highlight=False)
    if report.failures:
        raise typer.Exit(1)


def _show(report: RemindReport, fmt: OutputFormat, root, settings, send: bool) -> None:
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps([e.to_json() for e in report.listed], ensure_ascii=False))
        return
    if fmt is OutputFormat.MD:
        console.print(render("reminders_table.md.j2", root / settings.folders.templates, rows=report.listed),
                      markup=False, end="")
        return
    if not report.listed:
        console.print(f"截至 {report.at:%Y-%m-%d %H:%M} 没有待发送的提醒")
        return
    table = Table(title=f"截至 {report.at:%Y-%m-%d %H:%M} 的提醒（{len(report.listed)} 条）")
    for column in ("编号", "提醒日期", "提醒类型", "提醒内容", "关联客户", "提醒状态"):
        table.add_column(column, overflow="fold")
    for e in report.listed:
        table.add_row(e.id, e.due_label, e.group, e.content, e.customer or "-", e.status.value)
    print_table(table)
    if send:
        console.print(f"已发送 {len(report.sent)} 条，失败 {len(report.failures)} 次")


@remind_app.command("done")
def done(
    entry_id: Annotated[str, typer.Argument(metavar="编号", help="提醒编号，如 R-0212-01（见提醒笔记或 remind 的输出）")],
    at: AtOption = None,
) -> None:
    """把一条提醒标记为已完成（手动处理过的提醒，不会再发送）。"""
    from ..core.config import load_settings

    root = vault_root()
    settings, _ = load_settings(root)
    entry, changed = mark_done(root, settings, entry_id, _at(at, settings))
    if changed:
        console.print(f"[green]已完成[/green] {entry.id} {entry.content}（{entry.done_label}）")
    else:
        console.print(f"{entry.id} 已是已完成（{entry.done_label}），未改动")
