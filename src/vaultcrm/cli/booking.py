"""`vaultcrm book`, `status` and `reschedule`: the front desk's side of the appointment lifecycle.

Options are parsed here (a bad value is a usage error, exit 2); the decisions are made in
`vaultcrm.booking.actions`. On a terminal a missing field is asked for and the booking is shown for
confirmation; piped or scripted, a missing field is a usage error and nothing is asked.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ..booking.actions import Booked, BookingPlan, BookingRequest, change_status, plan_booking
from ..booking.actions import book as book_appointment
from ..booking.actions import reschedule as move_appointment
from ..core.config import load_settings
from ..customers.resolve import describe, mask_phone
from ..models import Appointment
from ..values import AppointmentStatus, Channel, Strength, parse_date, parse_phone, parse_time
from . import options
from .base import app, console, console_err, open_vault, vault_root, warn_diagnostics
from .options import (
    AtOption,
    OutputFormat,
    UsageError,
    json_value,
    parse_at,
    parse_format,
    parse_option,
    positive_minutes,
    require_option,
)
from .series import parse_series, run_series
from .waitlist import print_offers

_WEEKDAYS = "一二三四五六日"

Opt = Optional[str]


# -- book -----------------------------------------------------------------------------------------
@app.command()
def book(
    customer: Annotated[Opt, typer.Option("--customer", "-c", help="客户姓名、客户编号（C-0001）或电话")] = None,
    phone: Annotated[Opt, typer.Option("--phone", help="联系电话（新客户建档；同名客户时用于区分）")] = None,
    date: Annotated[Opt, typer.Option("--date", "-d", help="预约日期 YYYY-MM-DD")] = None,
    time: Annotated[Opt, typer.Option("--time", "-t", help="预约时间 HH:MM")] = None,
    service: Annotated[Opt, typer.Option("--service", "-s", help="服务项目")] = None,
    technician: Annotated[Opt, typer.Option("--technician", help="技师（默认自动安排有空且会该项目的技师）")] = None,
    room: Annotated[Opt, typer.Option("--room", help="房间（默认自动安排空闲房间）")] = None,
    channel: Annotated[Opt, typer.Option("--channel", help="预约渠道：电话 微信 到店 在线")] = None,
    duration: Annotated[Opt, typer.Option("--duration", help="服务时长（分钟），默认取服务项目的时长")] = None,
    strength: Annotated[Opt, typer.Option("--strength", help="力度要求：轻 中 重")] = None,
    note: Annotated[Opt, typer.Option("--note", help="其他需求")] = None,
    by: Annotated[Opt, typer.Option("--by", help="创建人（默认：配置中的操作人或系统用户）")] = None,
    coupon: Annotated[Opt, typer.Option("--coupon", help="营销活动的优惠券码：记在预约上，log 时核销")] = None,
    force: Annotated[bool, typer.Option("--force", help="越过过敏/禁忌、爽约上限、营业与工作时间、技能、房间所做项目、已过去的时间、"
                                                     "同一客户的时间重叠（技师与房间的时间冲突除外）")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="在终端中也不再询问确认")] = False,
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
    at: AtOption = None,
    repeat: Annotated[Opt, typer.Option("--repeat", help="疗程的间隔：每天 每周 每两周 或 N天（如 3天）")] = None,
    times: Annotated[Opt, typer.Option("--times", help="疗程共几次（与 --repeat 一起用）")] = None,
    skip_conflicts: Annotated[bool, typer.Option("--skip-conflicts", help="疗程中约不上的日期跳过，其余照约")] = False,
    package: Annotated[bool, typer.Option("--package", help="疗程使用客户的次卡（次数与有效期须够整个疗程）")] = False,
) -> None:
    """新建预约：检查时间冲突、营业与技师工作时间、过敏与禁忌、爽约次数，打印新的预约编号；--repeat/--times 约一个疗程。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    series = parse_series(repeat, times, skip_conflicts, package)
    now = parse_at(at)
    if service is None and options.interactive():
        services = list(load_settings(vault_root())[0].services)
        if services:
            console_err.print(f"服务项目可选：{escape('、'.join(services))}")
    req = BookingRequest(
        customer=require_option(customer, "--customer", "客户（姓名、客户编号或电话）"),
        date=require_option(date, "--date", "预约日期（YYYY-MM-DD）", parse_date),
        time=require_option(time, "--time", "预约时间（HH:MM）", parse_time),
        service=require_option(service, "--service", "服务项目"),
        phone=parse_option(phone, parse_phone, "--phone"),
        technician=(technician or "").strip() or None,
        room=(room or "").strip() or None,
        channel=parse_option(channel, Channel.parse, "--channel"),
        duration=parse_option(duration, positive_minutes, "--duration") or None,
        strength=parse_option(strength, Strength.parse, "--strength"),
        note=(note or "").strip() or None,
        operator=by, force=force, now=now, coupon=(coupon or "").strip() or None,
    )
    if series is not None:
        booked_series = run_series(req, series, skip_conflicts=skip_conflicts, package=package, fmt=fmt,
                                   ask=options.interactive() and not yes)
        if fmt is OutputFormat.JSON:
            _print_warnings(booked_series.plan, to_stderr=True)
        else:
            _print_briefing(booked_series.plan)
        return
    if options.interactive() and not yes:
        vault = open_vault()
        plan = plan_booking(vault.index, vault.settings, req, now or vault.settings.now())
        _print_plan(plan)
        options.confirm("确认预约？", default=True)
        req = replace(req, customer=plan.customer.id or req.customer, technician=plan.appointment.service.technician,
                      room=plan.appointment.service.room)
    booked = book_appointment(vault_root(), req, load=open_vault)
    warn_diagnostics(booked.diagnostics)
    if fmt is OutputFormat.JSON:
        _print_warnings(booked.plan, to_stderr=True)
        console.print_json(json.dumps(appointment_json(booked.appointment), ensure_ascii=False))
        return
    console.print(f"[green]已创建预约[/green] {booked.appointment.id}")
    if booked.waitlisted:
        console.print(f"候补 {'、'.join(booked.waitlisted)} 已改为「已预约」")
    console.print(_summary(booked.appointment, booked.plan, booked))
    _print_briefing(booked.plan)


