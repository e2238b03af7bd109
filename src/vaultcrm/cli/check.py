"""`vaultcrm check`: every problem in the vault as `path:line: message`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..checks.cross_record import run_checks
from ..diagnostics import Severity
from .base import app, console, open_vault
from .options import OutputFormat, parse_format


@app.command()
def check(
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
) -> None:
    """检查库中所有笔记：语法、取值、重复编号。有错误时退出码为 1。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    vault = open_vault()
    diags = sorted([*vault.diagnostics, *run_checks(vault.index, vault.settings)],
                   key=lambda d: (d.path, d.line, d.message))
    errors = sum(d.severity is Severity.ERROR for d in diags)
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps([d.to_json() for d in diags], ensure_ascii=False))
    else:
        for d in diags:
            console.print(str(d), markup=False)
        warnings = len(diags) - errors
        idx = vault.index
        summary = (f"共 {vault.stats.files} 个笔记：预约 {len(idx.appointments)}，服务记录 {len(idx.services)}，"
                   f"跟进 {len(idx.followups)}，客户 {len(idx.customers)}"
                   + "".join(f"，{label} {len(table)}" for label, table in (("候补", idx.waitlist), ("请假", idx.leaves))
                             if table)
                   + f"；错误 {errors}，警告 {warnings}")
        console.print(("[red]" if errors else "[green]") + summary + ("[/red]" if errors else "[/green]"))
    if errors:
        raise typer.Exit(1)
