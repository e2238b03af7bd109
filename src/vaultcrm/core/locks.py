"""The vault-wide write locks, and which of them this process holds.

`book`, `reschedule`, `log`, `follow plan`, `import customers`, `customer forget` and `purge` read the
vault and then create or rewrite notes; holding the `booking` lock across both means two desks working
at the same moment see each other's notes (the second is refused rather than double-booking, and one
phone never gets two new profiles). The lock itself is `vault/lock.py`'s `flock`.

A lock is per open file, so taking it twice in one process would wait on itself. The journal's
recovery (core/journal.py) runs inside `load_vault`, which a command may call while it already holds
the lock its interrupted predecessor held: `is_held` tells it not to take the lock again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import VaultCRMError
from ..vault.lock import FileLock, LockTimeout

LOCK_TIMEOUT = 60.0
BOOKING = "booking"

_held: dict[tuple[str, str], int] = {}  # (vault root, lock name) -> how many holders in this process


def _key(root: Path, name: str) -> tuple[str, str]:
    return os.path.realpath(root), name


def is_held(root: Path, name: str) -> bool:
    """Whether this process holds the lock `name` of the vault at `root` right now."""
    return _held.get(_key(root, name), 0) > 0


@contextmanager
def holding(root: Path, name: str, *, timeout: float | None = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the vault's lock `name` (LockTimeout when busy), remembered as held by this process."""
    key = _key(root, name)
    with FileLock(root, name, timeout=timeout):
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1


@contextmanager
def booking_lock(root: Path) -> Iterator[None]:
    try:
        with holding(root, BOOKING):
            yield
    except LockTimeout as exc:
        raise VaultCRMError(str(exc)) from None
