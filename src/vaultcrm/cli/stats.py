"""`vaultcrm stats`: regenerate the statistics notes, or print one day's or month's figures."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..chain.stores import for_store
from ..core.render import render
from ..stats.figures import CHANNELS, DailyFigures, MonthlyFigures, daily_figures, monthly_figures
from ..stats.periods import Month
from ..stats.refresh import refresh_all
from ..values import parse_date, parse_datetime
from .base import app, console, open_vault, warn_diagnostics
from .options import AtOption, OutputFormat, UsageError, parse_format
from .tables import print_table


def parse_at(value: Optional[str], settings) -> dt.datetime:
    """`--at 'YYYY-MM-DD HH:MM'` (or a bare date), else the studio's now."""
    if not value:
        return settings.now()
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise UsageError(f"--at：{exc}") from None


def parse_month_option(value: str) -> Month:
    try:
        return Month.parse(value)
    except ValueError as exc:
        raise UsageError(f"--month：{exc}") from None


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def _minutes(value: int | None) -> str:
    return "—" if value is None else f"{value}分钟"


def _share_table(title: str, head: str, shares, labels: dict[str, str]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (head, "预约数量", "占比"):
        table.add_column(name, justify="left" if name == head else "right")
    for s in shares:
        table.add_row(labels.get(s.label, s.label), str(s.count), _pct(s.share))
    return table


_CHANNEL_LABELS = {c: c + "预约" for c in CHANNELS}
_SLOT_LABELS = {"上午": "上午（9-12）", "下午": "下午（12-17）", "晚上": "晚上（17-21）"}


def _print_daily(f: DailyFigures) -> None:
    a = f.appointments
    table = Table(title=f"{f.day} 每日服务统计", title_justify="left")
    table.add_column("项目")
    table.add_column("数据", justify="right")
    for name, value in (("预约客户数", a.booked), ("实际服务数", f.services), ("取消预约数", a.cancelled),
                        ("未到客户数", a.no_show), ("服务完成率", _pct(a.completion_rate))):
        table.add_row(name, str(value))
    print_table(table)
    print_table(_share_table("预约来源统计", "来源渠道", a.channel_shares(), _CHANNEL_LABELS))
    print_table(_share_table("预约时段分析", "时段", a.slot_shares(), _SLOT_LABELS))


def _print_monthly(f: MonthlyFigures) -> None:
    table = Table(title=f"{f.month.label}月度服务统计", title_justify="left")
    for name in ("项目", "本月", "上月", "环比", "去年同月", "同比"):
        table.add_column(name, justify="left" if name == "项目" else "right")
    cur, prev, ago = f.current.to_json(), f.previous.to_json(), f.year_ago.to_json()
    mom, yoy = f.month_on_month, f.year_on_year
    for name in cur:
        show = {"平均服务时长": _minutes, "服务完成率": _pct}.get(name, str)
        table.add_row(name, show(cur[name]), show(prev[name]), _pct(mom[name], True), show(ago[name]),
                      _pct(yoy[name], True))
    print_table(table)
    print_table(_share_table("预约来源统计", "来源渠道", f.appointments.channel_shares(), _CHANNEL_LABELS))
    if f.appointments.unfilled_channel:
        console.print(f"另有 {f.appointments.unfilled_channel} 个预约未填写预约渠道，未计入上表。")
    print_table(_share_table("预约时段分析", "时段", f.appointments.slot_shares(), _SLOT_LABELS))


LIST_LIMIT = 20  # more rewritten notes than this are summarised per folder


@app.command()
def stats(
    date: Annotated[Optional[str], typer.Option("--date", "-d", help="只输出这一天的统计，如 2026-02-12")] = None,
    month: Annotated[Optional[str], typer.Option("--month", "-m", help="只输出这个月的统计，如 2026-02")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text、md 或 json")] = "text",
    at: AtOption = None,
    store: Annotated[Optional[str], typer.Option("--store", help="连锁门店：只统计该门店（如 SH01），与 --date 或 --month 一起用")] = None,
) -> None:
    """更新统计笔记（日报、月报、服务追踪表的统计区块），只改有变化的；或用 --date/--month 输出统计数据。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.MD, OutputFormat.JSON})
    if date and month:
        raise UsageError("--date 与 --month 只能选一个")
    day = None
    if date:
        try:
            day = parse_date(date)
        except ValueError as exc:
            raise UsageError(f"--date：{exc}") from None
    the_month = parse_month_option(month) if month else None
    if store and not (day or the_month):
        raise UsageError("--store 需与 --date 或 --month 一起使用（统计笔记总是按全连锁生成）")
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    if day or the_month:
        index = for_store(vault, store)[0]
        figures = daily_figures(index, day) if day else monthly_figures(index, the_month)
        if fmt is OutputFormat.JSON:
            console.print_json(json.dumps(figures.to_json(), ensure_ascii=False))
        elif fmt is OutputFormat.MD:
            context = {"d": figures} if day else {"m": figures}
            console.out(render("stats_print.md.j2", vault.root / vault.settings.folders.templates, **context),
                        end="", highlight=False)
        else:
            (_print_daily if day else _print_monthly)(figures)
        return
    today = parse_at(at, vault.settings).date()
    refreshed = refresh_all(vault, today)
    written, profiles = refreshed.written, refreshed.profiles
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps({"updated": written, "profiles": profiles}, ensure_ascii=False))
        return
    if len(written) <= LIST_LIMIT:
        for path in written:
            console.print(f"[green]已更新[/green] {path}", highlight=False)
    else:
        folders = Counter(path.rsplit("/", 1)[0] if "/" in path else path for path in written)
        console.print("[green]已更新[/green] " + "、".join(f"{folder} {n} 篇" for folder, n in sorted(folders.items())),
                      highlight=False)
    console.print(f"统计已更新：{len(written)} 篇笔记有变化" if written else "统计笔记已是最新，无需改动")
    if profiles:
        console.print(f"客户档案的标签、会员等级或积分已更新：{len(profiles)} 位", highlight=False)
    for customer_id, why in refreshed.skipped:
        console.print(f"[yellow]客户档案 {customer_id} 未更新[/yellow]：{why}", highlight=False)
