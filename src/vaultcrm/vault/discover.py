"""Which vault a command works in, when no `--vault` names it (light: the `vaultcrm` program asks this
before it imports the command line's libraries)."""

from __future__ import annotations

import os
from pathlib import Path


def find_vault(start: Path) -> tuple[Path, str] | None:
    """(folder, where it came from): `$VAULTCRM_VAULT`, else the nearest folder upward with
    `vaultcrm.yaml` or `.obsidian/`; None when there is neither (never the current folder by default)."""
    env = os.environ.get("VAULTCRM_VAULT")
    if env:
        return Path(env).expanduser(), "$VAULTCRM_VAULT"
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "vaultcrm.yaml").is_file() or (folder / ".obsidian").is_dir():
            return folder, "向上查找"
    return None
