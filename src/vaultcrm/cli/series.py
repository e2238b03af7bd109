"""`vaultcrm book … --repeat weekly --times 8`: a series (疗程), as `book` prints it.

`book` hands over here when a series is asked for; the decisions are in `vaultcrm.booking.series` and
the writing in `vaultcrm.booking.series_actions`. Output: a table of the occurrences (date, time,
technician, room) under the 系列编号, the skipped ones with `--skip-conflicts`; JSON with `--format json`.
"""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from ..booking.actions import BookingRequest
from ..booking.series import Repeat, SeriesPlan, day_text, parse_repeat, plan_series
from ..booking.series_actions import SeriesBooked, book_series
from ..errors import VaultCRMError
from ..models import Appointment
from . import options
from .base import console, open_vault, vault_root, warn_diagnostics
from .options import OutputFormat, UsageError, json_value
from .tables import print_table


def parse_series(repeat: str | None, times: str | None, skip_conflicts: bool, package: bool) -> Repeat | None:
    """The series asked for, or None for a single booking; a half-given series is a usage error."""
    if repeat is None and times is None:
        if skip_conflicts or package:
            flag = "--skip-conflicts" if skip_conflicts else "--package"
            raise UsageError(f"{flag} 只用于疗程（系列预约）：请同时给出 --repeat 与 --times")
        return None
    if repeat is None or not repeat.strip():
        raise UsageError("--times 需与 --repeat 一起使用（每天 daily、每周 weekly、每两周 biweekly、N天 Nd）")
    if times is None or not times.strip():
        raise UsageError("--repeat 需与 --times 一起使用：疗程共几次")
    try:
        every = parse_repeat(repeat)
    except ValueError as exc:
        raise UsageError(f"--repeat：{exc}") from None
    try:
        count = int(times.strip())
    except ValueError:
        raise UsageError(f"--times：应为整数，而不是「{times}」") from None
    try:
        return Repeat(every, count)
    except VaultCRMError as exc:  # out of range
        raise UsageError(f"--times：{exc.message}") from None


def _rows(table: Table, rows: list[tuple[str, str, Appointment]]) -> Table:
    for number, app_id, a in rows:
        end = a.end(a.service.duration or 60)
        table.add_row(number, app_id, day_text(a.info.date), f"{a.info.time:%H:%M}–{end:%H:%M}",
                      escape(a.service.technician or "未安排"), escape(a.service.room or "—"))
    return table


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("序号", "预约编号", "日期", "时间", "技师", "房间"):
        table.add_column(name)
    return table


def _preview(plan: SeriesPlan) -> None:
    booked = plan.booked
    rows = [(f"{i}/{len(booked)}", "（待确认）", o.plan.appointment) for i, o in enumerate(booked, start=1)]
    print_table(_rows(_table(f"疗程（待确认）：{plan.service} {plan.repeat.describe()}，客户 {plan.customer.name}"), rows))
    if plan.package is not None:
        console.print(f"使用套餐：{escape(plan.package.name or '次卡')}（每次到店记录服务时扣 1 次）")
    for o in plan.failed:
        console.print(f"[yellow]将跳过 {escape(o.failure_line())}[/yellow]")


def run_series(req: BookingRequest, repeat: Repeat, *, skip_conflicts: bool, package: bool, fmt: OutputFormat,
               ask: bool) -> SeriesBooked:
    """Preview and confirm on a terminal, book, print; the caller prints the briefing."""
    if ask:
        vault = open_vault()
        plan = plan_series(vault.index, vault.settings, req, repeat, req.now or vault.settings.now(),
                           use_package=package, skip_conflicts=skip_conflicts)
        refusal = plan.refusal(skip_conflicts=skip_conflicts)
        if refusal is not None:
            raise refusal
        _preview(plan)
        options.confirm("确认预约整个疗程？", default=True)
    booked = book_series(vault_root(), req, repeat, skip_conflicts=skip_conflicts, use_package=package,
                         load=open_vault)
    warn_diagnostics(booked.diagnostics)
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(series_json(booked), ensure_ascii=False))
        return booked
    c = booked.customer
    new = "，新建档案" if booked.plan.is_new_customer else ""
    head = "疗程已预约（上次中断的运行已完成）" if booked.again else "[green]已创建疗程[/green]"
    first = booked.appointments[0]
    console.print(f"{head} {booked.series_id}：{escape(first.service.service or '')} "
                  f"{booked.repeat.describe()}，客户 {escape(c.name or '')}（{c.id}{new}）")
    rows = [(a.info.series_position or "", a.id, a) for a in booked.appointments]
    print_table(_rows(_table(f"疗程 {booked.series_id}"), rows))
    if booked.package:
        console.print(f"使用套餐：{escape(booked.package)}（每次到店记录服务时扣 1 次）")
    if booked.skipped:
        console.print(f"[yellow]已跳过 {len(booked.skipped)} 次（--skip-conflicts）：[/yellow]")
        for s in booked.skipped:
            console.print(f"  {escape(s.line())}", highlight=False)
    return booked


def series_json(booked: SeriesBooked) -> dict:
    return {
        "系列编号": booked.series_id, "客户编号": booked.customer.id, "客户姓名": booked.customer.name,
        "服务项目": booked.appointments[0].service.service, "重复": booked.repeat.describe(),
        "使用套餐": booked.package,
        "预约": [json_value(a.model_dump(by_alias=True)) for a in booked.appointments],
        "跳过": [s.as_data() for s in booked.skipped],
    }


__all__ = ["parse_series", "run_series", "series_json"]
