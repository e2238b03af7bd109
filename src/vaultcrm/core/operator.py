"""Who made a change, as the notes' 状态更新 and the audit log record it."""

from __future__ import annotations

import getpass

from .config import Settings


def operator_name(given: str | None, settings: Settings) -> str:
    """Who made a change: --by, else the config's 操作人, else the logged-in user."""
    if given and given.strip():
        return given.strip()
    if settings.operator:
        return settings.operator
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database (a bare container)
        return "未知"
