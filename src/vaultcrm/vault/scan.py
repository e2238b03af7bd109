"""Find the vault's Markdown files, skipping dot-folders (`.obsidian/`, `.vaultcrm/`, `.trash/`, `.git/`)."""

from __future__ import annotations

import atexit
import os
import select
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import msgspec

from .lock import LockStamp, lock_stamps
from .shards import Stamp, filed_stamps
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
         unreadable: list[tuple[str, OSError]] | None = None,
         part: tuple[int, int] = (0, 1)) -> dict[str, tuple[int, int, int, int]]:
    """Every note as relative path → its stamp (`stamp_of`). Symlinks are not followed.

    vaultcrm's own temp files left by a killed process are collected into `temp_files` if given;
    folders and entries that cannot be listed or looked at, into `unreadable` (relative path, error).
    `part` (k, n): only the notes whose relative path hashes to k of n, for n processes that scan one
    vault together (forked from one process, so that they hash alike); each walks every folder.
    Each folder is opened once and its notes are looked at relative to it (one path step each).
    """
    k, n = part
    found: dict[str, tuple[int, int, int, int]] = {}
    stack = [("", str(root))]
    stat = os.stat
    while stack:
        prefix, folder = stack.pop()
        try:
            fd = os.open(folder, _DIR_FLAGS if prefix else _ROOT_FLAGS)  # a folder swapped for a link: not followed
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((prefix.rstrip("/") or ".", exc))
            continue
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith(".") or name in SKIP_DIRS:
                        if temp_files is not None and TEMP_MARK in name and name.endswith(".tmp"):
                            temp_files.append(os.path.join(folder, name))
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((prefix + name + "/", os.path.join(folder, name)))
                        elif name.endswith(".md"):
                            rel = prefix + name
                            if (n == 1 or hash(rel) % n == k) and entry.is_file(follow_symlinks=False):
                                found[rel] = stamp_of(stat(name, dir_fd=fd, follow_symlinks=False))
                    except OSError as exc:
                        if unreadable is not None and not isinstance(exc, FileNotFoundError):
                            unreadable.append((prefix + name, exc))
                        continue
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((prefix.rstrip("/") or ".", exc))
        finally:
            os.close(fd)
    return found


_ROOT_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = _ROOT_FLAGS | getattr(os, "O_NOFOLLOW", 0)


def _parts() -> int:
    """Children for a background scan: one per core the loading process leaves free, at most two."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores - 1))


class BackgroundScan:
    """`scan(root)` in forked children while this process does other work (importing the command,
    decoding the parse cache, building the index from it). Each child then compares what it found
    with the stamps the cache's files hold (`shards.filed_stamps`), so that only the differences come back: the
    usual answer is "none". With cores to spare the scan is split between children (`scan`'s `part`).
    Only where fork is safe: on Linux, with no other thread running. `result()` falls back to a scan
    here whenever a child fails or compared with other stamps than this process has.
    """

    def __init__(self, root: Path, parts: int | None = None):
        self.root = root
        self.children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
        if not sys.platform.startswith("linux") or threading.active_count() != 1:
            return
        parts = parts or _parts()
        for k in range(parts):
            try:
                read, write = os.pipe()
            except OSError:
                break
            try:
                pid = os.fork()
            except OSError:
                os.close(read)
                os.close(write)
                break
            if pid == 0:  # the child: nothing but its part of the scan, then out without any exit handler
                code = 1
                try:
                    os.close(read)
                    for _, other in self.children:
                        os.close(other)
                    with os.fdopen(write, "wb") as out:
                        out.write(_differences(root, k, parts))
                    code = 0
                finally:
                    os._exit(code)
            os.close(write)
            self.children.append((pid, read))
        if len(self.children) != parts:  # a part missing: the scan is done here
            self.cancel()

    def answered(self) -> bool:
        """Every child has written its answer (or ended): `result()` would not wait."""
        try:
            ready, _, _ = select.select([fd for _, fd in self.children], [], [], 0)
        except (OSError, ValueError):
            return True
        return len(ready) == len(self.children)

    def result(self, temp_files: list[str], known: dict[str, Stamp], filed: list[bytes | None]
               ) -> dict[str, Stamp]:
        """Every note and its stamp, as `scan` gives them: `known` itself when nothing differs from it.
        `known` and `filed` are the cache's stamps as this process read them (`Cache.stamps()`,
        `Cache.filed`): the children's differences count only if they compared with the very same."""
        changed: dict[str, Stamp] = {}
        gone: list[str] = []
        temp: list[str] = []
        whole = bool(self.children)
        for pid, fd in self.children:
            with os.fdopen(fd, "rb") as pipe:
                blob = pipe.read()
            ended = _reap(pid)
            if ended in (0, None) and whole:  # None: reaped by the system (SIGCHLD ignored); the blob tells
                try:
                    more_changed, more_gone, more_temp, their_filed = _RESULT.decode(blob)
                except msgspec.DecodeError:
                    whole = False
                else:
                    whole = their_filed == filed  # the very stamps compared with: else their answer is not ours
                    changed.update(more_changed)
                    gone.extend(more_gone)
                    temp.extend(more_temp)
            else:
                whole = False
        self.children = []
        if not whole:
            return scan(self.root, temp_files)
        temp_files.extend(temp)
        if not changed and not gone:
            return known
        found = dict(known)
        for path in gone:
            found.pop(path, None)
        found.update(changed)
        return found

    def cancel(self) -> None:
        """The answer is not needed after all (the file monitor answered): end the children."""
        for pid, fd in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.close(fd)
            _reap(pid)
        self.children = []


