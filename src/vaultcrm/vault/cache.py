"""The on-disk parse cache in `.vaultcrm/cache/`: an unchanged note is never parsed twice.

The cache sits in the vault, so anyone who can write to a synced folder can write it too. It is data
only: msgpack, decoded by msgspec into declared types (never pickle, nor anything else that can build
code), and every shard read is checked against those types as it is decoded: each record's data against
the fields of its model (types, ranges, ID pattern, naive times, finite amounts), each entry's stamp
and diagnostics. A shard that is not a regular file, is too large, truncated, of another format, code or
time zone, or shaped otherwise is a miss: its notes are parsed again and the shard is written anew.
Files of earlier formats (`notes-NN.pickle`) are never opened, only removed.

An entry serves only the very file it was made from: it is keyed by the note's path and its stamp
(mtime_ns, size, ctime_ns, inode). Sync tools restore mtimes, so a same-size edit can keep its mtime;
its ctime, which no program can set back, still changes, and so does the inode of a save by rename.

Entries hold the validated record as plain data (`model_dump()`), which decodes far faster than models
are built. The cache is split into shards so that one changed note rewrites one small file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import typing
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Optional, TypedDict, Union

import msgspec
from pydantic import BaseModel

from ..diagnostics import Diagnostic, Severity
from ..models import TYPE_BY_KIND, fields
from .monitor import TOKEN
from .reader import ParsedNote
from .state import clear_junk, read_state
from .writer import write_atomic

SHARDS = 32
FORMAT = 5
MAX_SHARD = 256 << 20  # bytes; a shard of a million-note vault is a few tens of MB
NAME = "notes-{:02d}.msgpack"
OLD_NAMES = ("notes-{:02d}.pickle",)  # earlier formats: removed, never read

Stamp = tuple[int, int, int, int]  # mtime_ns, size, ctime_ns, inode — as vault/scan.py reads them

_PARSING_SOURCES = ("values.py", "models", "vault/reader.py", "vault/checklist.py", "vault/fastyaml.py",
                    "vault/yaml_messages.py", "vault/cache.py")


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


# -- what a shard may hold -------------------------------------------------------------------------

class _PlainDecimal(type):
    def __instancecheck__(cls, value: object) -> bool:
        return type(value) is Decimal


class _Money(metaclass=_PlainDecimal):
    """An amount in the shapes below, decoded by `_decode_hook` into a plain Decimal: msgspec's own
    Decimal would take `NaN` or `1E+999999`, which no note yields and which break arithmetic."""


_MONEY = re.compile(r"-?\d{1,28}(?:\.\d{1,28})?")
_NAIVE_TIME = Annotated[dt.time, msgspec.Meta(tz=False)]
_NAIVE_DATETIME = Annotated[dt.datetime, msgspec.Meta(tz=False)]

# What the normalisers of `models.fields` can produce, where that is narrower than the annotation.
_NARROWER = {
    id(fields.Minutes.__metadata__[0]): Annotated[int, msgspec.Meta(ge=0, le=24 * 60)],
    id(fields.Stars.__metadata__[0]): Annotated[int, msgspec.Meta(ge=1, le=5)],
    id(fields.Money.__metadata__[0]): _Money,
    id(fields.Time.__metadata__[0]): _NAIVE_TIME,
    id(fields.DateTime.__metadata__[0]): _NAIVE_DATETIME,
    id(fields.TimeRange.__metadata__[0]): Annotated[str, msgspec.Meta(pattern=r"^\d\d:\d\d(?:-\d\d:\d\d)?$")],
}
_PLAIN = {Decimal: _Money, dt.time: _NAIVE_TIME, dt.datetime: _NAIVE_DATETIME}


def _decode_hook(kind: type, value: object) -> object:
    if kind is _Money and type(value) is str and _MONEY.fullmatch(value):
        return Decimal(value)
    raise msgspec.ValidationError(f"not a {kind.__name__}")


def _shape(annotation: object, narrower: object = None) -> object:
    """The msgspec type of a value that a field annotated so holds after `model_dump()`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_shape(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Union:
        return Union[tuple(_shape(arg, narrower) for arg in args)]  # noqa: UP007 - built at run time
    if origin is list:
        return list[_shape(args[0])]
    if narrower is not None and annotation is not type(None):
        return narrower
    return _PLAIN.get(annotation, annotation)


_SHAPES: dict[type, object] = {}


def _model_shape(model: type[BaseModel]) -> object:
    """A TypedDict of the model's dump: msgspec checks every field as it decodes, into plain dicts."""
    shape = _SHAPES.get(model)
    if shape is None:
        members = {}
        for name, info in model.model_fields.items():
            if info.exclude:
                continue
            narrower = next((_NARROWER[id(m)] for m in info.metadata if id(m) in _NARROWER), None)
            if name == "id" and getattr(model, "id_pattern", None) is not None:
                narrower = Annotated[str, msgspec.Meta(pattern=model.id_pattern.pattern)]
            members[name] = _shape(info.annotation, narrower)
        shape = _SHAPES[model] = TypedDict(f"{model.__name__}Data", members)  # type: ignore[operator]
    return shape


_Diagnostics = tuple[tuple[Annotated[int, msgspec.Meta(ge=0)], Severity, str], ...]  # line, severity, message
_Kind = Optional[Literal[("?", *TYPE_BY_KIND)]]  # noqa: UP007


class NoRecord(msgspec.Struct, array_like=True, frozen=True, gc=False, tag="-"):
    """A note with no record data: not vaultcrm's, or one whose record could not be read."""

    stamp: Stamp
    kind: _Kind
    diagnostics: _Diagnostics
    data: typing.ClassVar[None] = None


def _record_entry(kind: str, model: type[BaseModel]) -> type:
    return msgspec.defstruct(f"{kind}Entry", [("stamp", Stamp), ("data", _model_shape(model)),
                                              ("diagnostics", _Diagnostics)],
                             namespace={"kind": kind},
                             module=__name__, array_like=True, frozen=True, gc=False, tag=kind)


_RECORD_ENTRIES = {kind: _record_entry(kind, model) for kind, model in TYPE_BY_KIND.items()}
Entry = Union[(NoRecord, *_RECORD_ENTRIES.values())]  # noqa: UP007


class _Shard(msgspec.Struct, array_like=True):
    """A shard file: its format and key come first, so that another's entries are never decoded."""

    format: int
    key: str
    token: str  # the file monitor's token taken before these entries were checked against the files
    entries: msgspec.Raw  # dict[str, Entry], decoded once format and key are known to match


_SHARD = msgspec.msgpack.Decoder(_Shard)
_ENTRIES = msgspec.msgpack.Decoder(dict[str, Entry], dec_hook=_decode_hook)  # type: ignore[valid-type]
_ENCODER = msgspec.msgpack.Encoder()


def oldest(tokens: Iterable[str | None]) -> str:
    """The earliest of monitor tokens of one watch; "" when one is missing or of another watch."""
    tokens = list(tokens)
    if not tokens or None in tokens or "" in tokens or len({t.partition(":")[0] for t in tokens}) != 1:
        return ""
    return min(tokens, key=lambda t: int(t.partition(":")[2]))


def make_entry(stamp: Stamp, note: ParsedNote) -> object:
    diagnostics = tuple((d.line, d.severity, d.message) for d in note.diagnostics)
    if note.data is None:
        return NoRecord(stamp, note.kind, diagnostics)
    return _RECORD_ENTRIES[note.kind](stamp, note.data, diagnostics)


def diagnostics_of(path: str, entry) -> list[Diagnostic]:
    return [Diagnostic(path, line, severity, message) for line, severity, message in entry.diagnostics]


class Cache:
    def __init__(self, root: Path, key: str, folder: Path | None = None):
        self.root = Path(root)
        self.folder = folder if folder is not None else self.root / ".vaultcrm" / "cache"
        self.key = key
        self.shards: list[dict[str, object]] = [{} for _ in range(SHARDS)]
        self.tokens: list[str | None] = [None] * SHARDS  # None: no shard file was read
        self.token = ""  # what `save` writes with each shard (vault/monitor.py)
        self.dirty: set[int] = set()

    def _file(self, n: int) -> Path:
        return self.folder / NAME.format(n)

    def decode(self, n: int, blob: bytes) -> bool:
        """Take shard `n` from its bytes if they are a valid shard of this format and key."""
        try:
            shard = _SHARD.decode(blob)
            if shard.format != FORMAT or shard.key != self.key:
                return False
            self.shards[n] = _ENTRIES.decode(shard.entries)
            self.tokens[n] = shard.token if TOKEN.fullmatch(shard.token) else ""
        except (msgspec.DecodeError, RecursionError, ValueError, OverflowError):
            return False
        return True

    def encode(self, n: int) -> bytes:
        return _ENCODER.encode(_Shard(FORMAT, self.key, self.token, msgspec.Raw(_ENCODER.encode(self.shards[n]))))

    def since(self) -> str | None:
        """The oldest monitor token of the shards read, when every shard was read with one of one
        watch; then every note changed since it is in the watch's answer, and the rest are as cached."""
        return oldest(self.tokens) or None

    def stamps(self) -> dict[str, Stamp]:
        """Every cached note's path and the stamp its entry was made from."""
        return {path: entry.stamp for shard in self.shards for path, entry in shard.items()}

    def load(self, shards: Iterable[int] | None = None) -> None:
        if not self._inside():
            return
        for n in range(SHARDS) if shards is None else shards:
            blob = read_state(self._file(n), MAX_SHARD)
            if blob is not None:
                self.decode(n, blob)

    def get(self, path: str, stamp: Stamp):
        """The entry made from exactly this file (path and stamp), or None."""
        entry = self.shards[shard_of(path)].get(path)
        if entry is not None and entry.stamp == stamp:
            return entry
        return None

    def put(self, path: str, stamp: Stamp, note: ParsedNote) -> None:
        n = shard_of(path)
        self.shards[n][path] = make_entry(stamp, note)
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

    def _inside(self) -> bool:
        """The cache folder really is in the vault: one symlinked out of it is neither read nor written."""
        try:
            folder = os.path.realpath(self.folder)
        except OSError:
            return False
        if self.folder != self.root / ".vaultcrm" / "cache":
            return True  # a scratch folder of the caller's
        root = os.path.realpath(self.root)
        return folder == os.path.join(root, ".vaultcrm", "cache")

    def save(self) -> bool:
        """Write the changed shards; False when the cache folder cannot be written."""
        if not self.dirty:
            return True
        if not self._inside():
            return False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False  # a cache that cannot be written only costs speed next time
        for n in sorted(self.dirty):
            target = self._file(n)
            try:
                if clear_junk(target):  # a folder planted there is left alone: that shard is not kept
                    write_atomic(target, self.encode(n))
                    self.dirty.discard(n)
            except (OSError, ValueError):
                pass
        self._remove_old_formats()
        return not self.dirty

    def _remove_old_formats(self) -> None:
        for old in OLD_NAMES:
            for n in range(SHARDS):
                stale = self.folder / old.format(n)
                try:
                    if os.path.lexists(stale) and not os.path.isdir(stale):
                        os.unlink(stale)
                except OSError:
                    pass

    def entries(self) -> Iterator[tuple[str, object]]:
        for shard in self.shards:
            yield from shard.items()
