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

from .state import read_state

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
    """What the vault's shard files say the notes' stamps are, read without decoding any entry (nor
    checking the key): (path → stamp, each shard's stamps as filed, None where there is no shard of
    this format). A background scan compares its files with these; the loader takes its answer only
    if the shards it decoded filed the very same bytes (`Cache.filed`)."""
    known: dict[str, Stamp] = {}
    filed: list[bytes | None] = [None] * SHARDS
    folder = cache_folder(root)
    for n in range(SHARDS) if inside(root, folder) else ():
        blob = read_state(folder / NAME.format(n), MAX_SHARD)
        try:
            shard = SHARD.decode(blob) if blob is not None else None
            if shard is None or shard.format != FORMAT:
                continue
            known.update(STAMPS.decode(shard.stamps))
        except UNREADABLE:
            continue
        filed[n] = bytes(shard.stamps)
    return known, filed
