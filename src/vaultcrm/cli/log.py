"""`vaultcrm log [APP-ID]`: record a service, complete its appointment, plan the follow-ups.

Options are parsed here (a bad value is a usage error, exit 2); the work is done by
`vaultcrm.services.actions.log_service`. On a terminal a walk-in's missing customer or service is
asked for, and so is the customer's verdict; in scripts nothing is asked.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ..models import ServiceRecord
from ..services.actions import LogResult, ServiceNotes, ServiceRequest, log_service, steps_to_offer
from ..services.sop import StepSelection, parse_selection
from ..values import Satisfaction, format_money, parse_date, parse_money, parse_phone, parse_stars, parse_time
from . import options
from .base import app, console, open_vault, vault_root, warn_diagnostics
from .follow import followup_rows, problem_panel, text_option
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

Opt = Optional[str]


def _ask_optional(value: str | None, label: str, option: str, parser=str.strip):
    """A field worth asking for on a terminal, which may be skipped with Enter."""
    if value is not None or not options.interactive():
        return parse_option(value, parser, option)
    answer = typer.prompt(f"{label}（回车跳过）", default="", show_default=False)
    return parse_option(answer, parser, option)


@app.command()
def log(
    appointment_id: Annotated[Opt, typer.Argument(metavar="[APP-ID]", help="预约编号；不给则记录无预约的到店服务")] = None,
    customer: Annotated[Opt, typer.Option("--customer", "-c", help="到店客户：姓名、客户编号或电话")] = None,
    phone: Annotated[Opt, typer.Option("--phone", help="联系电话（新客户建档；同名时区分）")] = None,
    service: Annotated[Opt, typer.Option("--service", "-s", help="服务项目")] = None,
    technician: Annotated[Opt, typer.Option("--technician", help="服务技师")] = None,
    date: Annotated[Opt, typer.Option("--date", "-d", help="服务日期 YYYY-MM-DD（默认：预约日期或今天）")] = None,
    time: Annotated[Opt, typer.Option("--time", "-t", help="开始时间 HH:MM（默认：预约时间，或刚结束的服务推算）")] = None,
    duration: Annotated[Opt, typer.Option("--duration", help="服务时长（分钟）")] = None,
    fee: Annotated[Opt, typer.Option("--fee", help="服务费用，如 198（默认：预计费用或价目表）")] = None,
    room: Annotated[Opt, typer.Option("--room", help="服务地点（房间）")] = None,
    condition: Annotated[Opt, typer.Option("--condition", help="服务前评估.客户状态")] = None,
    health: Annotated[Opt, typer.Option("--health", help="服务前评估.健康关注")] = None,
    before_notes: Annotated[Opt, typer.Option("--before-notes", help="服务前评估.注意事项")] = None,
    work: Annotated[Opt, typer.Option("--work", help="服务过程.主要操作")] = None,
    reaction: Annotated[Opt, typer.Option("--reaction", help="服务过程.客户反应")] = None,
    adjust: Annotated[Opt, typer.Option("--adjust", help="服务过程.调整内容")] = None,
    effect_now: Annotated[Opt, typer.Option("--effect-now", help="服务后评估.即时效果")] = None,
    feeling: Annotated[Opt, typer.Option("--feeling", help="服务后评估.客户感受")] = None,
    after_notes: Annotated[Opt, typer.Option("--after-notes", help="服务后评估.注意事项")] = None,
    effect: Annotated[Opt, typer.Option("--effect", help="客户反馈.效果评价")] = None,
    satisfaction: Annotated[Opt, typer.Option("--satisfaction", help="满意度：非常满意 满意 一般 不满意")] = None,
    stars: Annotated[Opt, typer.Option("--stars", help="星级评分 1-5")] = None,
    suggestion: Annotated[Opt, typer.Option("--suggestion", help="客户反馈.建议意见")] = None,
    next_visit: Annotated[Opt, typer.Option("--next", help="后续安排.下次预约")] = None,
    advice: Annotated[Opt, typer.Option("--advice", help="后续安排.后续建议")] = None,
    todo: Annotated[Opt, typer.Option("--todo", help="后续安排.跟进事项")] = None,
    steps: Annotated[Opt, typer.Option("--steps", help="已完成的服务流程步骤：all（全部）、none，或序号/名称如 1,2,4")] = None,
    by: Annotated[Opt, typer.Option("--by", help="操作人（默认：配置中的操作人或系统用户）")] = None,
    force: Annotated[bool, typer.Option("--force", help="为已完成、已取消、未到店或已有服务记录的预约再记一次")] = False,
    coupon: Annotated[Opt, typer.Option("--coupon", help="核销营销活动的优惠券码（折扣计入服务费用）")] = None,
    no_coupon: Annotated[bool, typer.Option("--no-coupon", help="不核销预约时登记的优惠券")] = False,
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
    at: AtOption = None,
) -> None:
    """记录一次服务：写入服务记录（SRV），完成预约，安排回访，更新服务日志；打印新的服务编号。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    if appointment_id and (customer or phone):
        raise UsageError("有预约编号时客户取自预约，不能再给 --customer/--phone")
    if not appointment_id:
        customer = require_option(customer, "--customer", "客户（姓名、客户编号或电话）")
        service = require_option(service, "--service", "服务项目")
    notes = ServiceNotes(
        condition=text_option(condition), health=text_option(health), before_notes=text_option(before_notes), work=text_option(work),
        reaction=text_option(reaction), adjust=text_option(adjust), effect_now=text_option(effect_now), feeling=text_option(feeling),
        after_notes=text_option(after_notes),
        effect=_ask_optional(effect, "效果评价", "--effect"),
        satisfaction=_ask_optional(satisfaction, "满意度（非常满意/满意/一般/不满意）", "--satisfaction",
                                   Satisfaction.parse),
        stars=parse_option(stars, parse_stars, "--stars"), suggestion=text_option(suggestion), next=text_option(next_visit),
        advice=text_option(advice), todo=text_option(todo),
    )
    req = ServiceRequest(
        appointment_id=text_option(appointment_id), customer=text_option(customer), phone=parse_option(phone, parse_phone, "--phone"),
        service=text_option(service), technician=text_option(technician), room=text_option(room),
        date=parse_option(date, parse_date, "--date"), time=parse_option(time, parse_time, "--time"),
        duration=parse_option(duration, positive_minutes, "--duration"), fee=parse_option(fee, parse_money, "--fee"),
        notes=notes, steps=parse_option(steps, parse_selection, "--steps"), by=text_option(by), force=force,
        coupon=text_option(coupon), no_coupon=no_coupon,
    )
    root = vault_root()
    if req.steps is None and options.interactive():
        offered = steps_to_offer(root, req, load=open_vault)
        if offered:
            req.steps = _ask_steps(offered)
    result = log_service(root, req, now=parse_at(at), load=open_vault)
    warn_diagnostics(result.diagnostics)
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(result_json(result), ensure_ascii=False))
        return
    _print_result(result)


