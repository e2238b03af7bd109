"""`vaultcrm follow plan | list | done | cancel`: the follow-up calls after a service.

The rules are in `vaultcrm.followups.rules`, the writes in `vaultcrm.followups.actions`; this module parses
options and shows the results: a table of calls to make (overdue in red) and a red panel for every
problem customer, who must not be missed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ..core.index import VaultIndex
from ..followups.actions import FollowUpOutcome, cancel_followup, complete_followup, plan_all
from ..followups.rules import PROBLEM, due_of, pending
from ..models import FollowUp, ServiceRecord
from ..values import Channel, Satisfaction
from .base import app, console, open_vault, vault_root, warn_diagnostics
from .options import AtOption, OutputFormat, parse_at, parse_format, parse_option
from .tables import print_table

Opt = Optional[str]

follow_app = typer.Typer(help="回访跟进：安排、列出、完成、取消。", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(follow_app, name="follow")


def followup_rows(followups: list[FollowUp], services: Mapping[str, ServiceRecord],
                  today: dt.date | None = None) -> list[dict]:
    """Follow-ups for JSON output, keyed in Chinese; with `today`, whether each is overdue."""
    rows = []
    for f in followups:
        service = services.get(f.basics.service_id or "")
        due = due_of(f)
        rows.append({
            "跟进编号": f.id, "计划日期": due.isoformat() if due else None, "跟进类型": f.basics.kind,
            "客户姓名": f.customer.customer_name, "客户编号": f.customer.customer_id, "联系方式": f.customer.phone,
            "服务编号": f.basics.service_id, "服务项目": service.service.service if service else None,
            "跟进方式": f.basics.method.value if f.basics.method else None, "路径": f.path,
            **({"逾期": due is not None and due < today} if today else {}),
        })
    return rows


def problem_panel(service: ServiceRecord, followups: list[FollowUp]) -> Panel:
    """The loud announcement of an unhappy customer: who, what went wrong, by when to call."""
    c, fb = service.customer, service.feedback
    verdict = "，".join(x for x in (fb.satisfaction and fb.satisfaction.value, fb.stars and f"{fb.stars}星") if x)
    lines = [f"[bold]问题客户 {escape(c.customer_name or '')}[/bold]（{escape(c.customer_id or '无档案')}"
             f"{'，' + escape(c.phone) if c.phone else ''}）：{escape(verdict)}",
             escape(f"{service.id} {service.basics.date or ''} {service.service.service or ''} "
                    f"技师 {service.service.technician or '未填'}")]
    if fb.suggestions:
        lines.append(f"建议意见：{escape(fb.suggestions)}")
    for f in followups:
        if f.basics.kind == PROBLEM:
            lines.append(f"请于 {f.basics.due} 前专项回访：{f.id}")
    return Panel("\n".join(lines), title="问题客户", title_align="left", border_style="red", style="red", expand=False)


def _table(followups: list[FollowUp], index: VaultIndex, today: dt.date, title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("编号", "计划日期", "类型", "客户", "电话"):
        table.add_column(column, no_wrap=True)
    table.add_column("服务", overflow="fold")
    for f in followups:
        due = due_of(f)
        service = index.services.get(f.basics.service_id or "")
        what = (service.service.service if service else None) or f.basics.service_id or ""
        style = "red" if due is not None and due < today else ("bold" if due == today else None)
        table.add_row(f.id, str(due or "未定"), escape(f.basics.kind or "回访"), escape(f.customer.customer_name or ""),
                      escape(f.customer.phone or ""), escape(what), style=style)
    return table


def text_option(value: str | None) -> str | None:
    """A free-text option: surrounding blanks dropped, an empty one is no value."""
    return (value.strip() or None) if value is not None else None


def _now(at: str | None, vault) -> dt.datetime:
    return parse_at(at) or vault.settings.now()


@follow_app.command("plan")
def plan(
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
    at: AtOption = None,
) -> None:
    """按回访规则为全库安排回访（新客户、问题客户、长期客户、套餐中期）；已有的不会重复安排。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    created, vault = plan_all(vault_root(), parse_at(at), load=open_vault)
    warn_diagnostics(vault.diagnostics)
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps({"新安排": len(created), "跟进": followup_rows(created, vault.index.services)},
                                      ensure_ascii=False))
        return
    today = _now(at, vault).date()
    console.print(f"新安排 {len(created)} 条回访")
    if created:
        print_table(_table(created, vault.index, today, "新安排的回访"))
    for f in created:
        service = vault.index.services.get(f.basics.service_id or "")
        if f.basics.kind == PROBLEM and service is not None:
            console.print(problem_panel(service, [f]))


