"""The on-disk parse cache in `.vaultcrm/cache/`: an unchanged note is never parsed twice.

Entries are keyed by (path, mtime_ns, size) and hold the validated record as plain data, which
unpickles far faster than models. The cache is split into shards so that one changed note rewrites
one small file. A cache from another schema or time zone is ignored; a corrupt shard is dropped.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zlib
from typing import Optional
from collections.abc import Iterable
from pathlib import Path

from ..diagnostics import Diagnostic

SHARDS = 32
FORMAT = 3

# path -> (mtime_ns, size, kind, data, diagnostics)
Entry = tuple[int, int, Optional[str], Optional[dict], tuple[Diagnostic, ...]]


_PARSING_SOURCES = ("values.py", "models", "vault/reader.py", "vault/fastyaml.py", "vault/yaml_messages.py")


def fingerprint(*parts: str) -> str:
    """Changes whenever the code that turns a note into cached data changes, or the given parts do."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha1(str(FORMAT).encode())
    for name in _PARSING_SOURCES:
        target = package / name
        for source in sorted(target.glob("*.py")) if target.is_dir() else [target]:
            try:
                digest.update(source.read_bytes())
            except OSError:
                pass
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def shard_of(path: str) -> int:
    return zlib.crc32(path.encode()) % SHARDS


class Cache:
    def __init__(self, root: Path, key: str, folder: Path | None = None):
        self.folder = folder if folder is not None else root / ".vaultcrm" / "cache"
        self.key = key
        self.shards: list[dict[str, Entry]] = [{} for _ in range(SHARDS)]
        self.dirty: set[int] = set()

    def _file(self, n: int) -> Path:
        return self.folder / f"notes-{n:02d}.pickle"

    def load(self, shards: Iterable[int] | None = None) -> None:
        for n in range(SHARDS) if shards is None else shards:
            try:
                with open(self._file(n), "rb") as fh:
                    key, entries = pickle.load(fh)
            except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError):
                continue
            if key == self.key and isinstance(entries, dict):
                self.shards[n] = entries

    def get(self, path: str, mtime_ns: int, size: int) -> Entry | None:
        entry = self.shards[shard_of(path)].get(path)
        if entry is not None and entry[0] == mtime_ns and entry[1] == size:
            return entry
        return None

    def put(self, path: str, entry: Entry) -> None:
        n = shard_of(path)
        self.shards[n][path] = entry
        self.dirty.add(n)

    def retain(self, paths, shards: Iterable[int] | None = None) -> None:
        """Forget notes that no longer exist."""
        for n in range(SHARDS) if shards is None else shards:
            shard = self.shards[n]
            gone = shard.keys() - paths
            for path in gone:
                del shard[path]
            if gone:
                self.dirty.add(n)

    def save(self) -> bool:
        """Write the changed shards; False when the cache folder cannot be written."""
        if not self.dirty:
            return True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for n in sorted(self.dirty):
                target = self._file(n)
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                with open(tmp, "wb") as fh:
                    pickle.dump((self.key, self.shards[n]), fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, target)
        except OSError:
            return False  # a cache that cannot be written only costs speed next time
        self.dirty.clear()
        return True

    def entries(self):
        for shard in self.shards:
            yield from shard.items()
