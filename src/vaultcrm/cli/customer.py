"""`vaultcrm customer …`: the customer 360 view, lists by segment or tier, and the recomputed tags.

Profile edits, points and packages are in `cli/membership.py`, registered on the same group.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
from collections.abc import Iterable
from typing import Annotated, Optional

import typer
import typer.main
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from typer.core import TyperGroup

from ..core.index import VaultIndex
from ..customers.history import service_memory
from ..customers.membership import describe_discount, describe_package
from ..customers.resolve import resolve_customer
from ..customers.segments import MANAGED_TAGS, Segment
from ..customers.view import LIST_COLUMNS, CustomerView, customer_view, list_row, view_json
from ..errors import NotFoundError
from ..exports.csv_tables import csv_bytes
from ..followups.rules import due_of
from ..models import Customer
from ..values import AppointmentStatus, format_money, parse_datetime
from .base import app, console, open_vault, warn_diagnostics
from .commands import SUBCOMMANDS
from .options import AtOption, OutputFormat, UsageError, json_value, parse_format
from .tables import print_table

ELSEWHERE = SUBCOMMANDS["customer"]  # subcommand → the cli module that registers it


class CustomerGroup(TyperGroup):
    """`customer`: a subcommand another cli module registers is imported when it runs (or for `customer
    --help`), so `customer show` does not import membership edits, privacy, backups and chain sync."""

    def _load(self, modules: Iterable[str]) -> None:
        for module in modules:
            importlib.import_module(f"{__package__}.{module}")
        for name, command in typer.main.get_group(customer_app).commands.items():
            self.commands.setdefault(name, command)

    def list_commands(self, ctx) -> list[str]:
        self._load(dict.fromkeys(ELSEWHERE.values()))
        return super().list_commands(ctx)

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in self.commands:
            self._load([ELSEWHERE[cmd_name]] if cmd_name in ELSEWHERE else dict.fromkeys(ELSEWHERE.values()))
        return super().get_command(ctx, cmd_name)


customer_app = typer.Typer(help="客户档案：查看、列表、修改、分群标签、积分与套餐。", no_args_is_help=True,
                           rich_markup_mode=None, cls=CustomerGroup)
app.add_typer(customer_app, name="customer")

Opt = Optional[str]
TIER_ALIASES = {"normal": "普通", "regular": "普通", "silver": "银卡", "gold": "金卡", "diamond": "钻石"}


def today_of(at: str | None, settings) -> dt.date:
    if not at:
        return settings.now().date()
    try:
        return parse_datetime(at).date()
    except ValueError as exc:
        raise UsageError(f"--at：{exc}") from None


def find_customer(index: VaultIndex, query: str) -> Customer:
    """By 客户编号, phone or name; an ambiguous name lists the candidates (exit 1)."""
    found = resolve_customer(index, query)
    if found is None:
        raise NotFoundError(f"没有名为「{query}」的客户（可用客户编号、电话或姓名查找）")
    return found


def money(amount) -> str:
    return "—" if amount is None else format_money(amount)


def _join(items: list[str], empty: str = "—") -> str:
    return "、".join(items) if items else empty


# -- show -------------------------------------------------------------------------------------------
@customer_app.command()
def show(
    query: Annotated[str, typer.Argument(help="客户编号、电话或姓名")],
    format: Annotated[str, typer.Option("--format", "-f", help="text 或 json")] = "text",
    at: AtOption = None,
) -> None:
    """客户 360：档案、过敏与禁忌、到店与消费、最近服务与服务记忆、待跟进、套餐、会员与积分、分群。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    customer = find_customer(vault.index, query)
    view = customer_view(vault.index, customer, vault.settings, today_of(at, vault.settings))
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(view_json(view), ensure_ascii=False))
        return
    _print_view(view)


def _table(title: str, columns: tuple[str, ...], right: tuple[str, ...] = ()) -> Table:
    """A titled table whose cells fold rather than hide behind an ellipsis on a narrow terminal."""
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    return table


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    return grid


_SERIES_MARK = {AppointmentStatus.COMPLETED: "✓", AppointmentStatus.CANCELLED: "（已取消）",
                AppointmentStatus.NO_SHOW: "（未到店）", AppointmentStatus.IN_PROGRESS: "（服务中）"}


