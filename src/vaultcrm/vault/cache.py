"""The on-disk parse cache in `.vaultcrm/cache/`: an unchanged note is never parsed twice.

The cache sits in the vault, so anyone who can write to a synced folder can write it too. It is data
only: msgpack, decoded by msgspec into declared types (never pickle, nor anything else that can build
code), and everything read is checked against those types as it is decoded: each record's data against
the fields of its model (types, ranges, ID pattern, naive times, finite amounts), each entry's stamp,
ID, head and diagnostics. A shard that is not a regular file, is too large, truncated, of another format,
code or time zone, or shaped otherwise is a miss: its notes are parsed again and the shard is written anew.
Files of earlier formats (`notes-NN.pickle`) are never opened, only removed.

An entry serves only the very file it was made from: it is keyed by the note's path and its stamp
(mtime_ns, size, ctime_ns, inode). Sync tools restore mtimes, so a same-size edit can keep its mtime;
its ctime, which no program can set back, still changes, and so does the inode of a save by rename.

Entries hold the validated record as plain data (`model_dump()`), which decodes far faster than models
are built. The cache is split into shards so that one changed note rewrites one small file.

A shard keeps the stamps apart from the entries, so that a load finds in one comparison that no note
changed. It decodes only each entry's ID and head (`HEAD`: the few fields the index files records by,
such as an appointment's date and 客户编号); the rest of a record stays encoded until it is first looked
at (`record_data`), so a command that needs a few hundred of 100,000 records decodes a few hundred. The
late decode checks the data as strictly, and against the ID and head it was filed by: data that fails
is not believed, and its note is read again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import typing
from collections.abc import Iterable, Iterator
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Literal, Optional, TypedDict, Union

import msgspec
from pydantic import BaseModel

from ..diagnostics import Diagnostic, Severity
from ..models import TYPE_BY_KIND, fields
from .monitor import TOKEN
from .reader import ParsedNote
from .shards import (
    FORMAT,
    MAX_SHARD,
    NAME,
    OLD_NAMES,
    SHARD,
    SHARDS,
    STAMPS,
    UNREADABLE,
    Shard,
    Stamp,
    cache_folder,
    inside,
    shard_of,
)
from .state import clear_junk, read_state
from .writer import write_atomic

_PARSING_SOURCES = ("values.py", "models", "vault/reader.py", "vault/checklist.py", "vault/fastyaml.py",
                    "vault/yaml_messages.py", "vault/cache.py", "vault/shards.py")


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

    kind: _Kind
    diagnostics: _Diagnostics
    data: typing.ClassVar[None] = None


#: The fields (names down from the record) decoded with every entry, for the index's tables by date, by
#: customer and by the record they follow; every other field is decoded when it is first looked at.
HEAD: dict[str, tuple[tuple[str, ...], ...]] = {
    "APP": (("info", "date"), ("info", "customer_id")),
    "SRV": (("basics", "date"), ("customer", "customer_id"), ("basics", "appointment_id")),
    "FLW": (("basics", "due"), ("customer", "customer_id"), ("basics", "service_id")),
    "CUS": (), "WL": (), "LV": (),
}


def _field_shape(model: type[BaseModel], names: tuple[str, ...]) -> object:
    for name in names[:-1]:
        model = model.model_fields[name].annotation
    info = model.model_fields[names[-1]]
    narrower = next((_NARROWER[id(m)] for m in info.metadata if id(m) in _NARROWER), None)
    return _shape(info.annotation, narrower)


def head_of(kind: str, data: dict) -> tuple:
    """The values at the kind's `HEAD` fields of a record's plain data."""
    values = []
    for names in HEAD[kind]:
        value = data
        for name in names:
            value = value[name]
        values.append(value)
    return tuple(values)


def _record_entry(kind: str, model: type[BaseModel]) -> type:
    id_shape = Annotated[str, msgspec.Meta(pattern=model.id_pattern.pattern)]
    head = tuple[tuple(_field_shape(model, names) for names in HEAD[kind])] if HEAD[kind] else tuple[()]
    return msgspec.defstruct(f"{kind}Entry", [("id", id_shape), ("head", head),
                                              ("data", msgspec.Raw), ("diagnostics", _Diagnostics)],
                             namespace={"kind": kind},
                             module=__name__, array_like=True, frozen=True, gc=False, tag=kind)


_RECORD_ENTRIES = {kind: _record_entry(kind, model) for kind, model in TYPE_BY_KIND.items()}
Entry = Union[(NoRecord, *_RECORD_ENTRIES.values())]  # noqa: UP007
RECORD_ENTRIES = frozenset(_RECORD_ENTRIES.values())  # the types of the entries that hold a record
_DATA = {kind: msgspec.msgpack.Decoder(_model_shape(model), dec_hook=_decode_hook)
         for kind, model in TYPE_BY_KIND.items()}


def record_data(entry) -> dict | None:
    """A record entry's data, decoded now and checked against its model's fields and against the ID and
    head it was filed by; None when it fails (then its note must be read again)."""
    try:
        data = _DATA[entry.kind].decode(entry.data)
    except (msgspec.DecodeError, RecursionError, ValueError, OverflowError):
        return None
    if data.get("id") != entry.id or head_of(entry.kind, data) != entry.head:
        return None
    return data


_FIELD_DECODERS: dict[tuple[str, tuple[str, ...]], msgspec.msgpack.Decoder | None] = {}
NO_VALUE = object()  # what `field_value` gives for a field it cannot vouch for


def _field_decoder(kind: str, names: tuple[str, ...]) -> msgspec.msgpack.Decoder | None:
    """A decoder of one field of a kind's data, checking that field as `record_data` would (None when the
    path does not go down through submodels to a field)."""
    if (kind, names) not in _FIELD_DECODERS:
        try:
            shape = _field_shape(TYPE_BY_KIND[kind], names)
        except (KeyError, AttributeError, TypeError):
            shape = None
        for depth, name in enumerate(reversed(names)) if shape is not None else ():
            shape = TypedDict(f"Field{kind}{len(names) - depth}", {name: shape})  # type: ignore[operator]
        _FIELD_DECODERS[kind, names] = None if shape is None else msgspec.msgpack.Decoder(shape, dec_hook=_decode_hook)
    return _FIELD_DECODERS[kind, names]


def field_value(entry, names: tuple[str, ...]) -> object:
    """One field (names down from the record) of a record entry's data, decoded and checked alone: a
    column of 35,000 service fees costs a sixth of decoding the 35,000 records. `NO_VALUE` when it
    fails its check or cannot be read alone (then the whole record is decoded, and checked)."""
    decoder = _field_decoder(entry.kind, names)
    if decoder is None:
        return NO_VALUE
    try:
        value = decoder.decode(entry.data)
    except (msgspec.DecodeError, RecursionError, ValueError, OverflowError):
        return NO_VALUE
    for name in names:
        value = value[name]
    return value


_ENTRIES = msgspec.msgpack.Decoder(dict[str, Entry], dec_hook=_decode_hook)  # type: ignore[valid-type]
_ENCODER = msgspec.msgpack.Encoder()


def oldest(tokens: Iterable[str | None]) -> str:
    """The earliest of monitor tokens of one watch; "" when one is missing or of another watch."""
    tokens = list(tokens)
    if not tokens or None in tokens or "" in tokens or len({t.partition(":")[0] for t in tokens}) != 1:
        return ""
    return min(tokens, key=lambda t: int(t.partition(":")[2]))


def make_entry(note: ParsedNote) -> object:
    diagnostics = tuple((d.line, d.severity, d.message) for d in note.diagnostics)
    data = note.data
    if data is None:
        return NoRecord(note.kind, diagnostics)
    return _RECORD_ENTRIES[note.kind](data["id"], head_of(note.kind, data), msgspec.Raw(_ENCODER.encode(data)),
                                      diagnostics)


def diagnostics_of(path: str, entry) -> list[Diagnostic]:
    return [Diagnostic(path, line, severity, message) for line, severity, message in entry.diagnostics]


class Cache:
    def __init__(self, root: Path, key: str, folder: Path | None = None):
        self.root = Path(root)
        self.folder = folder if folder is not None else cache_folder(self.root)
        self.key = key
        self.shards: list[dict[str, object]] = [{} for _ in range(SHARDS)]
        self.stamp_shards: list[dict[str, Stamp]] = [{} for _ in range(SHARDS)]  # the same paths as `shards`
        self.filed: list[bytes | None] = [None] * SHARDS  # each shard's stamps as read (`shards.filed_stamps`)
        self.tokens: list[str | None] = [None] * SHARDS  # None: no shard file was read
        self.token = ""  # what `save` writes with each shard (vault/monitor.py)
        self.dirty: set[int] = set()

    def _file(self, n: int) -> Path:
        return self.folder / NAME.format(n)

    def decode(self, n: int, blob: bytes) -> bool:
        """Take shard `n` from its bytes if they are a valid shard of this format and key."""
        try:
            shard = SHARD.decode(blob)
            if shard.format != FORMAT or shard.key != self.key:
                return False
            stamps, entries = STAMPS.decode(shard.stamps), _ENTRIES.decode(shard.entries)
        except UNREADABLE:
            return False
        if stamps.keys() != entries.keys():
            return False
        self.shards[n], self.stamp_shards[n], self.filed[n] = entries, stamps, bytes(shard.stamps)
        self.tokens[n] = shard.token if TOKEN.fullmatch(shard.token) else ""
        return True

    def encode(self, n: int) -> bytes:
        """Shard `n` as its file holds it: entries in path order, so that a load's sort by path of all
        shards together merges 32 sorted runs."""
        entries = dict(sorted(self.shards[n].items(), key=itemgetter(0)))
        return _ENCODER.encode(Shard(FORMAT, self.key, self.token, msgspec.Raw(_ENCODER.encode(self.stamp_shards[n])),
                                      msgspec.Raw(_ENCODER.encode(entries))))

    def since(self) -> str | None:
        """The oldest monitor token of the shards read, when every shard was read with one of one
        watch; then every note changed since it is in the watch's answer, and the rest are as cached."""
        return oldest(self.tokens) or None

    def stamps(self) -> dict[str, Stamp]:
        """Every cached note's path and the stamp its entry was made from."""
        found: dict[str, Stamp] = {}
        for stamps in self.stamp_shards:
            found.update(stamps)
        return found

    def load(self, shards: Iterable[int] | None = None) -> None:
        if not self._inside():
            return
        for n in range(SHARDS) if shards is None else shards:
            blob = read_state(self._file(n), MAX_SHARD)
            if blob is not None:
                self.decode(n, blob)

    def get(self, path: str, stamp: Stamp):
        """The entry made from exactly this file (path and stamp), or None."""
        n = shard_of(path)
        return self.shards[n].get(path) if self.stamp_shards[n].get(path) == stamp else None

    def put(self, path: str, stamp: Stamp, note: ParsedNote) -> None:
        n = shard_of(path)
        self.shards[n][path] = make_entry(note)
        self.stamp_shards[n][path] = stamp
        self.dirty.add(n)

    def retain(self, paths, shards: Iterable[int] | None = None) -> None:
        """Forget notes that no longer exist."""
        for n in range(SHARDS) if shards is None else shards:
            shard, stamps = self.shards[n], self.stamp_shards[n]
            gone = shard.keys() - paths
            for path in gone:
                del shard[path], stamps[path]
            if gone:
                self.dirty.add(n)

    def drop(self, path: str) -> None:
        """Remove the shard file that holds `path`'s entry (one found untrustworthy): its notes are
        parsed again by the next load."""
        if self._inside():
            try:
                os.unlink(self._file(shard_of(path)))
            except OSError:
                pass

    def _inside(self) -> bool:
        return inside(self.root, self.folder)

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
