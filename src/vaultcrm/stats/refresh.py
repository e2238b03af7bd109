"""`vaultcrm stats` without --date/--month: bring every derived note up to date in one pass.

What the owner expects from "更新统计" is more than the statistics notes: the dashboard's 服务日志
block and the customer profiles' 标签, 会员等级 and 积分 are derived from the same records, so they
are refreshed together. Each writer leaves a note that would not change untouched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..core.loader import Vault
from ..customers.profiles import update_tags
from ..services.log_table import update_service_log
from .notes import update_statistics


@dataclass
class Refreshed:
    written: list[str]  # statistics notes and the dashboard, as vault-relative paths
    profiles: list[str]  # customer profiles whose tags, tier or points changed


def refresh_all(vault: Vault, today: dt.date) -> Refreshed:
    written = update_statistics(vault, today=today)
    if update_service_log(vault, today) and vault.settings.folders.dashboard not in written:
        written.append(vault.settings.folders.dashboard)
    return Refreshed(written, update_tags(vault, today))
