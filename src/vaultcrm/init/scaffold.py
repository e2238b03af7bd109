"""`vaultcrm init`: lay out a vault — folders, an example `vaultcrm.yaml`, the dashboard — never overwriting."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..core.config import CONFIG_NAME, load_settings
from ..core.render import render
from ..errors import VaultCRMError
from ..vault.writer import FileExistsConflict, create_exclusive


def init_vault(root: Path, studio: str = "健康养生馆", today: dt.date | None = None,
               upgrade: bool = False) -> tuple[list[str], list[str]]:
    """(created, kept): what was made, and what already existed and was left alone.

    `upgrade` is for a vault set up by an earlier version: it must already have its `vaultcrm.yaml`, and gets
    what this version adds (folders, Bases views); nothing that exists is touched, changed or not."""
    if upgrade and not (root / CONFIG_NAME).is_file():
        raise VaultCRMError(f"{root} 还不是 vaultcrm 库（没有 {CONFIG_NAME}）；新建请运行 vaultcrm init")
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
    # The dashboard links only to notes that exist: the Bases views this init writes just below.
    views = [(name, name.removesuffix(".base") + "视图") for name, _, _ in bases(folders)]
    make(folders.dashboard, render("dashboard.md.j2", today=(today or dt.date.today()).isoformat(), views=views))
    overrides = root / folders.templates
    for name, template, folder in bases(folders):
        make(name, render(template, overrides, in_folder=f"file.inFolder({json.dumps(folder, ensure_ascii=False)})"))
    return created, kept


def bases(folders) -> list[tuple[str, str, str]]:
    """(file, template, folder it shows) of the Obsidian Bases views `init` writes at the vault's top."""
    return [("预约.base", "appointments.base.j2", folders.appointments),
            ("客户.base", "customers.base.j2", folders.customers),
            ("跟进.base", "followups.base.j2", folders.followups)]


__all__ = ["bases", "init_vault"]
