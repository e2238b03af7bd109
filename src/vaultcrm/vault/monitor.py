"""Asking a running `vaultcrm watch` which notes changed, instead of stat-ing the whole vault.

This is the client half of watch's file monitor (the server is `watch/monitor.py`), the way git asks
watchman through fsmonitor. A token names a point in the monitor's history: `<instance>:<sequence>`.
The parse cache records, with each shard it writes, the token taken before the files it holds were
looked at; a command sends the oldest of them and gets back every path changed since, plus a new token.

Where it can go wrong, the answer is simply not used and the command scans as before: no watch
running, a watch of another user, a token of an earlier watch (notes may have changed while no watch
ran), a shard without a token, a reply that is late, too large or malformed.

The socket: on Linux an abstract-namespace name derived from the vault's real path (no file is
written anywhere); elsewhere `.vaultcrm/monitor.sock` in the vault. On Linux the peer must be
this user (SO_PEERCRED), on both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from .peer import peer_is_me
from .scan import TEMP_MARK, is_ignored, scan, stamp_of

TOKEN = re.compile(r"[0-9a-f]{32}:\d{1,18}")
MAX_REPLY = 64 << 20  # bytes: a reply lists changed paths, a few MB after a very busy day
TIMEOUT = 3.0  # seconds: the watch waits up to COOKIE_WAIT for its own events to catch up
COOKIE_WAIT = 2.0
COOKIE_PREFIX = "monitor-cookie-"

Stamp = tuple[int, int, int, int]


@dataclass(frozen=True)
class Changes:
    """What changed since a token: `fresh` False means the token was not this watch's (scan instead)."""

    token: str
    fresh: bool
    files: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()  # folders created, moved or removed: everything under them is looked at


def address(root: Path) -> str | None:
    real = os.path.realpath(root)
    if sys.platform.startswith("linux"):
        return "\0vaultcrm-monitor-" + hashlib.sha256(real.encode()).hexdigest()[:32]
    path = os.path.join(real, ".vaultcrm", "monitor.sock")
    return path if len(path.encode()) < 100 and hasattr(socket, "AF_UNIX") else None


def _socket_file_is_mine(where: str) -> bool:
    if where.startswith("\0"):
        return True
    try:
        st = os.lstat(where)
    except OSError:
        return False
    return stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid()


def _safe_path(path: object) -> bool:
    return (type(path) is str and path != "" and not path.startswith("/") and "\0" not in path
            and ".." not in path.split("/"))


def parse_reply(blob: bytes) -> Changes | None:
    try:
        reply = json.loads(blob)
    except (ValueError, RecursionError):
        return None
    if type(reply) is not dict:
        return None
    token, fresh = reply.get("token"), reply.get("fresh")
    files, dirs = reply.get("files", []), reply.get("dirs", [])
    if (type(token) is not str or not TOKEN.fullmatch(token) or type(fresh) is not bool
            or type(files) is not list or type(dirs) is not list
            or not all(map(_safe_path, files)) or not all(map(_safe_path, dirs))):
        return None
    return Changes(token, fresh, tuple(files), tuple(dirs))


def ask(root: Path, since: str | None) -> Changes | None:
    """The running watch's answer for `since`, or None when there is no (trustworthy) answer."""
    where = address(root)
    if where is None or not _socket_file_is_mine(where):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(TIMEOUT)
            conn.connect(where)
            if not peer_is_me(conn):
                return None
            conn.sendall(json.dumps({"since": since}).encode() + b"\n")
            chunks, size = [], 0
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_REPLY:
                    return None
                chunks.append(chunk)
    except OSError:
        return None
    return parse_reply(b"".join(chunks))


def is_temp(relpath: str) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    return TEMP_MARK in name and name.endswith(".tmp")


def apply_changes(root: Path, files: dict[str, Stamp], changes: Changes, temp_files: list[str]) -> dict[str, Stamp]:
    """`files` (path → stamp as last seen) brought up to date with the changed paths, as `scan` would
    find them: a folder's notes are looked at again, a file is stat-ed again or dropped."""
    real_root = os.path.realpath(root)
    for folder in changes.dirs:
        prefix = folder.rstrip("/") + "/"
        for path in [p for p in files if p.startswith(prefix)]:
            del files[path]
        target = os.path.join(real_root, folder)
        if os.path.realpath(target) == os.path.normpath(target) and not is_ignored(prefix + "x.md"):
            found = scan(Path(target), temp_files)
            files.update((prefix + path, stamp) for path, stamp in found.items())
    for path in changes.files:
        full = os.path.join(real_root, path)
        if is_temp(path):
            if os.path.lexists(full):
                temp_files.append(full)
            continue
        files.pop(path, None)
        if is_ignored(path) or os.path.realpath(os.path.dirname(full)) != os.path.dirname(os.path.normpath(full)):
            continue
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            files[path] = stamp_of(st)
    return files
