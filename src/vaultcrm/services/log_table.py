"""The dashboard's 服务日志 table, regenerated from the SRV notes.

The dashboard (`服务追踪表.md`) is the owner's own note: only the block between vaultcrm's 服务日志
markers is rewritten, everything around it stays byte-identical, and the file is written only when
the table changed. `log` calls `update_service_log` after each service; `stats` and `watch` may too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..core.index import VaultIndex
from ..core.loader import Vault
from ..core.render import render
from ..errors import ConcurrentChangeError, VaultCRMError
from ..models import ServiceRecord
from ..vault.blocks import replace_block
from ..vault.writer import (
    ConcurrentEditError,
    FileExistsConflict,
    UnsafePathError,
    create_exclusive,
    read_stamped,
    safe_path,
    write_atomic,
)

BLOCK = "服务日志"
TEMPLATE = "service_log.md.j2"


def recent_services(index: VaultIndex, today: dt.date, days: int,
                    written: Iterable[ServiceRecord] = ()) -> list[ServiceRecord]:
    """SRV dated within the last `days` days up to `today` (both ends included), newest first.

    `written`: service records created since the index was built.
    """
    since = today - dt.timedelta(days=max(days, 1) - 1)
    chosen = {s.id: s for s in index.services_between(since, today)}
    chosen.update((s.id, s) for s in written if s.basics.date is not None and since <= s.basics.date <= today)
    return sorted(chosen.values(), key=lambda s: (s.basics.date, s.basics.time or "", s.id), reverse=True)


def render_service_log(vault: Vault, today: dt.date, written: Iterable[ServiceRecord] = ()) -> str:
    services = recent_services(vault.index, today, vault.settings.service_log_days, written)
    return render(TEMPLATE, vault.root / vault.settings.folders.templates, services=services)


def update_service_log(vault: Vault, today: dt.date, *, written: Iterable[ServiceRecord] = ()) -> bool:
    """Rewrite the dashboard's 服务日志 block; True when the file changed.

    `written` are service records created since `vault` was loaded (as `log` does). A missing dashboard is created from `dashboard.md.j2`. Raises ConcurrentChangeError when the note was
    saved (in Obsidian, say) while we were writing; the next run catches up.
    """
    try:
        path = safe_path(vault.root, vault.settings.folders.dashboard)
    except UnsafePathError as exc:
        raise VaultCRMError(f"总览笔记的路径不可用：{vault.settings.folders.dashboard}（{exc}）") from None
    content = render_service_log(vault, today, written)
    try:
        raw, stamp = read_stamped(path)
    except FileNotFoundError:
        fresh = render("dashboard.md.j2", vault.root / vault.settings.folders.templates, today=today.isoformat())
        try:
            create_exclusive(path, replace_block(fresh, BLOCK, content).encode("utf-8"))
            return True
        except FileExistsConflict:  # created a moment ago by someone else: update theirs
            raw, stamp = read_stamped(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VaultCRMError(f"{vault.settings.folders.dashboard} 不是 UTF-8 编码，服务日志未更新") from None
    try:
        return write_atomic(path, replace_block(text, BLOCK, content).encode("utf-8"), expect=stamp)
    except ConcurrentEditError:
        raise ConcurrentChangeError(f"{vault.settings.folders.dashboard} 正在被修改，服务日志未更新；请稍后重试") from None


__all__ = ["BLOCK", "recent_services", "render_service_log", "update_service_log"]
