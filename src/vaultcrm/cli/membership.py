"""`vaultcrm customer edit | points | package add`: profile fields, points and packages.

Options are parsed here (a bad value is a usage error, exit 2); the rules are in `vaultcrm.customers.profiles`
and `vaultcrm.customers.membership`, and every write goes through `store.update_record`.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..customers.membership import describe_package, new_package, points_balance
from ..customers.profiles import ProfileEdit, add_package, edit_profile, parse_gender, redeem_points
from ..models.customer import Package
from ..values import Strength, format_money, parse_bool, parse_date, parse_money, parse_phone
from .base import console, console_err, open_vault, warn_diagnostics
from .customer import AtOption, customer_app, find_customer, parse_tier, today_of
from .options import UsageError, parse_option

Opt = Optional[str]
Many = Optional[list[str]]

package_app = typer.Typer(help="套餐：次卡与储值。", no_args_is_help=True, rich_markup_mode=None)
customer_app.add_typer(package_app, name="package")


def _text(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


_FIELD_LABELS = {"客户姓名": "姓名", "联系方式": "电话", "过敏史": "过敏史", "禁忌事项": "禁忌事项", "健康关注": "健康关注",
                 "偏好技师": "偏好技师", "力度要求": "力度", "健康数据": "健康数据授权", "营销": "营销授权",
                 "同意日期": "同意日期"}


@customer_app.command()
def edit(
    query: Annotated[str, typer.Argument(help="客户编号、电话或姓名")],
    name: Annotated[Opt, typer.Option("--name", help="姓名（档案文件名不变，链接不会断）")] = None,
    phone: Annotated[Opt, typer.Option("--phone", help="联系电话")] = None,
    gender: Annotated[Opt, typer.Option("--gender", help="性别：男 女")] = None,
    birthday: Annotated[Opt, typer.Option("--birthday", help="生日 YYYY-MM-DD")] = None,
    source: Annotated[Opt, typer.Option("--source", help="来源渠道")] = None,
    tier: Annotated[Opt, typer.Option("--tier", help="会员等级，如 普通 银卡 金卡 钻石")] = None,
    allergy: Annotated[Many, typer.Option("--allergy", help="过敏史：+项 添加，-项 删除；可重复")] = None,
    contraindication: Annotated[Many, typer.Option("--contraindication", help="禁忌事项：+项 添加，-项 删除；可重复")] = None,
    concerns: Annotated[Opt, typer.Option("--concerns", help="健康关注")] = None,
    technician: Annotated[Opt, typer.Option("--preferred-technician", help="偏好技师")] = None,
    strength: Annotated[Opt, typer.Option("--strength", help="力度要求：轻 中 重")] = None,
    referrer: Annotated[Opt, typer.Option("--referrer", help="推荐人")] = None,
    consent_health: Annotated[Opt, typer.Option("--consent-health", help="健康数据授权：yes/no（是/否）")] = None,
    consent_marketing: Annotated[Opt, typer.Option("--consent-marketing", help="营销授权：yes/no（是/否）")] = None,
    at: AtOption = None,
) -> None:
    """修改客户档案；只改给出的字段，注释、其他字段和正文保持不变。"""
    request = ProfileEdit(
        name=_text(name), phone=parse_option(phone, parse_phone, "--phone"), gender=parse_option(gender, parse_gender, "--gender"),
        birthday=parse_option(birthday, parse_date, "--birthday"), source=_text(source),
        allergies=list(allergy or []), contraindications=list(contraindication or []), concerns=_text(concerns),
        technician=_text(technician), strength=parse_option(strength, Strength.parse, "--strength"),
        referrer=_text(referrer), consent_health=parse_option(consent_health, parse_bool, "--consent-health"),
        consent_marketing=parse_option(consent_marketing, parse_bool, "--consent-marketing"),
    )
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    request.tier = parse_tier(tier, vault.settings) if tier else None
    customer = find_customer(vault.index, query)
    result = edit_profile(vault, customer, request, today_of(at, vault.settings))
    for warning in result.warnings:
        console_err.print(f"[yellow]注意：{escape(warning)}[/yellow]")
    who = escape(f"{customer.id} {customer.name or ''}".strip())
    if not result.changes:
        console.print(f"{who}：没有变化")
        return
    fields = "、".join(dict.fromkeys(_FIELD_LABELS.get(path[-1], path[-1]) for path in result.changes))
    console.print(f"[green]已更新[/green] {who}：{escape(fields)}")


@customer_app.command()
def points(
    query: Annotated[str, typer.Argument(help="客户编号、电话或姓名")],
    redeem: Annotated[Optional[int], typer.Option("--redeem", help="兑换（扣除）的积分数")] = None,
    note: Annotated[Opt, typer.Option("--note", help="兑换说明，记入积分记录")] = None,
    at: AtOption = None,
) -> None:
    """查看积分（按服务费用累计、到期作废、扣除兑换），或用 --redeem 兑换积分。"""
    if redeem is not None and redeem <= 0:
        raise UsageError(f"--redeem：兑换积分应为正整数，收到 {redeem}")
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    customer = find_customer(vault.index, query)
    today = today_of(at, vault.settings)
    who = escape(f"{customer.id} {customer.name or ''}".strip())
    if redeem is not None:
        done = redeem_points(vault, customer, redeem, today, _text(note))
        console.print(f"[green]已兑换[/green] {who} {done.points} 积分（抵 {format_money(done.worth)}），"
                      f"剩余 {done.balance.balance} 分")
        return
    rules = vault.settings.membership
    p = points_balance(customer, vault.index.services_of(customer.id), rules, today)
    console.print(f"{who} 积分 {p.balance} 分（可抵 {format_money(p.value)}）")
    console.print(f"累计获得 {p.earned} 分，已兑换 {p.redeemed} 分，已过期 {p.expired} 分；"
                  f"每元 {rules.points_per_yuan.normalize():f} 分，"
                  + (f"有效期 {rules.points_expiry_months} 个月" if rules.points_expiry_months > 0 else "长期有效"))
    if p.next_expiry:
        console.print(f"{p.next_expiry[1]} 分将于 {p.next_expiry[0]} 到期")


@package_app.command("add")
def package_add(
    query: Annotated[str, typer.Argument(help="客户编号、电话或姓名")],
    name: Annotated[str, typer.Option("--name", help="套餐名称，如 肩颈理疗10次卡")],
    sessions: Annotated[Optional[int], typer.Option("--sessions", help="次卡：总次数")] = None,
    value: Annotated[Opt, typer.Option("--value", help="储值：金额，如 ¥1000")] = None,
    service: Annotated[Opt, typer.Option("--service", help="限用的服务项目（默认不限）")] = None,
    start: Annotated[Opt, typer.Option("--start", help="开始日期（默认今天）")] = None,
    end: Annotated[Opt, typer.Option("--end", help="结束日期（默认长期有效）")] = None,
    at: AtOption = None,
) -> None:
    """为客户添加套餐：--sessions 次卡 或 --value 储值（二选一）。记录服务时自动扣减。"""
    amount = parse_option(value, parse_money, "--value")
    start_day, end_day = parse_option(start, parse_date, "--start"), parse_option(end, parse_date, "--end")
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    service_name = _text(service)
    if service_name and vault.settings.services and service_name not in vault.settings.services:
        raise UsageError(f"--service：未知的服务项目「{service_name}」，可选：{'、'.join(vault.settings.services)}")
    customer = find_customer(vault.index, query)
    entry = new_package(name, sessions=sessions, value=amount, start=start_day or today_of(at, vault.settings),
                        end=end_day, service=service_name)
    add_package(vault, customer, entry)
    package = Package.model_validate(entry)
    period = f"{package.start} 至 {package.end or '长期有效'}"
    console.print(f"[green]已添加套餐[/green] {escape(customer.id)} {escape(customer.name or '')}："
                  f"{escape(describe_package(package))}（{period}）")
