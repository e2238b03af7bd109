"""`vaultcrm init`: lay out a vault — folders, an example `vaultcrm.yaml`, the dashboard — never overwriting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..core.config import CONFIG_NAME, load_settings
from ..core.render import render
from ..vault.writer import FileExistsConflict, create_exclusive


def init_vault(root: Path, studio: str = "健康养生馆", today: dt.date | None = None) -> tuple[list[str], list[str]]:
    """(created, kept): what was made, and what already existed and was left alone."""
    created: list[str] = []
    kept: list[str] = []
    root.mkdir(parents=True, exist_ok=True)

    def make(relpath: str, text: str) -> None:
        try:
            create_exclusive(root / relpath, text.encode("utf-8"))
            created.append(relpath)
        except FileExistsConflict:
            kept.append(relpath)

    make(CONFIG_NAME, render("vaultcrm.yaml.j2", studio=studio))
    settings, _ = load_settings(root)
    folders = settings.folders
    for folder in (folders.appointments, folders.services, folders.followups, folders.customers,
                   folders.reminders, folders.daily, folders.monthly, ".vaultcrm"):
        path = root / folder
        if path.is_dir():
            kept.append(folder + "/")
        else:
            path.mkdir(parents=True, exist_ok=True)
            created.append(folder + "/")
    make(folders.dashboard, render("dashboard.md.j2", today=(today or dt.date.today()).isoformat()))
    return created, kept


__all__ = ["init_vault"]