def _print_plan(plan: BookingPlan) -> None:
    console.print(_summary(plan.appointment, plan, None))
    _print_briefing(plan)  # namesakes and what --force lets through, too


def _print_namesakes(plan: BookingPlan, out) -> None:
    """A new profile for a name the vault already has: say so, in case it is the same person."""
    if plan.namesakes:
        others = "、".join(describe(c) for c in plan.namesakes)
        out.print(f"[yellow]注意：已有同名客户 {escape(others)}；本次按新客户建档。若是同一人，请用客户编号或原电话预约"
                  f"[/yellow]")


def _summary(a: Appointment, plan: BookingPlan, booked: Booked | None) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    customer = plan.customer
    cid = booked.customer.id if booked else customer.id
    who = f"{customer.name or ''}（{cid or '新客户'}{'，新建档案' if plan.is_new_customer and cid else ''}）"
    grid.add_row("客户", escape(f"{who} {mask_phone(a.info.phone)}".strip()))
    end = a.end(a.service.duration or 60)
    grid.add_row("时间", f"{a.info.date} 周{_WEEKDAYS[a.info.date.weekday()]} {a.info.time:%H:%M}–{end:%H:%M}")
    price = f" · ¥{a.service.price}" if a.service.price is not None else ""
    grid.add_row("项目", escape(f"{a.service.service} · {a.service.duration}分钟{price}"))
    grid.add_row("技师", escape(a.service.technician or "未安排"))
    grid.add_row("房间", escape(a.service.room or "未安排"))
    for label, value in (("渠道", a.info.channel), ("力度", a.requests.strength), ("偏好技师", a.requests.preferred_technician),
                         ("其他需求", a.requests.other)):
        if value:
            grid.add_row(label, escape(str(value)))
    if booked:
        grid.add_row("笔记", escape(a.path))
    title = f"预约 {a.id}" if a.id else "预约（待确认）"
    return Panel(grid, title=title, title_align="left", expand=False)


def _print_briefing(plan: BookingPlan) -> None:
    b = plan.briefing
    if not b.is_empty or plan.overridden:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("过敏史", escape("、".join(b.allergies) or "无记录"))
        grid.add_row("禁忌事项", escape("、".join(b.contraindications) or "无记录"))
        grid.add_row("未到店", f"近 12 个月 {b.no_shows} 次")
        if b.last_service:
            s = b.last_service
            grid.add_row("服务记忆", escape(f"上次服务 {s.id} {s.basics.date or ''} {s.service.service or ''}".rstrip()))
            for label, text in b.memory:
                grid.add_row("", escape(f"{label}：{text}"))
        console.print(Panel(grid, title="服务须知", title_align="left", expand=False, border_style="yellow"))
    _print_warnings(plan, to_stderr=False)


