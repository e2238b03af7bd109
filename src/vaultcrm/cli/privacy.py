"""`vaultcrm customer forget ID` and `vaultcrm purge`: erasure and retention under the PIPL.

Both show what they will change, ask (or need `--yes` in a script), write through the store, and
append to the audit log. The work is done by `vaultcrm.privacy.actions`.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..core.operator import operator_name
from ..privacy.actions import Erased, forget_customer, purge_customers
from ..privacy.rules import plan_forget, plan_purge, pseudonym, years_before
from ..values import parse_date
from .backup import confirm_or_stop
from .base import app, console, console_err, open_vault, warn_diagnostics
from .customer import customer_app, find_customer
from .options import AtOption, UsageError
from .stats import parse_at

SHOWN = 15

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="不再询问，直接执行")]
ByOption = Annotated[Optional[str], typer.Option("--by", help="操作人（记入审计日志；默认：配置中的操作人或系统用户）")]


def _report(done: Erased) -> None:
    if done.still_named:
        console.print(f"[yellow]以下 {len(done.still_named)} 篇笔记的正文或其他字段仍含姓名或电话，请在 Obsidian 中手动检查：[/yellow]")
        for path in done.still_named[:SHOWN]:
            console.print(f"  {path}", markup=False)
    if done.skipped:
        console_err.print(f"[red]{len(done.skipped)} 篇笔记未处理（修改后请重新运行同一命令）：[/red]")
        for line in done.skipped:
            console_err.print(f"  {line}", markup=False)
        raise typer.Exit(1)


@customer_app.command("forget")
def forget(
    query: Annotated[str, typer.Argument(help="客户编号、电话或姓名（同名时列出候选，请改用客户编号）")],
    yes: YesOption = False,
    by: ByOption = None,
    at: AtOption = None,
) -> None:
    """注销客户（个人信息删除）：匿名化档案，抹去其笔记中的姓名、电话与健康信息；统计数字不变。

    姓名改为「已注销-编号」，清除电话、生日、健康档案与推荐人，加标签「已注销」；其预约、服务记录、跟进、候补中的
    姓名、电话与健康关注一并抹去（营销活动名单中改为匿名档案链接，优惠券保留），日期、状态、服务项目、时长与费用保留。每次注销记入 .vaultcrm/logs/audit.log。
    """
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    now = parse_at(at, vault.settings)
    customer = find_customer(vault.index, query)
    operator = operator_name(by, vault.settings)
    plan = plan_forget(vault.index, customer, cancel=(now, operator))
    if not plan.scrubs:
        console.print(f"{customer.id} 已注销，无需处理")
        return
    console.print(f"将注销 {customer.id} {customer.name or ''}：姓名改为「{pseudonym(customer.id)}」，清除电话、生日、"
                  f"健康档案与推荐人，加标签「已注销」；改写 {plan.notes} 篇笔记。统计数字不受影响。", markup=False)
    if plan.cancelled:
        console.print(f"其未完成的预约与待跟进将取消（不再提醒）：{'、'.join(plan.cancelled)}", markup=False)
    console.print("此操作不可撤销；此前的备份中仍有旧数据，按 vaultcrm backup 的保留天数轮换删除。")
    confirm_or_stop("确认注销？", f"未注销：确认无误请加 --yes（将改写 {plan.notes} 篇笔记）", yes)
    done = forget_customer(vault, plan, operator=operator, now=now)
    console.print(f"[green]已注销 {customer.id}，改写了 {len(done.changed)} 篇笔记[/green]")
    if plan.cancelled:
        console.print(f"已取消：{'、'.join(plan.cancelled)}", markup=False)
    _report(done)


@app.command()
def purge(
    before: Annotated[Optional[str], typer.Option("--before", help="最后一次到店早于此日期的客户（默认：两年前的今天）")] = None,
    yes: YesOption = False,
    by: ByOption = None,
    at: AtOption = None,
) -> None:
    """按保留期限注销长期未到店的客户（匿名化，同 customer forget）；统计数字不变。

    最后一次到店（预约、服务、跟进的日期中最晚的一个）早于 --before（默认两年前的今天）的客户，逐一注销。
    先列出人数与笔记数，确认后执行；每位客户记入 .vaultcrm/logs/audit.log。
    """
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    now = parse_at(at, vault.settings)
    try:
        cutoff = parse_date(before) if before else years_before(now.date())
    except ValueError as exc:
        raise UsageError(f"--before：{exc}") from None
    if cutoff is None:
        raise UsageError("--before 不能为空")
    plan = plan_purge(vault.index, cutoff)
    console.print(f"最后一次到店早于 {cutoff} 的客户 {len(plan.plans)} 位，涉及 {plan.notes} 篇笔记。")
    for forget_plan, seen in plan.plans[:SHOWN]:
        console.print(f"  {forget_plan.customer.id} {forget_plan.customer.name or ''}（最后一次 {seen}）", markup=False)
    if len(plan.plans) > SHOWN:
        console.print(f"  …… 另有 {len(plan.plans) - SHOWN} 位")
    if plan.undated:
        console.print(f"另有 {len(plan.undated)} 位客户没有任何日期记录，无法判断，未列入。")
    if not plan.plans:
        return
    confirm_or_stop(f"确认注销这 {len(plan.plans)} 位客户？",
                    f"未处理：确认无误请加 --yes（将注销 {len(plan.plans)} 位客户，改写 {plan.notes} 篇笔记）", yes)
    done = purge_customers(vault, plan, operator=operator_name(by, vault.settings), now=now)
    console.print(f"[green]已注销 {done.customers} 位客户，改写了 {len(done.changed)} 篇笔记[/green]")
    _report(done)
