"""`vaultcrm stats` without --date/--month: bring every derived note up to date in one pass.

What the owner expects from "更新统计" is more than the statistics notes: the dashboard's 服务日志
block and the customer profiles' 标签, 会员等级 and 积分 are derived from the same records, so they
are refreshed together. Each writer leaves a note that would not change untouched, and a run that finds
nothing changed since the last finished one (stats/freshness.py) renders nothing at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..core.loader import Vault
from ..customers.profiles import refresh_profiles
from ..services.log_table import update_service_log
from . import freshness
from .notes import update_statistics


@dataclass
class Refreshed:
    written: list[str]  # statistics notes and the dashboard, as vault-relative paths
    profiles: list[str]  # customer profiles whose tags, tier or points changed
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (profile ID, why) left for the next run


def refresh_all(vault: Vault, today: dt.date) -> Refreshed:
    settings = freshness.settings_json(vault.settings)
    code = freshness.code_stamps(vault.root / vault.settings.folders.templates)
    before = freshness.digest(vault.files, settings, today, code)
    if freshness.read_digest(vault.root) == before:
        return Refreshed([], [])
    freshness.save_digest(vault.root, None)  # from here until this run finishes, no run may skip
    written = update_statistics(vault, today=today)
    if update_service_log(vault, today) and vault.settings.folders.dashboard not in written:
        written.append(vault.settings.folders.dashboard)
    profiles = refresh_profiles(vault, today)
    if not profiles.skipped:
        rewritten = [*written, *(customer.path for customer, _ in profiles.changed)]
        after = freshness.after_writes(vault.root, vault.files, rewritten)
        freshness.save_digest(vault.root, freshness.digest(after, settings, today, code))
    return Refreshed(written, [customer.id for customer, _ in profiles.changed],
                     [(customer.id, why) for customer, why in profiles.skipped])