def _ask_steps(steps: list[str]) -> StepSelection:
    """Which SOP steps were done, asked on a terminal (Enter: all of them)."""
    console.print("服务流程：" + "  ".join(f"{i}.{escape(name)}" for i, name in enumerate(steps, 1)))
    while True:
        answer = typer.prompt("已完成的步骤（回车=全部，序号如 1,2,4，none=都未做）", default="", show_default=False)
        try:
            selection = parse_selection(answer) if answer.strip() else StepSelection(every=True)
        except ValueError as exc:
            typer.echo(f"错误：{exc}", err=True)
            continue
        wrong = [w for w in selection.picked if w not in steps and not (w.isdigit() and 1 <= int(w) <= len(steps))]
        if not wrong:
            return selection
        typer.echo(f"错误：没有步骤「{'、'.join(wrong)}」，请输入 1 到 {len(steps)} 之间的序号", err=True)


def result_json(result: LogResult) -> dict:
    """The SRV keyed as in its note, plus what the command did around it."""
    data = json_value(result.service.model_dump(by_alias=True))
    for key in ("原价", "优惠券", "活动"):  # a coupon's keys, in the note only when one was redeemed
        if data["服务信息"].get(key) is None:
            data["服务信息"].pop(key, None)
    data["路径"] = result.service.path
    data["预约状态"] = result.status_change[1].value if result.status_change else None
    data["新建客户"] = result.new_customer.id if result.new_customer else None
    data["问题客户"] = result.problem
    data["已安排跟进"] = followup_rows(result.followups, {result.service.id: result.service})
    data["服务日志已更新"] = result.dashboard_updated
    data["套餐抵扣"] = result.package
    r = result.redemption
    data["优惠券核销"] = None if r is None else {
        "优惠券": r.coupon.code, "活动编号": r.coupon.campaign_id, "优惠内容": r.coupon.offer.text,
        "原价": json_value(r.list_price), "服务费用": json_value(r.fee)}
    return data


