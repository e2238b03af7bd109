"""vaultcrm's own files in `.vaultcrm/` (cache shards, the ID counter, locks) as untrusted input.

The folder is synced with the notes, so anything may be planted at one of its fixed paths: a symlink out
of the vault, a FIFO that blocks a reader forever, a folder, a file of gigabytes. A state file is read
only when it is a regular file of sane size, opened without following a symlink and without blocking;
whatever else is found where a state file is written is removed first (a folder is left alone).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0))


def read_state(path: str | os.PathLike, limit: int) -> bytes | None:
    """The file's bytes; None when it is missing, not a regular file, or larger than `limit` bytes."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


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


__all__ = ["clear_junk", "read_state"]
