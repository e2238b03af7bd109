"""`vaultcrm free` (bookable times) and `vaultcrm agenda` (the day board): the front desk's calendar.

Options are parsed here; the search and the board are pure functions of the booking package. Output is
plain aligned lines when piped, so `free … | head` and `agenda > today.txt` read well anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Optional

import typer
from rich.cells import cell_len
from rich.markup import escape

from ..booking.availability import Availability, FreeQuery, find_free
from ..values import parse_date, parse_time
from .base import app, console, console_err, open_vault, warn_diagnostics
from .options import OutputFormat, UsageError, parse_at, parse_format, parse_option, require_option

Opt = Optional[str]
_WEEKDAYS = "一二三四五六日"
_RELATIVE_DAYS = {"今天": 0, "today": 0, "今日": 0, "明天": 1, "tomorrow": 1, "明日": 1, "后天": 2}


def weekday(day: dt.date) -> str:
    return "周" + _WEEKDAYS[day.weekday()]


def parse_day(value: str | None, today: dt.date, option: str = "--date") -> dt.date:
    """A date as written anywhere (2026-11-23, 2026/11/23, 2026年11月23日), or 今天/明天/后天 (today, tomorrow)."""
    if value is None or not value.strip():
        return today
    offset = _RELATIVE_DAYS.get(value.strip().lower())
    if offset is not None:
        return today + dt.timedelta(days=offset)
    return parse_option(value, parse_date, option)


def pad(text: str, width: int) -> str:
    """Left-aligned in `width` terminal cells (a Chinese character takes two)."""
    return text + " " * max(0, width - cell_len(text))


def parse_count(value: str | None, option: str, *, minimum: int) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise UsageError(f"{option}：应为整数，而不是「{value}」") from None
    if number < minimum:
        raise UsageError(f"{option}：应不小于 {minimum}")
    return number


# -- free -----------------------------------------------------------------------------------------
@app.command()
def free(
    service: Annotated[Opt, typer.Option("--service", "-s", help="服务项目")] = None,
    date: Annotated[Opt, typer.Option("--date", "-d", help="从哪天起 YYYY-MM-DD，或 今天/明天（默认今天）")] = None,
    days: Annotated[Opt, typer.Option("--days", help="查几天（默认 1）")] = None,
    technician: Annotated[Opt, typer.Option("--technician", help="只看该技师（默认所有会该项目的技师）")] = None,
    after: Annotated[Opt, typer.Option("--after", help="开始时间不早于 HH:MM")] = None,
    before: Annotated[Opt, typer.Option("--before", help="开始时间早于 HH:MM")] = None,
    limit: Annotated[Opt, typer.Option("--limit", help="最多列出几个时间（默认 20；0 表示全部）")] = None,
    customer: Annotated[Opt, typer.Option("--customer", "-c", help="为该客户找时间：避开他自己的其他预约")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
    at: Annotated[Opt, typer.Option("--at", hidden=True)] = None,
) -> None:
    """查可预约时间：按 10 分钟一格，列出能做该项目的技师与房间，最早的在前；列出的时间 book 一定能约上。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    service_name = require_option(service, "--service", "服务项目")
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    now = parse_at(at) or vault.settings.now()
    count = parse_count(limit, "--limit", minimum=0)
    query = FreeQuery(
        service=service_name, first=parse_day(date, now.date()), days=parse_count(days, "--days", minimum=1) or 1,
        technician=(technician or "").strip() or None,
        after=parse_option(after, parse_time, "--after"), before=parse_option(before, parse_time, "--before"),
        limit=20 if count is None else (count or None),
    )
    found = find_free(vault.index, vault.settings, query, customer=(customer or "").strip() or None, now=now)
    for warning in found.warnings:
        console_err.print(f"[yellow]注意：{escape(found.customer.name or '')} {escape(warning)}，预约时需 --force[/yellow]")
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(free_json(found), ensure_ascii=False))
        return
    for line in free_lines(found):
        console.print(line, markup=False)


def free_json(found: Availability) -> list[dict]:
    return [{"日期": s.start.date().isoformat(), "时间": f"{s.start:%H:%M}", "技师": s.technician, "房间": s.room}
            for s in found.slots]


def free_lines(found: Availability) -> list[str]:
    q = found.query
    span = f"{q.first}（{weekday(q.first)}）" + (f" 起 {q.days} 天" if q.days > 1 else "")
    who = f"{q.technician} " if q.technician else ""
    head = f"{q.service}（{found.minutes}分钟）{who}可预约时间 · {span}"
    if found.customer is not None:
        head += f" · 客户 {found.customer.name}"
    if not found.slots:
        return [head, "  没有可预约的时间"]
    techs = max(cell_len(s.technician or "不限") for s in found.slots)
    lines, day = [head], None
    for s in found.slots:
        if s.start.date() != day:
            day = s.start.date()
            lines.append(f"{day}（{weekday(day)}）")
        lines.append(f"  {s.start:%H:%M}–{s.end:%H:%M}  {pad(s.technician or '不限', techs)}  {s.room or ''}".rstrip())
    if q.limit is not None and len(found.slots) >= q.limit:
        lines.append(f"（只列出最早的 {q.limit} 个；--limit 0 列出全部）")
    return lines
