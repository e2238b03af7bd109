"""The vault-wide write lock that commands creating or moving appointments hold.

`book`, `reschedule`, `log` and `follow plan` read the vault and then create notes; holding the
`booking` lock across both means two desks working at the same moment see each other's notes (the
second is refused rather than double-booking). The lock itself is `vault/lock.py`'s `flock`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import VaultCRMError
from ..vault.lock import FileLock, LockTimeout

LOCK_TIMEOUT = 60.0


@contextmanager
def booking_lock(root: Path) -> Iterator[None]:
    try:
        with FileLock(root, "booking", timeout=LOCK_TIMEOUT):
            yield
    except LockTimeout as exc:
        raise VaultCRMError(str(exc)) from None
