"""`vaultcrm report technicians|services|customers`: one month's management report."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Annotated, Optional

import typer
from rich.table import Table as RichTable

from ..chain.report import store_report, write_chain_note
from ..chain.stores import for_store
from ..core.render import render
from ..exports.csv_tables import csv_bytes
from ..stats.campaign_report import campaign_report
from ..stats.customer_report import customer_report
from ..stats.periods import Month
from ..stats.reports import Report, cell_text, service_report, technician_report
from .base import app, console, open_vault, warn_diagnostics
from .options import AtOption, OutputFormat, UsageError, parse_format
from .stats import parse_at, parse_month_option
from .tables import print_table

KINDS = {"technicians": "technicians", "technician": "technicians", "tech": "technicians", "技师": "technicians",
         "services": "services", "service": "services", "服务": "services", "服务项目": "services",
         "customers": "customers", "customer": "customers", "客户": "customers",
         "stores": "stores", "store": "stores", "门店": "stores",
         "campaigns": "campaigns", "campaign": "campaigns", "活动": "campaigns", "营销": "campaigns"}


def _plain(value):
    """JSON and CSV want numbers, not ¥ strings: an amount is an int when whole, else a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def report_json(report: Report) -> dict:
    data: dict = {"month": str(report.month), "报表": report.title}
    data.update(_plain(report.summary))
    for table in report.tables:
        data[table.title] = [_plain(row) for row in table.rows]
        if table.total is not None:
            data["合计"] = _plain(table.total)
    return data


def report_csv(report: Report) -> bytes:
    """The report's main table (and its 合计 row) as CSV."""
    table = report.tables[0]
    rows = table.rows + ([table.total] if table.total else [])
    return csv_bytes([c.name for c in table.columns], ([_plain(row.get(c.name)) for c in table.columns] for row in rows))


def _cells(table) -> list[list[str]]:
    rows = table.rows + ([table.total] if table.total else [])
    return [[cell_text(c.kind, row.get(c.name)) for c in table.columns] for row in rows]


def _summary_items(report: Report) -> list[tuple[str, str]]:
    items = []
    for name, value in report.summary.items():
        if isinstance(value, dict):
            items.extend((f"{name}·{k}", str(v)) for k, v in value.items())
        else:
            items.append((name, cell_text("percent" if name.endswith("率") else "int", value)))
    return items


def _print_text(report: Report) -> None:
    if report.summary:
        summary = RichTable(title=f"{report.title}（{report.month.label}）", title_justify="left")
        summary.add_column("项目")
        summary.add_column("数值", justify="right")
        for name, value in _summary_items(report):
            summary.add_row(name, value)
        print_table(summary)
    for table in report.tables:
        rich = RichTable(title=table.title if report.summary else f"{report.title}（{report.month.label}）",
                         title_justify="left")
        for c in table.columns:
            rich.add_column(c.name, justify="left" if c.kind == "text" else "right", overflow="fold")
        for cells in _cells(table):
            rich.add_row(*cells)
        print_table(rich)


@app.command()
def report(
    kind: Annotated[str, typer.Argument(help="technicians（技师）、services（服务项目）、customers（客户）或 campaigns（营销活动）")],
    month: Annotated[Optional[str], typer.Option("--month", "-m", help="统计月份，如 2026-02（默认本月）")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text、md、json 或 csv")] = "text",
    at: AtOption = None,
    store: Annotated[Optional[str], typer.Option("--store", help="连锁门店：只统计该门店（如 SH01；默认全连锁）")] = None,
) -> None:
    """月度报表：技师业绩与提成、服务项目排行、客户分群/RFM/复购率/留存率、营销活动效果，连锁的各门店对比（stores）。"""
    which = KINDS.get(kind.strip().lower())
    if which is None:
        raise UsageError(f"未知的报表「{kind}」，可选：technicians（技师）、services（服务项目）、customers（客户）、"
                         "stores（门店）、campaigns（营销活动）")
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.MD, OutputFormat.JSON, OutputFormat.CSV})
    the_month = parse_month_option(month) if month else None
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    now = parse_at(at, vault.settings)
    the_month = the_month or Month.of(now.date())
    index, settings = for_store(vault, store)
    if which == "technicians":
        result = technician_report(index, settings, the_month)
    elif which == "services":
        result = service_report(index, settings, the_month)
    elif which == "stores":
        result = store_report(index, settings, the_month)
        if fmt is OutputFormat.MD:
            note = write_chain_note(vault.root, settings, result)
            console.out((vault.root / note).read_text(encoding="utf-8"), end="", highlight=False)
            return
    elif which == "campaigns":
        result = campaign_report(vault.root, settings, index, the_month)
    else:
        result = customer_report(index, settings, the_month, now.date())
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(report_json(result), ensure_ascii=False))
    elif fmt is OutputFormat.CSV:
        sys.stdout.flush()
        sys.stdout.buffer.write(report_csv(result))
        sys.stdout.buffer.flush()
    elif fmt is OutputFormat.MD:
        tables = [{"title": t.title, "header": [c.name for c in t.columns], "rows": _cells(t)} for t in result.tables]
        console.out(render("report.md.j2", vault.root / vault.settings.folders.templates, title=result.title,
                           month_label=result.month.label, summary=_summary_items(result), tables=tables),
                    end="", highlight=False)
    else:
        _print_text(result)
