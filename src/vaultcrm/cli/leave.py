"""`vaultcrm leave TECHNICIAN --date D [--to D2] [--from HH:MM] [--until HH:MM] [--reassign] [--yes]`.

Records a technician's leave (a note in 请假/) and shows every appointment it touches with the
colleagues free to take it; `--reassign` moves each to the best of them, asking first on a terminal
(`--yes` skips the question; in a script it is required). Decisions are in `vaultcrm.booking.leave`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..booking.leave import Affected, LeavePlan, LeaveRequest, plan_leave, record_leave
from ..values import parse_time
from .agenda import parse_day, weekday
from .backup import confirm_or_stop
from .base import app, console, open_vault, vault_root, warn_diagnostics
from .options import AtOption, parse_at, parse_option, require_option
from .waitlist import print_offers

Opt = Optional[str]


def _line(item: Affected, plan: LeavePlan) -> str:
    a = item.appointment
    head = (f"{a.id} {a.start:%m-%d}（{weekday(a.start.date())}）{a.start:%H:%M} {a.info.customer_name or '—'} "
            f"{a.service.service or '—'}" + (f" {a.service.room}" if a.service.room else ""))
    if item.moved_to:
        return f"{head} → 改派 {item.moved_to}"
    if item.free:
        return f"{head}  可接：{'、'.join(item.free)}"
    return f"{head}  无人可接，请电话联系客户改期或取消" + (f"（{a.info.phone}）" if a.info.phone else "")


def _print_plan(plan: LeavePlan, *, done: bool) -> None:
    if not plan.affected:
        console.print("期间没有受影响的预约")
        return
    moves = "将改派" if not done else "已改派"
    console.print(f"受影响的预约 {len(plan.affected)} 个" + (f"，{moves} {len(plan.moves)} 个" if plan.reassign else "") + "：")
    for item in plan.affected:
        style = "green" if item.moved_to else ("red" if not item.free or plan.reassign else "")
        text = escape(_line(item, plan))
        console.print(f"  [{style}]{text}[/{style}]" if style else f"  {text}")
    if plan.to_call:
        console.print(f"[red]需电话联系 {len(plan.to_call)} 位客户：{escape('、'.join(x.appointment.id for x in plan.to_call))}[/red]")
    if not plan.reassign and any(x.free for x in plan.affected):
        console.print("加 --reassign 把这些预约改派给可接的同事（客户的偏好技师优先）")


@app.command()
def leave(
    technician: Annotated[str, typer.Argument(metavar="技师", help="请假的技师")],
    date: Annotated[Opt, typer.Option("--date", "-d", help="请假开始日期 YYYY-MM-DD，或 今天/明天")] = None,
    to: Annotated[Opt, typer.Option("--to", help="请假结束日期（含当天；默认同 --date）")] = None,
    start: Annotated[Opt, typer.Option("--from", help="开始日从几点起请假 HH:MM（默认全天）")] = None,
    until: Annotated[Opt, typer.Option("--until", help="结束日请假到几点 HH:MM（默认到当天结束）")] = None,
    reason: Annotated[Opt, typer.Option("--reason", help="原因，如 病假、事假")] = None,
    reassign: Annotated[bool, typer.Option("--reassign", help="把受影响的预约改派给有空且会该项目的同事")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="改派前不再询问确认")] = False,
    by: Annotated[Opt, typer.Option("--by", help="登记人（默认：配置中的操作人或系统用户）")] = None,
    at: AtOption = None,
) -> None:
    """登记技师请假（记为 请假/ 下的笔记）：期间不再给该技师排预约；列出受影响的预约与可接的同事，--reassign 改派。

    --from/--until 是开始日与结束日的钟点：--date 12-01 --from 14:00 --to 12-03 --until 12:00 即从 12-01 14:00
    请到 12-03 12:00。无人可接的预约列出，请电话联系客户。
    """
    now = parse_at(at)
    root = vault_root()
    vault = open_vault(root)
    warn_diagnostics(vault.diagnostics)
    when = now or vault.settings.now()
    first = parse_day(require_option(date, "--date", "请假开始日期（YYYY-MM-DD）"), when.date())
    req = LeaveRequest(technician=technician, first_day=first,
                       last_day=parse_day(to, when.date(), "--to") if to and to.strip() else None,
                       start_time=parse_option(start, parse_time, "--from"),
                       end_time=parse_option(until, parse_time, "--until"),
                       reason=(reason or "").strip() or None, reassign=reassign, operator=by, now=now)
    if reassign and not yes:
        plan = plan_leave(vault.index, vault.settings, replace(req, now=when), when)
        if plan.moves:
            console.print(f"{escape(plan.away.technician)} 请假 {escape(plan.away.span())}")
            _print_plan(plan, done=False)
            confirm_or_stop("确认请假并改派？", f"未登记：改派 {len(plan.moves)} 个预约前请确认，确认无误请加 --yes", yes)
    result = record_leave(root, req, load=open_vault)  # planned again under the booking lock
    plan = result.plan
    lv = result.leave
    if plan.existing:
        console.print(f"{lv.id} 已登记过：{escape(plan.away.technician)} 请假 {escape(plan.away.span())}（{escape(lv.path)}）")
    else:
        console.print(f"[green]已登记请假[/green] {lv.id}：{escape(plan.away.technician)} {escape(plan.away.span())}"
                      + (f"（{escape(lv.reason)}）" if lv.reason else "") + f" · {escape(lv.path)}")
    _print_plan(plan, done=True)
    print_offers(result.offers)


__all__ = ["leave"]
