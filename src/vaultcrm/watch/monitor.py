"""The file monitor `vaultcrm watch` offers the other commands (the client half is `vault/monitor.py`).

Every file event the watch receives is numbered; the change log keeps, for each path, the number of its
last event. A command asks over a local socket "what changed since token T?". Before answering, the
server writes a cookie file into `.vaultcrm/` and waits for its event: events arrive in order, so once
the cookie is seen every change made before the question has been logged (git's fsmonitor daemon does
the same). A path changed after the cookie gets a later number and is in the next answer.

The kernel may drop events when its queue overflows (watchdog then logs a warning and rebuilds its
watches). The log cannot know what was lost, so it starts a new instance: every token issued so far
stops being fresh and the next command, and the watch itself, scan the vault once.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import stat
import threading
from pathlib import Path

from ..vault.monitor import COOKIE_PREFIX, COOKIE_WAIT, Changes, address, is_temp
from ..vault.peer import peer_is_me
from ..vault.scan import SKIP_DIRS, is_ignored

MAX_REQUEST = 4096


def _ignored_dir(relpath: str) -> bool:
    return any(p.startswith(".") or p in SKIP_DIRS for p in relpath.split("/"))


class ChangeLog:
    """Paths changed while the watch runs, each with the number of its latest event. Thread-safe."""

    def __init__(self, root: Path):
        self.root = str(root)
        self._lock = threading.Lock()
        self._cookies: dict[str, threading.Event] = {}
        self._reset()

    def _reset(self) -> None:
        self.instance = secrets.token_hex(16)
        self.seq = 0
        self._files: dict[str, int] = {}
        self._dirs: dict[str, int] = {}

    def token(self) -> str:
        with self._lock:
            return f"{self.instance}:{self.seq}"

    def note(self, event) -> None:
        """Log a watchdog event (called on the observer's thread, in event order)."""
        raw = [os.fsdecode(event.src_path)] + ([os.fsdecode(event.dest_path)] if event.dest_path else [])
        with self._lock:
            for path in raw:
                rel = os.path.relpath(path, self.root).replace(os.sep, "/")
                if rel == "." or rel.startswith("../"):
                    continue
                name = rel.rsplit("/", 1)[-1]
                if name.startswith(COOKIE_PREFIX) and rel == f".vaultcrm/{name}":
                    seen = self._cookies.get(name)
                    if seen is not None:
                        seen.set()
                    continue
                if event.is_directory:
                    if not _ignored_dir(rel):
                        self.seq += 1
                        self._dirs[rel] = self.seq
                elif not is_ignored(rel) or (is_temp(rel) and not _ignored_dir(rel.rpartition("/")[0])):
                    self.seq += 1
                    self._files[rel] = self.seq

    def lost(self) -> None:
        """Events were dropped: nothing said so far can be trusted."""
        with self._lock:
            self._reset()

    def since(self, token: str | None) -> Changes:
        with self._lock:
            now = f"{self.instance}:{self.seq}"
            instance, _, number = (token or "").partition(":")
            if instance != self.instance or not number.isdigit() or int(number) > self.seq:
                return Changes(now, False)
            seq = int(number)
            return Changes(now, True, tuple(p for p, n in self._files.items() if n > seq),
                           tuple(p for p, n in self._dirs.items() if n > seq))

    def wait_for_cookie(self) -> bool:
        """Write a cookie into `.vaultcrm/` and wait until its event has come through the log."""
        name = COOKIE_PREFIX + secrets.token_hex(8)
        seen = threading.Event()
        with self._lock:
            self._cookies[name] = seen
        path = os.path.join(self.root, ".vaultcrm", name)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600))
            return seen.wait(COOKIE_WAIT)
        except OSError:
            return False
        finally:
            with self._lock:
                self._cookies.pop(name, None)
            try:
                os.unlink(path)
            except OSError:
                pass


class _OverflowAlarm(logging.Handler):
    """watchdog reports a dropped-events overflow only as a log warning; that is our signal."""

    def __init__(self, log: ChangeLog):
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.log.lost()


class MonitorServer:
    """Answers the commands' questions on the vault's socket, one thread per question."""

    def __init__(self, root: Path, log: ChangeLog):
        self.root, self.log = Path(root), log
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._alarm = _OverflowAlarm(log)
        self._where: str | None = None

    def start(self) -> bool:
        """Listen; False (and the commands simply scan) when the socket cannot be had."""
        logging.getLogger("watchdog.observers").addHandler(self._alarm)
        where = address(self.root)
        if where is None:
            return False
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if not where.startswith("\0"):
                if _answers(where):
                    sock.close()
                    return False  # another watch of this vault already answers
                _remove_stale_socket(where)
                old = os.umask(0o177)
                try:
                    sock.bind(where)
                finally:
                    os.umask(old)
            else:
                sock.bind(where)
            sock.listen(16)
            sock.settimeout(0.5)
        except OSError:
            sock.close()  # another watch of this vault already answers
            return False
        self._sock, self._where = sock, where
        self._thread = threading.Thread(target=self._serve, name="vaultcrm-monitor", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        logging.getLogger("watchdog.observers").removeHandler(self._alarm)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()
            if self._where and not self._where.startswith("\0"):
                _remove_stale_socket(self._where)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(COOKIE_WAIT + 1)
                if not peer_is_me(conn):
                    return
                request = b""
                while not request.endswith(b"\n") and len(request) <= MAX_REQUEST:
                    chunk = conn.recv(MAX_REQUEST)
                    if not chunk:
                        break
                    request += chunk
                since = json.loads(request).get("since") if len(request) <= MAX_REQUEST else None
                if not self.log.wait_for_cookie():
                    return  # no answer: the command scans
                changes = self.log.since(since if isinstance(since, str) else None)
                conn.sendall(json.dumps({"token": changes.token, "fresh": changes.fresh,
                                         "files": list(changes.files), "dirs": list(changes.dirs)},
                                        ensure_ascii=False).encode())
            except (OSError, ValueError, AttributeError):
                return


def _answers(where: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(where)
        except OSError:
            return False
    return True


def _remove_stale_socket(where: str) -> None:
    try:
        if stat.S_ISSOCK(os.lstat(where).st_mode):
            os.unlink(where)
    except OSError:
        pass
