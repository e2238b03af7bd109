"""Option values shared by commands: Chinese words and English aliases are both accepted."""

from __future__ import annotations

from enum import Enum

from ..errors import VaultCRMError


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
