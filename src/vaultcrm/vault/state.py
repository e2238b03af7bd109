"""vaultcrm's own files in `.vaultcrm/` (cache shards, the ID counter, locks) as untrusted input.

The folder is synced with the notes, so anything may be planted at one of its fixed paths: a symlink out
of the vault, a FIFO that blocks a reader forever, a folder, a file of gigabytes. A state file is read
only when it is a regular file of sane size, opened without following a symlink and without blocking;
whatever else is found where a state file is written is removed first (a folder is left alone).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Open a state file for reading: not through a symlink, and never blocking on a FIFO planted there.
READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
              | getattr(os, "O_CLOEXEC", 0))


@contextmanager
def opened_state(path: str | os.PathLike, limit: int, *, follow_symlinks: bool = False) -> Iterator[tuple[int, int] | None]:
    """(descriptor, size) of the state file, open for reading while the block runs; None when it is
    missing, not a regular file, or larger than `limit` bytes. Never follows a symlink unless asked,
    never blocks on a FIFO."""
    flags = READ_FLAGS & ~getattr(os, "O_NOFOLLOW", 0) if follow_symlinks else READ_FLAGS
    try:
        fd = os.open(path, flags)
    except OSError:
        yield None
        return
    try:
        st = os.fstat(fd)
        yield (fd, st.st_size) if stat.S_ISREG(st.st_mode) and st.st_size <= limit else None
    finally:
        os.close(fd)


def read_state(path: str | os.PathLike, limit: int, *, follow_symlinks: bool = False) -> bytes | None:
    """The file's bytes; None when it is missing, not a regular file, or larger than `limit` bytes.

    `follow_symlinks` for a file the user may link on purpose (`vaultcrm.yaml` shared by two vaults):
    what it points to must still be a regular file, never a FIFO or device."""
    try:
        with opened_state(path, limit, follow_symlinks=follow_symlinks) as opened:
            if opened is None:
                return None
            with os.fdopen(opened[0], "rb", closefd=False) as fh:
                data = fh.read(limit + 1)
            return data if len(data) <= limit else None
    except OSError:
        return None


def clear_junk(path: str | os.PathLike) -> bool:
    """Make room for a regular file at `path`: remove a symlink, FIFO, socket or device found there.

    True when `path` is now free or a regular file; False when a folder is in the way (left alone).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if stat.S_ISREG(st.st_mode):
        return True
    if stat.S_ISDIR(st.st_mode):
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


_APPEND_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                 | getattr(os, "O_CLOEXEC", 0))


def append_text(path: str | os.PathLike, text: str) -> bool:
    """Append `text` to the log at `path`; False (nothing written) unless it is, or becomes, a regular file.

    A log is best effort: a FIFO planted there would block the writer (a cron `remind` for ever), a
    symlink would carry the line out of the vault, so neither is opened. O_APPEND keeps the lines of
    concurrent writers whole.
    """
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, _APPEND_FLAGS, 0o666)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        os.write(fd, text.encode("utf-8"))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


__all__ = ["append_text", "clear_junk", "read_state"]
