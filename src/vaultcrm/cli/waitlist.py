"""`vaultcrm waitlist add | list | remove`: customers waiting for time to free up (候补).

The entries are notes (`候补/WL-YYYY-NNN.md`); the decisions are in `vaultcrm.booking.waitlist_actions`.
`status`, `reschedule` and `leave` print the waiting customers who can take the time they free
(`offer_lines`), and `book` says which entry it closed.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ..booking.waitlist import Offer
from ..booking.waitlist_actions import WaitlistRequest, add_entry, entries, remove_entry
from ..core.config import load_settings
from ..customers.resolve import mask_phone
from ..models import WaitlistEntry
from ..values import parse_phone, parse_time
from .agenda import parse_day
from .base import app, console, open_vault, vault_root, warn_diagnostics
from .options import AtOption, OutputFormat, json_value, parse_at, parse_format, parse_option, require_option
from .tables import print_table

Opt = Optional[str]

waitlist_app = typer.Typer(help="候补名单：客户想约的时间已满时登记候补，有人取消或改期时提示可约。", no_args_is_help=True,
                           rich_markup_mode=None)
app.add_typer(waitlist_app, name="waitlist")


def _window(w: WaitlistEntry) -> str:
    return f"{w.earliest.strftime('%H:%M') if w.earliest else '不限'}–{w.latest.strftime('%H:%M') if w.latest else '不限'}"


def offer_lines(offers: list[Offer]) -> list[str]:
    """`候补可约：张三 12-01 14:00 李师傅 全身推拿（WL-2026-003）` — one line per waiting customer to call."""
    return [f"候补可约：{o.describe()}" + (f" 电话 {o.entry.phone}" if o.entry.phone else "") for o in offers]


def print_offers(offers: list[Offer]) -> None:
    for line in offer_lines(offers):
        console.print(f"[cyan]{escape(line)}[/cyan]")
    if offers:
        console.print("（已记入候补笔记，vaultcrm remind 会提醒员工联系；为客户预约后候补自动关闭）")


@waitlist_app.command("add")
def add(
    customer: Annotated[Opt, typer.Option("--customer", "-c", help="客户姓名、客户编号（C-0001）或电话")] = None,
    phone: Annotated[Opt, typer.Option("--phone", help="联系电话（新客户建档；同名客户时用于区分）")] = None,
    service: Annotated[Opt, typer.Option("--service", "-s", help="服务项目")] = None,
    date: Annotated[Opt, typer.Option("--date", "-d", help="想约的日期 YYYY-MM-DD，或 今天/明天")] = None,
    earliest: Annotated[Opt, typer.Option("--from", help="最早开始 HH:MM（默认不限）")] = None,
    latest: Annotated[Opt, typer.Option("--to", help="最晚结束 HH:MM：服务须在此前做完（默认不限）")] = None,
    technician: Annotated[Opt, typer.Option("--technician", help="只要该技师（默认任何会该项目的技师）")] = None,
    by: Annotated[Opt, typer.Option("--by", help="创建人（默认：配置中的操作人或系统用户）")] = None,
    at: AtOption = None,
) -> None:
    """登记候补：客户想在某天（某时段）做某项目但已约满；有时间空出时会在命令输出与提醒中提示。"""
    now = parse_at(at)
    name = require_option(customer, "--customer", "客户（姓名、客户编号或电话）")
    service_name = require_option(service, "--service", "服务项目")
    day_text = require_option(date, "--date", "日期（YYYY-MM-DD，或 今天/明天）")
    root = vault_root()
    req = WaitlistRequest(
        customer=name, service=service_name, date=parse_day(day_text, (now or load_settings(root)[0].now()).date()),
        earliest=parse_option(earliest, parse_time, "--from"), latest=parse_option(latest, parse_time, "--to"),
        technician=(technician or "").strip() or None, phone=parse_option(phone, parse_phone, "--phone"),
        operator=by, now=now)
    added = add_entry(root, req, load=open_vault)
    w = added.entry
    console.print(f"[green]已登记候补[/green] {w.id}：{escape(w.customer_name or '')}（{w.customer_id}"
                  f"{'，新建档案' if added.is_new_customer else ''}） {w.date} {_window(w)} {escape(w.service or '')}"
                  + (f" 指定 {escape(w.technician)}" if w.technician else ""))
    if added.free_now:
        times = "、".join(f"{s.start:%H:%M}" + (f" {s.technician}" if s.technician else "") for s in added.free_now)
        console.print(f"[yellow]注意：现在就有空位（{escape(times)}），可直接用 vaultcrm book 预约[/yellow]")


def entry_json(w: WaitlistEntry) -> dict:
    return json_value(w.model_dump(by_alias=True))


@waitlist_app.command("list")
def list_entries(
    date: Annotated[Opt, typer.Option("--date", "-d", help="只看这一天（YYYY-MM-DD，或 今天/明天）")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="也列出已预约、已取消的候补")] = False,
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
    at: AtOption = None,
) -> None:
    """列出候补（默认只列等待中的），按日期与时段排序。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    now = parse_at(at) or vault.settings.now()
    day = parse_day(date, now.date()) if date and date.strip() else None
    found = entries(vault.index, show_all=show_all, day=day)
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps([entry_json(w) for w in found], ensure_ascii=False))
        return
    if not found:
        console.print("没有等待中的候补" if not show_all else "没有候补")
        return
    table = Table(title=f"候补 {len(found)} 位", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False)
    for column in ("编号", "日期", "时段", "客户", "电话", "服务项目", "技师", "状态", "可约"):
        table.add_column(column)
    for w in found:
        offered = f"{w.offered_at:%m-%d %H:%M} {w.offered_technician or ''}".rstrip() if w.offered_at and w.is_open else ""
        table.add_row(w.id, str(w.date or ""), _window(w), escape(w.customer_name or ""), mask_phone(w.phone),
                      escape(w.service or ""), escape(w.technician or "不限"),
                      (w.status.value if w.status else "等待中") + (f" {w.appointment_id}" if w.appointment_id else ""),
                      escape(offered))
    print_table(table)


@waitlist_app.command("remove")
def remove(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="候补编号，如 WL-2026-001")],
    by: Annotated[Opt, typer.Option("--by", help="操作人（默认：配置中的操作人或系统用户）")] = None,
    at: AtOption = None,
) -> None:
    """移出候补：状态改为「已取消」（笔记保留，记下何时由谁移出）。"""
    entry, changed = remove_entry(vault_root(), entry_id, operator=by, now=parse_at(at), load=open_vault)
    label = escape(f"{entry.id} {entry.customer_name or ''}".strip())
    if not changed:
        console.print(f"{label} 已是「{entry.status.value if entry.status else '等待中'}」，未修改")
        return
    console.print(f"{label} 已移出候补")