def _print_view(view: CustomerView) -> None:
    c = view.customer
    who = " ".join(x for x in (c.id, c.name or "", c.phone or "", c.gender or "") if x)
    console.print(f"[bold]{escape(who)}[/bold]", markup=True)
    health = _grid()
    health.add_row("过敏史", escape(_join(c.health.allergies, "未登记")))
    health.add_row("禁忌事项", escape(_join(c.health.contraindications, "未登记")))
    if c.health.concerns:
        health.add_row("健康关注", escape(c.health.concerns))
    alarm = bool(c.health.allergies or c.health.contraindications)
    console.print(Panel(health, title="⚠ 健康警示" if alarm else "健康档案", title_align="left", expand=False,
                        border_style="red" if alarm else "dim"))

    s, p = view.stats, view.points
    facts = _grid()
    profile = [f"生日 {c.birthday}" if c.birthday else "", f"来源 {c.source}" if c.source else "",
               f"推荐人 {c.referrer}" if c.referrer else ""]
    if any(profile):
        facts.add_row("档案", escape("，".join(x for x in profile if x)))
    prefs = [f"偏好技师 {c.preferences.technician}" if c.preferences.technician else "",
             f"力度 {c.preferences.strength.value}" if c.preferences.strength else ""]
    if any(prefs):
        facts.add_row("偏好", escape("，".join(x for x in prefs if x)))
    span = f"（{s.first_visit} 至 {s.last_visit}）" if s.first_visit else ""
    facts.add_row("到店", f"{s.visits} 次{span}，近期月均 {s.per_month:.1f} 次")
    facts.add_row("消费", f"累计 {money(s.spend_total)}，近 12 个月 {money(s.spend_recent)}")
    facts.add_row("未到店", f"近 12 个月 {view.no_shows} 次，累计 {view.no_shows_total} 次")
    tier = f"{view.tier or '—'}（{describe_discount(view.discount)}）"
    if view.upgrade:
        tier += f"，按消费可升为 {view.upgrade}（运行 vaultcrm customer tag 更新）"
    facts.add_row("会员", escape(tier))
    points = f"{p.balance} 分（可抵 {money(p.value)}）"
    if p.next_expiry:
        points += f"，{p.next_expiry[1]} 分将于 {p.next_expiry[0]} 到期"
    facts.add_row("积分", points)
    facts.add_row("分群", escape(_join([x.value for x in view.segments])))
    facts.add_row("标签", escape(_join(c.tags)))
    console.print(Panel(facts, title="概况", title_align="left", expand=False))

    if view.recent:
        table = _table("最近服务（服务记忆）", ("日期", "服务项目", "技师", "费用", "满意度", "服务记忆"))
        for srv in view.recent:
            memo = "\n".join(f"{label}：{text}" for label, text in service_memory(srv)) or "—"
            table.add_row(str(srv.basics.date or "—"), escape(srv.service.service or "—"),
                          escape(srv.service.technician or "—"), money(srv.service.fee),
                          srv.feedback.satisfaction.value if srv.feedback.satisfaction else "—", escape(memo))
        print_table(table)
    if view.followups:
        table = _table("待跟进", ("跟进编号", "类型", "计划日期"))
        for f in view.followups:
            table.add_row(f.id, escape(f.basics.kind or "—"), str(due_of(f) or "—"))
        print_table(table)
    if view.upcoming:
        lines = [f"{a.id} {a.info.date} {a.info.time:%H:%M} {a.service.service or ''} {a.status.value}"
                 if a.info.time else f"{a.id} {a.info.date} {a.service.service or ''}" for a in view.upcoming]
        console.print("预约：" + escape("；".join(lines)))
    if view.series:
        table = _table("疗程", ("系列编号", "服务项目", "进度", "日期"))
        for x in view.series:
            progress = f"已完成 {x.done}/{len(x.appointments)}，剩余 {x.left}" + (f"，取消或未到 {x.missed}" if x.missed else "")
            if x.package:
                progress += f"（{x.package}）"
            dates = "、".join(f"{a.info.date or '—'}{_SERIES_MARK.get(a.status, '')}" for a in x.appointments)
            table.add_row(x.id, escape(x.service or "—"), escape(progress), dates)
        print_table(table)
    if view.packages:
        table = _table("套餐", ("套餐", "服务项目", "有效期", "状态"))
        for package, usable in view.packages:
            period = f"{package.start or '—'} 至 {package.end or '长期'}"
            table.add_row(escape(describe_package(package)), escape(package.service or "不限"), period,
                          "可用" if usable else "[dim]已用完或不在有效期[/dim]")
        print_table(table)
    for note in view.notes:
        console.print(f"[yellow]提示：{escape(note)}[/yellow]")


