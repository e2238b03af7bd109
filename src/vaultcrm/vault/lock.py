"""Inter-process locks for the few things two vaultcrm processes must not do at once.

Two `book` commands must not hand out the same ID, and a slow cron `remind` must not overlap the next
one. `fcntl.flock` fits: the kernel drops the lock when the holder dies (even by SIGKILL), so there are
no stale lock files to clean up, and the lock file itself is never deleted (deleting it would let two
processes lock two different files of the same name).

A lock is per open file, not per process: taking the same lock twice in one process waits on itself
until the timeout. Hold a lock for one short step, never around another acquire of the same name.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import time
from pathlib import Path

from .state import READ_FLAGS, clear_junk

__all__ = ["FileLock", "LockTimeout", "lock_path", "lock_stamps", "untouched_since"]

LockStamp = tuple[int, int, int, int]  # mtime_ns, ctime_ns, size, inode of a lock file
#: lock file name → its stamp just before this process took it, while this process holds it
HELD: dict[str, LockStamp] = {}
RACY_NS = 50_000_000  # a lock file changed this recently could change again unseen (coarse file clocks)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class LockTimeout(TimeoutError):
    """Another process held the lock for longer than we were willing to wait."""

    def __init__(self, name: str, path: Path, timeout: float, holder: str | None) -> None:
        self.name, self.path, self.timeout, self.holder = name, path, timeout, holder
        who = f"（pid {holder}）" if holder else ""
        super().__init__(
            f"等待锁“{name}”超过 {timeout:g} 秒：另一个 vaultcrm 进程{who}仍在运行"
            f"（例如定时任务的 remind 或另一个 book）。请稍后重试。锁文件：{path}"
        )


def _folder(vault_root: str | os.PathLike) -> Path:
    return Path(vault_root) / ".vaultcrm" / "locks"


def lock_path(vault_root: str | os.PathLike, name: str) -> Path:
    if not _NAME.match(name):
        raise ValueError(f"invalid lock name: {name!r}")
    return _folder(vault_root) / f"{name}.lock"


_OPEN_FLAGS = (os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0))


def _open(path: Path) -> int:
    """The lock file, opened without following a symlink or blocking on a FIFO planted at its path
    (such things are removed: the folder is synced). A folder there is locked itself."""
    for _ in range(5):
        try:
            fd = os.open(path, _OPEN_FLAGS, 0o666)
        except IsADirectoryError:
            return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP):  # a symlink, a socket
                raise
            clear_junk(path)
            continue
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
        clear_junk(path)
    raise OSError(errno.EEXIST, "cannot create the lock file", str(path))


class FileLock:
    """`with FileLock(vault, "ids-APP-2026", timeout=10): ...` — exclusive across processes.

    `timeout=None` waits forever; `timeout=0` tries once. Polling (instead of a blocking flock) is what
    makes the timeout possible without signals, which would not mix with threads or a CLI's own alarms.
    """

    def __init__(self, vault_root: str | os.PathLike, name: str, *, timeout: float | None = 10.0,
                 poll_interval: float = 0.05) -> None:
        self.name = name
        self.path = lock_path(vault_root, name)
        self.timeout = timeout
        self.poll_interval = poll_interval
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError(f"lock {self.name!r} is already held by this FileLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open(self.path)
        try:
            self._wait(fd)
            HELD[self.path.name] = _stamp(os.fstat(fd))
            try:  # only for the message another waiter shows; the lock itself is the flock
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError:
                pass  # a folder planted at the lock's path: it locks as well, but holds no pid
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _wait(self, fd: int) -> None:
        if self.timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(self.name, self.path, self.timeout, self._holder(fd)) from None
                time.sleep(self.poll_interval)

    @staticmethod
    def _holder(fd: int) -> str | None:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "ignore").strip()
        except OSError:
            return None
        return text if text.isdigit() else None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            HELD.pop(self.path.name, None)
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _stamp(st: os.stat_result) -> LockStamp:
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino


def lock_stamps(vault_root: str | os.PathLike, *, before: bool = True) -> dict[str, LockStamp] | None:
    """Every lock file's stamp: taking a lock writes the taker's pid into its file, so a lock taken by
    anyone since changes its stamp. None when one cannot be read; and (`before`, a snapshot to compare
    with later) when a lock is held now, or was taken so recently that a second taking within the same
    tick of the file clock would leave its stamp as it is."""
    folder = _folder(vault_root)
    now = time.time_ns()
    found: dict[str, LockStamp] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if before and (now - st.st_ctime_ns < RACY_NS or _held_by_anyone(entry.path)):
                    return None
                found[entry.name] = _stamp(st)
    except FileNotFoundError:
        return found
    except OSError:
        return None
    return found


def _held_by_anyone(path: str) -> bool:
    """Someone holds this lock now (a shared lock cannot be had); True too when it cannot be told."""
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def untouched_since(vault_root: str | os.PathLike, before: dict[str, LockStamp]) -> bool:
    """No lock of the vault was taken by another process since `before` (`lock_stamps`): every lock file
    is as it was, or is held by this process and was as it was when this process took it."""
    now = lock_stamps(vault_root, before=False)
    if now is None:
        return False
    for name in before.keys() | now.keys():
        was = before.get(name)
        if now.get(name) != was and (was is None or HELD.get(name) != was):
            return False
    return True
