"""New files are no more readable than the vault's notes; backups and the audit log are private always.

A studio that keeps health data private (`chmod 600` on its notes, or a vault folder at 0700) must not
find a cache, a log or a new note that the rest of the machine can read because the shell's umask is
022. Rather than pass a mode to every `open`, `mkdir` and zip writer (the cache, locks, IDs, logs,
exports, temp files…), vaultcrm narrows the process umask once, when a command opens its vault: the
classes of users (group, others) the vault withholds read access from get no access to anything
vaultcrm creates. It only ever narrows, never widens what the user's umask allows. Existing files keep
their mode (`write_atomic` carries it over).

What "the vault withholds" is read from a few stats, once per process: the vault folder,
`vaultcrm.yaml` and a handful of notes in the vault folder and its top-level folders. If any of them
denies group (or others) read access, so does every file and folder vaultcrm creates.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600  # backups and the audit log, whatever the vault's notes are
_SAMPLE_NOTES = 4  # notes looked at per folder
_SAMPLE_FOLDERS = 12  # top-level folders looked at
_applied: dict[str, int] = {}


def _sample(root: Path) -> list[int]:
    """Permission bits of the vault folder, its settings and a few of its notes (symlinks not followed)."""
    modes: list[int] = []

    def add(path: str | os.PathLike) -> None:
        try:
            modes.append(stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode))
        except OSError:
            pass

    add(root)
    add(root / "vaultcrm.yaml")
    folders = [str(root)]
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if len(folders) > _SAMPLE_FOLDERS:
                    break
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
    except OSError:
        pass
    for folder in folders:
        found = 0
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(".md") and not entry.name.startswith(".") \
                            and entry.is_file(follow_symlinks=False):
                        add(entry.path)
                        found += 1
                        if found >= _SAMPLE_NOTES:
                            break
        except OSError:
            continue
    return modes


def withheld(root: str | os.PathLike) -> int:
    """The umask bits the vault asks for: 0o070 when it hides notes from the group, 0o007 from others."""
    mask = 0
    for mode in _sample(Path(root)):
        if not mode & stat.S_IRGRP:
            mask |= 0o070
        if not mode & stat.S_IROTH:
            mask |= 0o007
    return mask


def follow_vault(root: str | os.PathLike) -> int:
    """Narrow the process umask to what the vault at `root` withholds; the umask now in force.

    Cheap after the first call for a vault (the answer is remembered for the life of the process).
    """
    key = os.fspath(root)
    if key not in _applied:
        _applied[key] = withheld(root)
    current = os.umask(0o077)  # the only way to read it; the stricter value is what we set meanwhile
    wanted = current | _applied[key]
    os.umask(wanted)
    return wanted


def make_private(fd: int) -> None:
    """Owner-only access to an open file (a backup, the audit log), whatever the umask or the old mode."""
    os.fchmod(fd, PRIVATE_FILE)


__all__ = ["PRIVATE_FILE", "follow_vault", "make_private", "withheld"]