# -- list -------------------------------------------------------------------------------------------
def parse_segment(value: str) -> Segment:
    try:
        return Segment.parse(value)
    except ValueError as exc:
        raise UsageError(f"--segment：{exc}（或 frequent、potential、churn-risk、new、high-value）") from None


def parse_tier(value: str, settings) -> str:
    name = value.strip()
    name = name if name in settings.membership.tiers else TIER_ALIASES.get(name.lower(), name)
    if name not in settings.membership.tiers:
        raise UsageError(f"--tier：未知的会员等级「{value}」，可选：{'、'.join(settings.membership.tier_names())}")
    return name


@customer_app.command("list")
def list_(
    segment: Annotated[Opt, typer.Option("--segment", help="高频刚需客 潜力客户 流失预警 新客户 高价值客户")] = None,
    tier: Annotated[Opt, typer.Option("--tier", help="会员等级，如 普通 银卡 金卡 钻石")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text、json 或 csv")] = "text",
    at: AtOption = None,
) -> None:
    """列出客户，可按分群或会员等级筛选。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.CSV})
    wanted = parse_segment(segment) if segment else None
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    tier_name = parse_tier(tier, vault.settings) if tier else None
    today = today_of(at, vault.settings)
    rows = [list_row(vault.index, c, vault.settings, today)
            for c in sorted(vault.index.customers.values(), key=lambda c: c.id)]
    rows = [row for row in rows
            if (wanted is None or wanted.value in row["分群"]) and (tier_name is None or row["会员等级"] == tier_name)]
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(json_value(rows), ensure_ascii=False))
    elif fmt is OutputFormat.CSV:
        data = csv_bytes(LIST_COLUMNS, (["、".join(v) if isinstance(v, list) else v for v in row.values()]
                                        for row in rows))
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        _print_list(rows, wanted, tier_name)


def _print_list(rows: list[dict], segment: Segment | None, tier: str | None) -> None:
    what = "、".join(x for x in (segment.value if segment else "", tier or "") if x)
    if not rows:
        console.print(f"没有{what}客户" if what else "库中还没有客户档案")
        return
    table = Table(title=f"{what}客户 {len(rows)} 位" if what else f"客户 {len(rows)} 位", title_justify="left",
                  box=None, padding=(0, 1, 0, 0), header_style="bold underline")
    for name in ("编号", "姓名", "电话", "等级", "到店", "最近到店", "近12月消费", "积分", "分群/标签"):
        table.add_column(name, justify="right" if name in ("到店", "近12月消费", "积分") else "left",
                         no_wrap=name in ("编号", "电话", "最近到店"), overflow="fold")
    cells = []
    for row in rows:
        labels = row["分群"] + [t for t in row["标签"] if t not in MANAGED_TAGS]
        cells.append((row["客户编号"], escape(row["客户姓名"] or "—"), row["联系方式"] or "—", escape(row["会员等级"] or "—"),
                      str(row["到店次数"]), row["最近到店"] or "—", money(row["近12个月消费"]), str(row["积分"]),
                      escape("、".join(labels) or "—")))
    print_table(table, rows=cells)


# -- tag --------------------------------------------------------------------------------------------
def describe_changes(customer: Customer, changes: dict[tuple, object]) -> str:
    parts = []
    if ("标签",) in changes:
        new = changes[("标签",)]
        added = [t for t in new if t not in customer.tags]
        removed = [t for t in customer.tags if t not in new]
        parts.append("标签 " + " ".join([*(f"+{t}" for t in added), *(f"-{t}" for t in removed)]))
    if ("会员等级",) in changes:
        parts.append(f"会员等级 {customer.tier or '—'} → {changes[('会员等级',)]}")
    if ("积分",) in changes:
        parts.append(f"积分 {customer.points if customer.points is not None else '—'} → {changes[('积分',)]}")
    return "；".join(parts)


@customer_app.command()
def tag(at: AtOption = None) -> None:
    """按客户分群规则重算每位客户的标签，并更新会员等级（只升不降）和积分；只改写有变化的档案。"""
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    from ..customers.profiles import refresh_profiles  # writes notes: not imported by the read-only subcommands

    result = refresh_profiles(vault, today_of(at, vault.settings))
    for customer, changes in result.changed:
        console.print(escape(f"{customer.id} {customer.name or ''}：{describe_changes(customer, changes)}"))
    for customer, why in result.skipped:
        console.print(f"[yellow]未更新 {escape(customer.id)}：{escape(why)}[/yellow]")
    if result.changed:
        console.print(f"已更新 {len(result.changed)} 位客户档案")
    else:
        console.print("所有客户档案已是最新")