@follow_app.command("list")
def list_(
    due: Annotated[bool, typer.Option("--due", help="只列出计划日期已到（含今天）的回访")] = False,
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
    at: AtOption = None,
) -> None:
    """列出待跟进的回访，按计划日期排序；已逾期的标红。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    today = _now(at, vault).date()
    found = pending(vault.index, today, due_only=due)
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(followup_rows(found, vault.index.services, today), ensure_ascii=False))
        return
    if not found:
        console.print("没有待跟进的回访" + ("（已到期）" if due else ""))
        return
    overdue = sum(1 for f in found if (due_of(f) or today) < today)
    print_table(_table(found, vault.index, today, f"待跟进回访 {len(found)} 条，逾期 {overdue} 条"))


@follow_app.command("done")
def done(
    followup_id: Annotated[str, typer.Argument(metavar="FLW-ID", help="跟进编号，如 FLW-2026-001")],
    feedback: Annotated[Opt, typer.Option("--feedback", help="跟进记录.客户反馈")] = None,
    effect: Annotated[Opt, typer.Option("--effect", help="跟进记录.效果评估")] = None,
    satisfaction: Annotated[Opt, typer.Option("--satisfaction", help="跟进记录.客户满意度：非常满意 满意 一般 不满意")] = None,
    intention: Annotated[Opt, typer.Option("--intention", help="跟进结果.客户意向")] = None,
    next_visit: Annotated[Opt, typer.Option("--next", help="跟进结果.下次预约")] = None,
    needs: Annotated[Opt, typer.Option("--needs", help="跟进结果.需要跟进")] = None,
    items: Annotated[Opt, typer.Option("--items", help="后续计划.跟进事项")] = None,
    when: Annotated[Opt, typer.Option("--when", help="后续计划.跟进时间")] = None,
    owner: Annotated[Opt, typer.Option("--owner", help="后续计划.负责人")] = None,
    method: Annotated[Opt, typer.Option("--method", help="跟进方式：电话 微信 到店 在线")] = None,
    by: Annotated[Opt, typer.Option("--by", help="跟进人")] = None,
    next_days: Annotated[Optional[int], typer.Option("--next-days", help="N 天后再安排一次回访", min=1)] = None,
    at: AtOption = None,
) -> None:
    """完成一次回访：填写跟进记录、跟进结果与后续计划，跟进状态改为已完成。"""
    outcome = FollowUpOutcome(
        feedback=text_option(feedback), effect=text_option(effect),
        satisfaction=parse_option(satisfaction, lambda v: Satisfaction.parse(v).value, "--satisfaction"),
        intention=text_option(intention), next_appointment=text_option(next_visit), needs=text_option(needs), items=text_option(items),
        when=text_option(when), owner=text_option(owner), method=parse_option(method, Channel.parse, "--method"), by=text_option(by),
        next_days=next_days,
    )
    vault = open_vault()
    f, follow_on = complete_followup(vault, followup_id, outcome, _now(at, vault).date())
    console.print(f"[green]已完成回访[/green] {f.id} {escape(f.basics.kind or '')} {escape(f.customer.customer_name or '')}")
    if follow_on is not None:
        console.print(f"已安排下次回访 {follow_on.id} {follow_on.basics.due}")


@follow_app.command("cancel")
def cancel(
    followup_id: Annotated[str, typer.Argument(metavar="FLW-ID", help="跟进编号，如 FLW-2026-001")],
    reason: Annotated[Opt, typer.Option("--reason", help="取消原因（写入 后续计划.跟进事项）")] = None,
    by: Annotated[Opt, typer.Option("--by", help="操作人（写入 跟进人）")] = None,
) -> None:
    """取消一次回访：跟进状态改为已取消，以后也不会再安排同一回访。"""
    vault = open_vault()
    f = cancel_followup(vault, followup_id, by=text_option(by), reason=text_option(reason))
    console.print(f"已取消回访 {f.id} {escape(f.basics.kind or '')} {escape(f.customer.customer_name or '')}")


__all__ = ["follow_app", "followup_rows", "problem_panel", "text_option"]