def _print_warnings(plan: BookingPlan, *, to_stderr: bool) -> None:
    out = console_err if to_stderr else console
    _print_namesakes(plan, out)
    for warning in plan.overridden:
        out.print(f"[yellow]注意（--force）：{escape(warning)}[/yellow]")
    if to_stderr:
        b = plan.briefing
        for label, items in (("过敏史", b.allergies), ("禁忌事项", b.contraindications)):
            if items:
                console_err.print(f"{label}：{escape('、'.join(items))}")
        for label, text in b.memory:
            console_err.print(f"服务记忆 {label}：{escape(text)}")


def appointment_json(a: Appointment) -> dict:
    """The appointment keyed as in its note (Chinese keys), values as vaultcrm writes them."""
    data = json_value(a.model_dump(by_alias=True))
    if data["服务信息"].get("优惠券") is None:  # in the note only when booked with --coupon
        data["服务信息"].pop("优惠券", None)
    return data


# -- status ---------------------------------------------------------------------------------------
_STATES = "、".join(f"{s.value}({s.code})" for s in AppointmentStatus)


@app.command()
def status(
    appointment_id: Annotated[str, typer.Argument(metavar="ID", help="预约编号，如 APP-2026-001")],
    state: Annotated[str, typer.Argument(metavar="STATE", help=f"新状态：{_STATES}")],
    by: Annotated[Opt, typer.Option("--by", help="操作人（默认：配置中的操作人或系统用户）")] = None,
    force: Annotated[bool, typer.Option("--force", help="允许离开终态（已完成、已取消、未到店）、不在流转表中的变更，或在开始前标记未到店")] = False,
    at: AtOption = None,
) -> None:
    """修改预约状态（待服务 → 已确认 → 服务中 → 已完成 …），并记入 预约状态.状态更新。"""
    new = parse_option(state, AppointmentStatus.parse, "STATE")
    if new is None:
        raise UsageError(f"缺少 STATE，可选：{_STATES}")
    change = change_status(vault_root(), appointment_id, new, operator=by, force=force, now=parse_at(at), load=open_vault)
    a = change.appointment
    when = f"{a.start:%Y-%m-%d %H:%M}" if a.start else ""
    label = escape(f"{a.id} {a.info.customer_name or ''} {when}".strip())
    if not change.changed:
        console.print(f"{label} 已是「{new.value}」，未修改")
    else:
        console.print(f"{label}：{change.old.value} → [green]{change.new.value}[/green]")
        print_offers(change.offers)


# -- reschedule -----------------------------------------------------------------------------------
@app.command()
def reschedule(
    appointment_id: Annotated[str, typer.Argument(metavar="ID", help="预约编号，如 APP-2026-001")],
    date: Annotated[Opt, typer.Option("--date", "-d", help="新日期 YYYY-MM-DD（默认不变）")] = None,
    time: Annotated[Opt, typer.Option("--time", "-t", help="新时间 HH:MM（默认不变）")] = None,
    technician: Annotated[Opt, typer.Option("--technician", help="改由该技师服务（默认不变）")] = None,
    room: Annotated[Opt, typer.Option("--room", help="改用该房间（默认不变）")] = None,
    by: Annotated[Opt, typer.Option("--by", help="操作人（默认：配置中的操作人或系统用户）")] = None,
    force: Annotated[bool, typer.Option("--force", help="越过营业与工作时间、技能、房间所做项目、已过去的时间、同一客户时间重叠的限制（技师与房间的时间冲突除外）")] = False,
    at: AtOption = None,
) -> None:
    """预约改期：重新检查冲突（不含该预约自身），并记入 预约状态.状态更新；只给 --time 时日期不变。"""
    if not any(x and x.strip() for x in (date, time, technician, room)):
        raise UsageError("请至少给出 --date、--time、--technician 或 --room 之一")
    new_date = parse_option(date, parse_date, "--date") if date and date.strip() else None
    new_time = parse_option(time, parse_time, "--time") if time and time.strip() else None
    move = move_appointment(vault_root(), appointment_id, new_date, new_time,
                            technician=(technician or "").strip() or None, room=(room or "").strip() or None,
                            operator=by, force=force, now=parse_at(at), load=open_vault)
    where = "，".join(escape(x) for x in (move.new.technician, move.new.room) if x)
    span = f"{move.new.start:%Y-%m-%d %H:%M}–{move.new.end:%H:%M}" + (f"（{where}）" if where else "")
    if not move.changed:
        console.print(f"{move.appointment.id} 已在 {span}，未修改")
        return
    old = f"{move.old.start:%Y-%m-%d %H:%M}" if move.old else "未定"
    console.print(f"{move.appointment.id} 已改期：{old} → [green]{span}[/green]")
    for warning in move.overridden:
        console.print(f"[yellow]注意（--force）：{escape(warning)}[/yellow]")
    print_offers(move.offers)
