"""Find the vault's Markdown files, skipping dot-folders (`.obsidian/`, `.vaultcrm/`, `.trash/`, `.git/`)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import msgspec

from .writer import TEMP_MARK  # in the dot-names of vaultcrm's own temp files

SKIP_DIRS = frozenset({".trash", ".obsidian", ".vaultcrm", ".git", "node_modules"})


def is_ignored(relpath: str) -> bool:
    """True for paths vaultcrm never reads: inside dot-folders, or dot/temporary files themselves."""
    parts = relpath.replace("\\", "/").split("/")
    name = parts[-1]
    if any(p.startswith(".") or p in SKIP_DIRS for p in parts):
        return True
    return not name.endswith(".md") or name.endswith((".tmp", "~")) or name.startswith("~")


def stamp_of(st: os.stat_result) -> tuple[int, int, int, int]:
    """A note's stamp from its (l)stat: (mtime_ns, size, ctime_ns, inode), what the cache and the loader
    compare. mtime and size alone miss a same-size edit whose mtime a sync tool restored; the ctime
    (which no program can set back) and the inode (new on a save by rename) do not."""
    return st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_ino


def scan(root: Path, temp_files: list[str] | None = None,
         unreadable: list[tuple[str, OSError]] | None = None) -> dict[str, tuple[int, int, int, int]]:
    """Every note as relative path → its stamp (`stamp_of`). Symlinks are not followed.

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
                        found[prefix + name] = stamp_of(entry.stat(follow_symlinks=False))
                except OSError as exc:
                    if unreadable is not None and not isinstance(exc, FileNotFoundError):
                        unreadable.append((prefix + name, exc))
                    continue
    return found


class BackgroundScan:
    """`scan(root)` in a forked child while this process does other work (decoding the parse cache):
    on a large vault the two take about as long, and a second core does one while the first does the
    other. Only where fork is safe: on Linux, with no other thread running. `result()` falls back to a
    scan here whenever the child fails.
    """

    def __init__(self, root: Path):
        self.root = root
        self.pid = 0
        self.fd = -1
        if not sys.platform.startswith("linux") or threading.active_count() != 1:
            return
        try:
            read, write = os.pipe()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: nothing but the scan, then out without running any exit handler
            code = 1
            try:
                os.close(read)
                temp: list[str] = []
                blob = msgspec.msgpack.encode((scan(root, temp), temp))
                with os.fdopen(write, "wb") as out:
                    out.write(blob)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        self.pid, self.fd = pid, read

    def result(self, temp_files: list[str]) -> dict[str, tuple[int, int, int, int]]:
        if self.pid:
            with os.fdopen(self.fd, "rb") as pipe:
                blob = pipe.read()
            self.fd = -1
            ended = _reap(self.pid)
            self.pid = 0
            if ended in (0, None):  # None: reaped by the system (SIGCHLD ignored); the blob tells
                try:
                    found, temp = _RESULT.decode(blob)
                except msgspec.DecodeError:
                    pass
                else:
                    temp_files.extend(temp)
                    return found
        return scan(self.root, temp_files)

    def cancel(self) -> None:
        """The answer is not needed after all (the file monitor answered): end the child."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            os.close(self.fd)
            _reap(self.pid)
            self.pid, self.fd = 0, -1


def _reap(pid: int) -> int | None:
    """Wait for the child; its exit code, or None when the system reaped it already (SIGCHLD ignored,
    as in the warm worker)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)


_RESULT = msgspec.msgpack.Decoder(tuple[dict[str, tuple[int, int, int, int]], list[str]])
