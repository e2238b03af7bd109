"""`vaultcrm import customers FILE`: the studio's customer sheet (CSV or Excel) into profiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..customers.importer import (
    CREATE,
    MERGE,
    REJECT,
    UNCHANGED,
    ImportPlan,
    Verdict,
    apply_import,
    plan_vault_import,
)
from ..customers.spreadsheet import read_sheet
from .base import app, console, open_vault, warn_diagnostics

import_app = typer.Typer(help="导入：把已有的客户名单（CSV / Excel）建成客户档案。", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(import_app, name="import")

_STYLE = {CREATE: "green", MERGE: "cyan", UNCHANGED: "dim", REJECT: "red"}


def _print_rows(plan: ImportPlan, which: Callable[[Verdict], bool]) -> None:
    """One line a row, so a long reason wraps instead of being cut: `第 7 行 拒绝 周八 —：缺少电话`."""
    for v in plan.verdicts:
        if which(v):
            detail = "；".join(x for x in (v.detail, *v.warnings) if x)
            style = _STYLE[v.action]
            console.print(f"第 {v.row} 行 [{style}]{v.action}[/{style}] {escape(v.name or '—')} "
                          f"{escape(v.phone or '—')}" + (f"：{escape(detail)}" if detail else ""))


@import_app.command("customers")
def customers(
    file: Annotated[Path, typer.Argument(help="客户名单：.csv（UTF-8 或 GBK）或 .xlsx", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只报告将新建、合并、拒绝哪些行，不写入")] = False,
) -> None:
    """导入客户名单：按表头识别列，按电话去重合并（只补空白字段），逐行报告结果。"""
    sheet = read_sheet(file.expanduser())
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    plan = plan_vault_import(sheet, vault)
    for note in plan.notes:
        console.print(escape(note))
    if plan.ignored_columns:
        console.print(f"未识别的列（已忽略）：{escape('、'.join(plan.ignored_columns))}")
    counts = (f"新建 {plan.count(CREATE)} 位，合并 {plan.count(MERGE)} 行，无变化 {plan.count(UNCHANGED)} 行，"
              f"拒绝 {plan.count(REJECT)} 行")
    if plan.nothing_to_do:
        console.print(f"没有需要导入的内容：{counts}")
        if any(v.action == REJECT or v.warnings for v in plan.verdicts):
            _print_rows(plan, lambda v: v.action == REJECT or bool(v.warnings))
        return
    if dry_run:
        console.print(f"试运行（未写入）：将{counts}")
        _print_rows(plan, lambda v: True)
        return
    done = apply_import(vault, plan)
    console.print(f"[green]导入完成[/green]：{counts}")
    if done.created:
        first, last = done.created[0].id, done.created[-1].id
        console.print(f"新建档案 {first}" + (f" 至 {last}" if last != first else ""))
    if done.merged:
        console.print("补充档案 " + escape("、".join(c.id for c in done.merged)))
    if any(v.action == REJECT or v.warnings for v in plan.verdicts):
        _print_rows(plan, lambda v: v.action == REJECT or bool(v.warnings))