def _summary(s: ServiceRecord) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    c = s.customer
    grid.add_row("客户", escape(f"{c.customer_name or ''}（{c.customer_id or '无档案'}）"))
    grid.add_row("时间", escape(f"{s.basics.date or ''} {s.basics.time or ''}".strip()))
    duration = f" · {s.basics.duration}分钟" if s.basics.duration else ""
    fee = f" · ¥{s.service.fee}" if s.service.fee is not None else ""
    grid.add_row("项目", escape(f"{s.service.service or ''}{duration}{fee}"))
    grid.add_row("技师", escape(s.service.technician or "未填"))
    if s.basics.room:
        grid.add_row("房间", escape(s.basics.room))
    if s.steps:
        done = len(s.steps) - len(s.skipped_steps)
        skipped = f"，未做：{'、'.join(s.skipped_steps)}" if s.skipped_steps else ""
        grid.add_row("流程", escape(f"完成 {done}/{len(s.steps)} 步{skipped}"))
    verdict = "，".join(str(x) for x in (s.feedback.effect, s.feedback.satisfaction,
                                        s.feedback.stars and f"{s.feedback.stars}星") if x)
    if verdict:
        grid.add_row("反馈", escape(verdict))
    grid.add_row("笔记", escape(s.path))
    return Panel(grid, title=f"服务记录 {s.id}", title_align="left", expand=False)


def _print_result(result: LogResult) -> None:
    s = result.service
    console.print(f"[green]已记录服务[/green] {s.id}")
    console.print(_summary(s))
    if result.new_customer:
        console.print(f"已新建客户档案 {escape(result.new_customer.path)}")
    if result.status_change:
        old, new = result.status_change
        console.print(f"预约 {result.appointment.id}：{old.value} → [green]{new.value}[/green]")
    if result.package:
        console.print(f"套餐抵扣：{escape(result.package)}")
    if result.redemption:
        r = result.redemption
        change = (f"：{format_money(r.list_price)} → {format_money(r.fee)}"
                  if r.list_price is not None and r.fee is not None and r.fee != r.list_price else "")
        console.print(f"已核销优惠券 {r.coupon.code}（{escape(r.coupon.campaign_id)} {escape(r.coupon.offer.text)}）{change}")
    for f in result.followups:
        console.print(f"已安排回访 {f.id} {f.basics.kind} {f.basics.due}")
    if result.problem:
        console.print(problem_panel(s, [f for f in result.followups if f.basics.service_id == s.id]))
    if result.dashboard_updated:
        console.print("服务日志已更新")
    for warning in result.warnings:
        console.print(f"[yellow]{escape(warning)}[/yellow]")


__all__ = ["log", "result_json"]
