"""Option values shared by commands: Chinese words and English aliases are both accepted."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import VaultCRMError
from ..values import parse_datetime, parse_minutes


class UsageError(VaultCRMError):
    exit_code = 2


class OutputFormat(str, Enum):
    TEXT = "text"
    JSON = "json"
    MD = "md"
    CSV = "csv"


_FORMAT_ALIASES = {"text": "text", "文本": "text", "txt": "text", "json": "json", "md": "md", "markdown": "md",
                   "csv": "csv", "表格": "csv"}


def parse_format(value: str, allowed: set[OutputFormat]) -> OutputFormat:
    key = _FORMAT_ALIASES.get(value.strip().lower())
    fmt = OutputFormat(key) if key else None
    if fmt is None or fmt not in allowed:
        names = "、".join(sorted(f.value for f in allowed))
        raise UsageError(f"--format 不支持「{value}」，可选：{names}")
    return fmt


def interactive() -> bool:
    """Prompts only when a person is typing: never in scripts, pipes or cron."""
    return sys.stdin.isatty()


def parse_option(value: str | None, parser: Callable, option: str):
    """An option's value through a normaliser; its ValueError becomes a usage error naming the option."""
    if value is None or not value.strip():
        return None
    try:
        return parser(value)
    except ValueError as exc:
        raise UsageError(f"{option}：{exc}") from None


def positive_minutes(value: str) -> int:
    """A duration typed on the command line: `0` or less is a mistake, never "the default"."""
    minutes = parse_minutes(value)
    if minutes is None or minutes <= 0:
        raise ValueError(f"时长应大于 0 分钟，收到「{value}」")
    return minutes


YES = frozenset({"y", "yes", "是", "好", "确认", "对"})
NO = frozenset({"n", "no", "否", "不", "取消"})


def confirm(question: str, *, default: bool) -> None:
    """Ask on a terminal; go on with yes, stop (typer.Abort → 已取消, exit 1) with no — in Chinese,
    where click's own confirm prompts `[y/N]` and complains `Error: invalid input`."""
    hint = "（是/否，直接回车为“是”）" if default else "（是/否，直接回车为“否”）"
    while True:
        answer = typer.prompt(f"{question}{hint}", default="", show_default=False).strip().lower()
        if not answer:
            answer_yes = default
        elif answer in YES:
            answer_yes = True
        elif answer in NO:
            answer_yes = False
        else:
            typer.echo("请回答 是 或 否（也可输入 y 或 n）", err=True)
            continue
        if not answer_yes:
            raise typer.Abort()
        return


def require_option(value: str | None, option: str, label: str, parser: Callable = str.strip):
    """The option's value, asked for on a terminal when missing; a usage error otherwise."""
    if value is not None and value.strip():
        return parse_option(value, parser, option)
    if not interactive():
        raise UsageError(f"缺少 {option}（{label}）")

    while True:  # asked again until usable; the complaint in Chinese (click's own prompt says "Error: …")
        text = typer.prompt(label, default="", show_default=False)
        try:
            parsed = parser(text) if text.strip() else None
        except ValueError as exc:
            typer.echo(f"错误：{exc}", err=True)
            continue
        if parsed is not None:
            return parsed
        typer.echo(f"错误：{label}不能为空", err=True)


AT_HELP = "把此时当作“现在”：'YYYY-MM-DD HH:MM'，只写日期即当天 00:00（默认：现在）"
#: `--at` means the same on every command that has it: the moment the command runs at (cron catch-up, tests).
AtOption = Annotated[Optional[str], typer.Option("--at", help=AT_HELP)]


def parse_at(value: str | None) -> dt.datetime | None:
    """`--at 'YYYY-MM-DD HH:MM'`: the "now" a command runs at (for cron catch-up and for tests)."""
    return parse_option(value, parse_datetime, "--at")


def json_value(value):
    """A model dump as JSON holds it: enums as their Chinese words, money as numbers, times as text."""
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral() else float(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return value