def _differences(root: Path, k: int, n: int) -> bytes:
    """In child k of n: its part of the scan as differences from the stamps the cache holds (changed or
    new notes; notes of its part the cache holds that are gone), the temp files found (child 0 collects
    them) and the cache's stamps as filed, which the parent checks are the ones it read."""
    temp: list[str] = []
    found = scan(root, temp if k == 0 else None, part=(k, n))
    known, as_filed = filed_stamps(root)
    changed: dict[str, Stamp] = {}
    gone: list[str] = []
    if n > 1 or found != known:  # one comparison, in C, for the usual answer: nothing differs
        changed = dict(found.items() - known.items())
        gone = [path for path in known.keys() - found.keys() if n == 1 or hash(path) % n == k]
    return msgspec.msgpack.encode((changed, gone, temp, as_filed))


_ahead: tuple[str, BackgroundScan, dict[str, LockStamp]] | None = None  # `scan_ahead`'s, until a load takes it
ahead_allowed = True  # False in a warm worker's command: its vault is in memory, kept current by a watch


def scan_ahead(root: Path) -> None:
    """Start the scan of `root` now, for this process's next load of it to take over (`take_ahead`):
    the program (`launch.run`) calls this before it imports the command line, so that the scan runs
    on another core meanwhile. Not while a lock of the vault is held, or was taken a moment ago
    (`lock_stamps`)."""
    global _ahead
    if _ahead is not None or not ahead_allowed:
        return
    locks = lock_stamps(root)
    if locks is not None:
        _ahead = (str(root), BackgroundScan(root), locks)
        atexit.register(_drop_ahead)


def take_ahead(root: Path) -> tuple[BackgroundScan, dict[str, LockStamp]] | None:
    """The scan `scan_ahead` started for `root`, with the lock stamps taken before it; the caller ends it
    (`cancel`) if it cannot use it."""
    global _ahead
    ahead, _ahead = _ahead, None
    if ahead is None:
        return None
    if ahead[0] != str(root):
        ahead[1].cancel()
        return None
    return ahead[1], ahead[2]


def _drop_ahead() -> None:
    """At exit: a scan started ahead of a load that never came (the command stopped before) is ended."""
    global _ahead
    if _ahead is not None:
        _ahead[1].cancel()
        _ahead = None


def _reap(pid: int) -> int | None:
    """Wait for the child; its exit code, or None when the system reaped it already (SIGCHLD ignored,
    as in the warm worker)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)


_RESULT = msgspec.msgpack.Decoder(tuple[dict[str, Stamp], list[str], list[str], list[Optional[bytes]]])
