"""`vaultcrm campaign create|send|birthday`: marketing campaigns with coupons, sent to customers who agreed."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..campaigns.actions import CampaignRequest, CampaignResult, create_campaign, run_birthday, send_campaign
from ..campaigns.roster import SendStatus
from ..campaigns.sending import compose
from ..campaigns.targeting import parse_segment
from ..values import parse_date
from .base import app, console, console_err, open_vault, warn_diagnostics
from .options import AtOption, OutputFormat, UsageError, parse_at, parse_format, parse_option
from .tables import print_table

campaign_app = typer.Typer(rich_markup_mode=None, add_completion=False, no_args_is_help=True)
app.add_typer(campaign_app, name="campaign",
              help="精准营销：按客户分群建活动、发优惠券（只发给同意营销的客户）；send 补发；birthday 生日关怀常设活动。")

Opt = Optional[str]
SHOWN_ROWS = 30  # a longer roster is in the note, not on the terminal
SHOWN_FAILURES = 10
ChannelOption = Annotated[Optional[list[str]], typer.Option(
    "--channel", help="只用这些发送渠道（vaultcrm.yaml 提醒规则.发送渠道 的 名称 或 类型，可多次给出）")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="text 或 json")]


def _now(at: str | None, vault):
    parsed = parse_at(at)
    return vault.settings.now() if parsed is None else parsed.replace(second=0)


@campaign_app.command("create")
def create(
    offer: Annotated[Opt, typer.Option("--offer", help="优惠内容：8折、9.5折、减50、立减¥30、满300减50，或赠品文字")] = None,
    segment: Annotated[Opt, typer.Option("--segment", help="客户分群：流失预警 高价值客户 新客户 高频刚需客 潜力客户 全部")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="只选带这个标签的客户（可多次给出）")] = None,
    name: Annotated[Opt, typer.Option("--name", help="活动名称（默认：分群 · 优惠）")] = None,
    valid_until: Annotated[Opt, typer.Option("--valid-until", help="优惠券有效期至 YYYY-MM-DD（默认：30 天后）")] = None,
    channel: ChannelOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只列出名单和消息样例，不写笔记、不发送")] = False,
    by: Annotated[Opt, typer.Option("--by", help="创建人（默认：配置中的操作人或系统用户）")] = None,
    format: FormatOption = "text",
    at: AtOption = None,
) -> None:
    """新建营销活动：写入 活动/CMP-YYYY-NNN.md（每位目标客户一张优惠券），并发送给同意营销的客户。发送失败时退出码为 1。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    if not offer or not offer.strip():
        raise UsageError("缺少 --offer（优惠内容，如 8折、减50 或 赠送精油一份）")
    tags = [t.strip() for t in tag or [] if t.strip()]
    if segment is None and not tags:
        raise UsageError("请用 --segment 选择客户分群（或 全部），或用 --tag 按标签选择客户")
    req = CampaignRequest(offer=offer, segment=parse_option(segment, parse_segment, "--segment"), tags=tags,
                          name=(name or "").strip() or None,
                          valid_until=parse_option(valid_until, parse_date, "--valid-until"),
                          channels=[c.strip() for c in channel or [] if c.strip()], by=by, dry_run=dry_run)
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    result = create_campaign(vault.root, vault.settings, vault.index, req, _now(at, vault))
    _finish(result, fmt, dry_run=dry_run, vault=vault)


