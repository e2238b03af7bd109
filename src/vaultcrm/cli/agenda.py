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
from rich.text import Text

from ..booking.absence import away_of
from ..booking.availability import Availability, FreeQuery, find_free
from ..booking.board import ALL_ROOMS, TECHNICIAN, Board, Lane, board_json, build_board
from ..core.render import render
from ..values import AppointmentStatus, parse_date, parse_time
from .base import app, console, console_err, open_vault, warn_diagnostics
from .options import AtOption, OutputFormat, UsageError, parse_at, parse_format, parse_option, require_option

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
    at: AtOption = None,
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


# -- agenda ---------------------------------------------------------------------------------------
_ALL_ROOMS = {"全部", "所有", "all", "*"}
_STATUS_STYLE = {AppointmentStatus.PENDING: "yellow", AppointmentStatus.CONFIRMED: "green",
                 AppointmentStatus.IN_PROGRESS: "cyan", AppointmentStatus.COMPLETED: "blue",
                 AppointmentStatus.CANCELLED: "dim", AppointmentStatus.NO_SHOW: "dim"}
_STEPS = (5, 10, 15, 20, 30, 60)  # minutes per cell of the time bar


@app.command()
def agenda(
    date: Annotated[Opt, typer.Option("--date", "-d", help="哪一天 YYYY-MM-DD，或 今天/明天（默认今天）")] = None,
    technician: Annotated[Opt, typer.Option("--technician", help="只看该技师")] = None,
    room: Annotated[Opt, typer.Option("--room", help="看房间：房间名，或 全部（all）")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text、md 或 json")] = "text",
    at: AtOption = None,
) -> None:
    """当天排班看板：每位技师一条时间线，列出预约（客户、项目、房间、状态）和空闲时段，标出冲突与超订的房间。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.MD, OutputFormat.JSON})
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    now = parse_at(at) or vault.settings.now()
    day = parse_day(date, now.date())
    room_name = (room or "").strip() or None
    board = build_board(day, vault.index.appointments_on(day), vault.settings,
                        technician=(technician or "").strip() or None,
                        room=ALL_ROOMS if room_name and room_name.lower() in _ALL_ROOMS else room_name,
                        away=away_of(vault.index.leaves_between(day, day)))
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(board_json(board), ensure_ascii=False))
        return
    lanes = board.technicians + (board.rooms if room_name else [])
    if fmt is OutputFormat.MD:
        text = render("agenda.md.j2", vault.root / vault.settings.folders.templates, board=board, lanes=lanes,
                      weekday=weekday(day))
        console.print(text.rstrip("\n"), markup=False, highlight=False)
        return
    for line in agenda_lines(board, lanes, width=console.width, terminal=console.is_terminal):
        console.print(line, highlight=False)


def duration(minutes: int) -> str:
    """45分钟, 2小时, 2小时10分."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}分钟"
    return f"{hours}小时" + (f"{rest}分" if rest else "")


def fit(text: str, width: int) -> str:
    """Cut to `width` cells (with … when cut), then pad."""
    if cell_len(text) > width:
        while text and cell_len(text) > width - 1:
            text = text[:-1]
        text += "…"
    return pad(text, width)


def _scale(board: Board, width: int) -> int:
    minutes = int((board.closing - board.opening).total_seconds() // 60)
    return next((step for step in _STEPS if -(-minutes // step) <= width - 4), _STEPS[-1])


def _axis(board: Board, step: int) -> Text:
    cells = -(-int((board.closing - board.opening).total_seconds() // 60) // step)
    per_hour = 60 // step
    every = next(k for k in (1, 2, 3, 4, 6, 12, 24) if k * per_hour >= 3)
    line = [" "] * (cells + 2)
    t = board.opening.replace(minute=0) + (dt.timedelta(hours=1) if board.opening.minute else dt.timedelta(0))
    while t < board.closing:
        i = int((t - board.opening).total_seconds() // 60) // step
        if t.hour % every == 0 and i + 2 <= len(line):
            line[i:i + 2] = list(f"{t.hour:02d}")
        t += dt.timedelta(hours=1)
    return Text("    " + "".join(line).rstrip(), style="dim")


def _bar(board: Board, lane: Lane, step: int) -> Text:
    bar = Text("    ")
    cells = -(-int((board.closing - board.opening).total_seconds() // 60) // step)
    shown = [e for e in lane.entries if e.takes_time]
    for i in range(cells):
        start = board.opening + dt.timedelta(minutes=i * step)
        end = start + dt.timedelta(minutes=step)
        hit = next((e for e in shown if e.start < end and start < e.end), None)
        if hit is not None:
            bar.append("█", style="bold red" if hit.id in lane.clashing else _STATUS_STYLE[hit.status])
        elif lane.hours and lane.hours[0] <= start and end <= lane.hours[1]:
            bar.append("·", style="dim")
        else:
            bar.append(" ")
    return bar


def _heading(lane: Lane) -> Text:
    head = Text(f"{lane.kind} ", style="dim")
    head.append(lane.name, style="bold")
    if lane.day_off and lane.day_off.startswith("请假"):
        head.append(f"  全天{lane.day_off}", style="magenta")
    elif lane.day_off:
        head.append(f"  休息（{lane.day_off}）", style="dim")
    elif lane.hours:
        head.append(f"  {lane.hours[0]:%H:%M}–{lane.hours[1]:%H:%M}", style="dim")
    if lane.clashing:
        head.append("  ⚠ 冲突", style="bold red")
    return head


def _row(lane: Lane, item) -> Text:
    span = f"  {item.start:%H:%M}–{item.end:%H:%M}  "
    if getattr(item, "is_leave", False):
        why = f" {item.away.reason}" if item.away.reason else ""
        return Text(f"{span}请假 {item.away.leave_id}{why}", style="magenta")
    if item.is_gap:
        return Text(f"{span}空闲 {duration(item.minutes)}", style="green")
    where = item.room if lane.kind == TECHNICIAN else item.technician
    line = (f"{span}{fit(item.customer or '—', 8)}  {fit(item.service or '—', 12)}  {fit(where or '—', 6)}  "
            f"{fit(item.status.value, 6)}  {item.id}" + (f" {fit(item.series, 10).rstrip()}" if item.series else ""))
    if item.id in lane.clashing:
        return Text(line + " ⚠冲突", style="bold red")
    if item.blocks and any(off.start < item.end and item.start < off.end for off in lane.leave):
        return Text(line + " ⚠请假中", style="bold red")
    return Text(line, style="dim" if not item.takes_time else "")


def agenda_lines(board: Board, lanes: list[Lane], *, width: int = 80, terminal: bool = False) -> list[Text]:
    """The board as lines no wider than `width` (80 at most); a time bar per lane on a terminal only."""
    width = min(width, 80)
    lines = [Text(f"{board.day}（{weekday(board.day)}）排班", style="bold")]
    step = _scale(board, width)
    if terminal and lanes:
        lines.append(_axis(board, step))
    for lane in lanes:
        lines.append(Text(""))
        lines.append(_heading(lane))
        if terminal and (lane.hours or lane.entries):
            lines.append(_bar(board, lane, step))
        rows = lane.timeline()
        lines.extend(_row(lane, item) for item in rows)
        if not rows:
            lines.append(Text("  当天没有预约", style="dim"))
    if board.conflicts:
        lines.append(Text(""))
        lines.append(Text(f"冲突 {len(board.conflicts)} 处：", style="bold red"))
        for c in board.conflicts:
            what = "重复预约" if c.resource == TECHNICIAN else "超订"
            lines.append(Text(f"  ⚠ {c.resource} {c.name} {what} {c.start:%H:%M}–{c.end:%H:%M}", style="red"))
            for e in (c.first, c.second):
                lines.append(Text(f"    {e.id} {fit(e.customer, 8).rstrip()} {e.start:%H:%M}–{e.end:%H:%M} "
                                  f"{e.service}", style="red"))
    return lines
