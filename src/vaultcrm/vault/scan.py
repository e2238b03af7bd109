"""Find the vault's Markdown files, skipping dot-folders (`.obsidian/`, `.vaultcrm/`, `.trash/`, `.git/`)."""

from __future__ import annotations

import os
from pathlib import Path

from .writer import TEMP_MARK  # in the dot-names of vaultcrm's own temp files

SKIP_DIRS = frozenset({".trash", ".obsidian", ".vaultcrm", ".git", "node_modules"})


def is_ignored(relpath: str) -> bool:
    """True for paths vaultcrm never reads: inside dot-folders, or dot/temporary files themselves."""
    parts = relpath.replace("\\", "/").split("/")
    name = parts[-1]
    if any(p.startswith(".") or p in SKIP_DIRS for p in parts):
        return True
    return not name.endswith(".md") or name.endswith((".tmp", "~")) or name.startswith("~")


def scan(root: Path, temp_files: list[str] | None = None,
         unreadable: list[tuple[str, OSError]] | None = None) -> dict[str, tuple[int, int, int, int]]:
    """Every note as relative path → (mtime_ns, size, ctime_ns, inode). Symlinks are not followed.

    mtime and size alone miss a same-size edit whose mtime a sync tool restored; the ctime (which no
    program can set back) and the inode (new on a save by rename) do not.

    vaultcrm's own temp files left by a killed process are collected into `temp_files` if given;
    folders and entries that cannot be listed or looked at, into `unreadable` (relative path, error).
    """
    found: dict[str, tuple[int, int, int, int]] = {}
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = os.scandir(folder)
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((prefix.rstrip("/") or ".", exc))
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name in SKIP_DIRS:
                    if temp_files is not None and TEMP_MARK in name and name.endswith(".tmp"):
                        temp_files.append(entry.path)
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((prefix + name + "/", entry.path))
                    elif name.endswith(".md") and entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        found[prefix + name] = (st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino)
                except OSError as exc:
                    if unreadable is not None and not isinstance(exc, FileNotFoundError):
                        unreadable.append((prefix + name, exc))
                    continue
    return found