@campaign_app.command("send")
def send(
    campaign_id: Annotated[str, typer.Argument(metavar="活动编号", help="如 CMP-2026-001，或 生日关怀")],
    channel: ChannelOption = None,
    format: FormatOption = "text",
    at: AtOption = None,
) -> None:
    """补发一个活动中待发送的消息（上次失败或未发出的）；已发送的客户不会再收到。发送失败时退出码为 1。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    vault = open_vault()
    warn_diagnostics(vault.diagnostics)
    result = send_campaign(vault.root, vault.settings, vault.index, campaign_id, _now(at, vault),
                           [c.strip() for c in channel or [] if c.strip()])
    _finish(result, fmt, dry_run=False, vault=vault, resend=True)


@campaign_app.command("birthday")
def birthday(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只列出本次要加入的客户，不写笔记、不发送")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="没有新的生日客户、也没有要发送的消息时什么也不输出（适合 cron）")] = False,
    format: FormatOption = "text",
    at: AtOption = None,
) -> None:
    """生日关怀常设活动：把 生日提前天数 内过生日的客户加入 活动/生日关怀.md（每人每年一张券），并发送祝福与优惠券。"""
    fmt = parse_format(format, {OutputFormat.TEXT, OutputFormat.JSON})
    vault = open_vault(show_progress=not quiet)
    if not quiet:
        warn_diagnostics(vault.diagnostics)
    result = run_birthday(vault.root, vault.settings, vault.index, _now(at, vault), dry_run=dry_run)
    report = result.report
    if quiet and not result.added and (report is None or not (report.sent or report.failures or report.skipped)):
        return
    _finish(result, fmt, dry_run=dry_run, vault=vault)


# -- output ---------------------------------------------------------------------------------------
def result_json(result: CampaignResult, dry_run: bool) -> dict:
    c, report = result.campaign, result.report
    rows = [e for e in c.rows() if not result.added or e in result.added] if dry_run else c.rows()
    data = {"活动编号": None if dry_run else c.id, "路径": result.relpath, "活动名称": c.name, "优惠内容": c.offer.text,
            "优惠方式": c.offer.kind, "有效期至": c.valid_until.isoformat() if c.valid_until else None,
            "发送渠道": result.channels, "预览": dry_run, **c.counts(),
            "本次发送": len(report.sent) if report else 0, "本次跳过": len(report.skipped) if report else 0,
            "失败": [{"优惠券": f.entry.code, "客户编号": f.entry.customer_id, "渠道": f.channel, "原因": f.reason}
                   for f in report.failures] if report else [],
            "名单": [{"优惠券": e.code, "客户编号": e.customer_id, "状态": e.status.value,
                    "发送时间": e.sent_at.strftime("%Y-%m-%d %H:%M") if e.sent_at else None,
                    "已发送至": e.sent_to, "说明": e.note} for e in rows]}
    return data


def _finish(result: CampaignResult, fmt: OutputFormat, *, dry_run: bool, vault, resend: bool = False) -> None:
    report = result.report
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps(result_json(result, dry_run), ensure_ascii=False))
    else:
        _print(result, dry_run, vault, resend)
    if report is not None:
        for failure in report.failures[:SHOWN_FAILURES]:
            console_err.print(f"[red]发送失败：{failure.entry.customer_id} {failure.entry.code} → "
                              f"{escape(failure.channel)}：{escape(failure.reason)}[/red]（仍为待发送，"
                              f"campaign send {escape(result.campaign.id)} 重试）", highlight=False)
        if len(report.failures) > SHOWN_FAILURES:
            console_err.print(f"[red]……共 {len(report.failures)} 次发送失败，详见 .vaultcrm/logs/campaign.log[/red]")
        if report.failures:
            raise typer.Exit(1)


def _print(result: CampaignResult, dry_run: bool, vault, resend: bool) -> None:
    c, report = result.campaign, result.report
    counts = c.counts()
    valid = f"，有效期至 {c.valid_until}" if c.valid_until else ""
    rows = result.added if c.standing else c.rows()
    if dry_run:
        console.print(f"[bold]预览[/bold]（未写入、未发送）：{escape(c.name)}{valid}；发送渠道：{escape('、'.join(result.channels)) or '无'}")
    elif resend:
        console.print(f"活动 {escape(c.id)}（{escape(result.relpath or '')}）：{escape(c.name)}{valid}")
    elif c.standing:
        console.print(f"生日关怀（{escape(result.relpath or '')}）：本次新增 {len(result.added)} 人")
    else:
        console.print(f"[green]已创建活动[/green] {c.id}（{escape(result.relpath or '')}）：{escape(c.name)}{valid}")
    skipped = Counter(e.note or "跳过" for e in rows if e.status is SendStatus.SKIPPED)
    why = "（" + "，".join(f"{k} {n}" for k, n in skipped.items()) + "）" if skipped else ""
    if dry_run:
        will = sum(e.status is SendStatus.PENDING for e in rows)
        console.print(f"目标客户 {len(rows)} 人：将发送 {will}，跳过 {len(rows) - will}{why}")
    else:
        console.print(f"目标客户 {counts['目标客户']} 人：已发送 {counts['已发送']}，待发送 {counts['待发送']}，"
                      f"跳过 {counts['跳过']}{why}")
    if report is not None and not dry_run:
        console.print(f"本次发送 {len(report.sent)} 人，失败 {len(report.failures)} 次"
                      + (f"，发送渠道：{escape('、'.join(result.channels))}" if result.channels else ""))
    if rows and len(rows) <= SHOWN_ROWS:
        table = Table(title="名单" if not dry_run else "名单（预览，券码为示例）", title_justify="left")
        for column in ("客户编号", "客户", "优惠券", "状态", "说明"):
            table.add_column(column, overflow="fold")
        names = vault.index.customers
        for e in rows:
            customer = names.get(e.customer_id)
            table.add_row(e.customer_id, (customer.name if customer else None) or "-", e.code, e.status.value,
                          e.note or "-")
        print_table(table)
    elif rows and result.relpath:
        console.print(f"完整名单见 {escape(result.relpath)}")
    if dry_run and rows:
        sample = next((e for e in rows if e.status is SendStatus.PENDING), None)
        if sample is not None:
            customer = vault.index.customers.get(sample.customer_id)
            sample.name = (customer.name if customer else None) or sample.customer_id
            console.print("消息样例：")
            console.print(escape(compose(vault.settings, vault.root, c, sample, None, False).text), highlight=False)
