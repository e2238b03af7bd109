"""The parse cache's files (`.vaultcrm/cache/notes-NN.msgpack`): their names, their outer layout, and the
stamps they hold, readable without the record shapes of `vault/cache.py` (a background scan compares
its files with these stamps in a process forked before those shapes were imported).

A shard file is a msgpack array: format, key, monitor token, then the stamps (path → stamp) and the
entries, each encoded on its own and held as bytes: a reader takes the part it needs without walking
the other, and decodes either only once the format and key are known to match.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import msgspec

from .state import opened_state


SHARDS = 32
FORMAT = 8
MAX_SHARD = 256 << 20  # bytes; a shard of a million-note vault is a few tens of MB
NAME = "notes-{:02d}.msgpack"
OLD_NAMES = ("notes-{:02d}.pickle",)  # earlier formats: removed, never read

Stamp = tuple[int, int, int, int]  # mtime_ns, size, ctime_ns, inode — as vault/scan.py reads them


def shard_of(path: str) -> int:
    return zlib.crc32(path.encode()) % SHARDS


def cache_folder(root: Path) -> Path:
    return Path(root) / ".vaultcrm" / "cache"


class Shard(msgspec.Struct, array_like=True):
    """A shard file: its format and key come first, so that another's entries are never decoded."""

    format: int
    key: str
    token: str  # the file monitor's token taken before these entries were checked against the files
    stamps: memoryview  # encoded dict[str, Stamp]: path → the stamp of the file its entry was made from
    entries: memoryview  # the encoded entries of the same paths (`cache.Columns`)


SHARD = msgspec.msgpack.Decoder(Shard)
STAMPS = msgspec.msgpack.Decoder(dict[str, Stamp])
UNREADABLE = (msgspec.DecodeError, RecursionError, ValueError, OverflowError)  # what junk in a shard raises


def inside(root: Path, folder: Path) -> bool:
    """The cache folder really is in the vault: one symlinked out of it is neither read nor written."""
    try:
        real = os.path.realpath(folder)
    except OSError:
        return False
    if Path(folder) != cache_folder(root):
        return True  # a scratch folder of the caller's
    return real == os.path.join(os.path.realpath(root), ".vaultcrm", "cache")


def filed_stamps(root: Path) -> tuple[dict[str, Stamp], list[bytes | None]]:
    """What the vault's shard files say the notes' stamps are, read without the entries (nor checking
    the key): (path → stamp, each shard's stamps as filed, None where there is no shard of this
    format). A background scan compares its files with these; the loader takes its answer only
    if the shards it decoded filed the very same bytes (`Cache.filed`)."""
    known: dict[str, Stamp] = {}
    filed: list[bytes | None] = [None] * SHARDS
    folder = cache_folder(root)
    for n in range(SHARDS) if inside(root, folder) else ():
        stamps = _stamps_part(folder / NAME.format(n))
        if stamps is None:
            continue
        try:
            known.update(STAMPS.decode(stamps))
        except UNREADABLE:
            continue
        filed[n] = stamps
    return known, filed


_HEAD_BYTES = 512  # a shard's format, key and token, and the size of its stamps, are in its first bytes


def _stamps_part(path: Path) -> bytes | None:
    """The stamps of a shard file, read alone (a tenth of the file); None unless it is a regular file
    that starts as a shard of this format does."""
    try:
        with opened_state(path, MAX_SHARD) as opened:
            if opened is None:
                return None
            fd, size = opened
            where = _stamps_at(os.pread(fd, _HEAD_BYTES, 0))
            if where is None or where[0] + where[1] > size:
                return None
            stamps = os.pread(fd, where[1], where[0])
            return stamps if len(stamps) == where[1] else None
    except OSError:
        return None


def _stamps_at(head: bytes) -> tuple[int, int] | None:
    """(offset, length) of the stamps in a shard file that starts with `head`, read as msgpack: an array
    of five, this format, two strings (key, token), then the stamps as bytes."""
    if len(head) < 2 or head[0] != 0x95 or head[1] != FORMAT:  # FORMAT is a positive fixint
        return None
    at: int | None = 2
    for _ in range(2):
        at = _after_str(head, at)
        if at is None:
            return None
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}.get(head[at]) if at < len(head) else None
    if width is None or at + 1 + width > len(head):
        return None
    return at + 1 + width, int.from_bytes(head[at + 1:at + 1 + width], "big")


def _after_str(head: bytes, at: int) -> int | None:
    """Where the msgpack string at `at` ends; None when `head` holds no whole string there."""
    if at >= len(head):
        return None
    marker = head[at]
    if 0xA0 <= marker <= 0xBF:
        width, size = 0, marker & 0x1F
    elif marker in (0xD9, 0xDA, 0xDB):
        width = {0xD9: 1, 0xDA: 2, 0xDB: 4}[marker]
        size = int.from_bytes(head[at + 1:at + 1 + width], "big")
    else:
        return None
    end = at + 1 + width + size
    return end if end <= len(head) else None
