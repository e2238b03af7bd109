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

A shard keeps the stamps apart from the entries (`vault/shards.py`), so that a load finds in one
comparison that no note changed, and holds its entries as columns per record kind (`Columns`). A load
decodes only each record's ID and head (`HEAD`: the few fields the index files records by, such as an
appointment's date and 客户编号); the rest of a record stays encoded until it is first looked at
(`record_data`), so a command that needs a few hundred of 100,000 records decodes a few hundred, and one
field of many records decodes alone (`field_value`). The late decode checks the data as strictly, and
against the ID and head it was filed by: data that fails is not believed, and its note is read again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import typing
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import repeat
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


def _at(data: dict, names: tuple[str, ...]) -> object:
    """The value at `names` (field names down from the record) of plain data."""
    for name in names:
        data = data[name]
    return data


def head_of(kind: str, data: dict) -> tuple:
    """The values at the kind's `HEAD` fields of a record's plain data."""
    return tuple(_at(data, names) for names in HEAD[kind])


def _id_shape(model: type[BaseModel]) -> object:
    return Annotated[str, msgspec.Meta(pattern=model.id_pattern.pattern)]


def _head_shape(kind: str, model: type[BaseModel]) -> object:
    return tuple[tuple(_field_shape(model, names) for names in HEAD[kind])] if HEAD[kind] else tuple[()]


def _record_entry(kind: str, model: type[BaseModel]) -> type:
    return msgspec.defstruct(f"{kind}Entry", [("id", _id_shape(model)), ("head", _head_shape(kind, model)),
                                              ("data", msgspec.Raw), ("diagnostics", _Diagnostics)],
                             namespace={"kind": kind},
                             module=__name__, array_like=True, frozen=True, gc=False, tag=kind)


_RECORD_ENTRIES = {kind: _record_entry(kind, model) for kind, model in TYPE_BY_KIND.items()}
_DATA = {kind: msgspec.msgpack.Decoder(_model_shape(model), dec_hook=_decode_hook)
         for kind, model in TYPE_BY_KIND.items()}


def _kind_columns(kind: str, model: type[BaseModel]) -> type:
    """One kind's records of a shard, as columns of equal length in path order."""
    return msgspec.defstruct(f"{kind}Columns", [("paths", list[str]), ("ids", list[str]),  # IDs: `_columns_valid`
                                                ("heads", list[_head_shape(kind, model)]),
                                                ("datas", list[msgspec.Raw])],
                             module=__name__, array_like=True, gc=False)


_KIND_COLUMNS = {kind: _kind_columns(kind, model) for kind, model in TYPE_BY_KIND.items()}
#: A shard's entries as its file holds them: each kind's records as columns (decoded into a few lists,
#: not one object per note), the notes without a record, and the diagnostics of the notes that have any.
Columns = msgspec.defstruct("Columns", [*((kind, columns) for kind, columns in _KIND_COLUMNS.items()),
                                        ("plain", dict[str, _Kind]), ("diagnostics", dict[str, _Diagnostics])],
                            module=__name__, array_like=True, gc=False)
_COLUMNS = msgspec.msgpack.Decoder(Columns, dec_hook=_decode_hook)


_ID_OF = {kind: model.id_pattern.fullmatch for kind, model in TYPE_BY_KIND.items()}


def _columns_valid(columns, paths) -> bool:
    """The columns hold each of `paths` (the shard's stamps) once, and nothing else, and every ID is of
    its kind's pattern (checked here, a column at a time, rather than by the decoder: a third of the cost)."""
    count = len(columns.plain)
    for kind in TYPE_BY_KIND:
        kc = getattr(columns, kind)
        if not len(kc.paths) == len(kc.ids) == len(kc.heads) == len(kc.datas) or not all(map(_ID_OF[kind], kc.ids)):
            return False
        count += len(kc.paths)
    if count != len(paths) or not columns.diagnostics.keys() <= paths:
        return False
    held = set(columns.plain)
    for kind in TYPE_BY_KIND:
        held.update(getattr(columns, kind).paths)
    return held == paths


def _columns_of(entries: dict[str, object]):
    """A shard's entries (path → entry) as columns, in path order."""
    lists: dict[str, tuple[list, list, list, list]] = {kind: ([], [], [], []) for kind in TYPE_BY_KIND}
    plain: dict[str, object] = {}
    diagnostics: dict[str, object] = {}
    for path, entry in sorted(entries.items(), key=itemgetter(0)):
        if entry.data is None:
            plain[path] = entry.kind
        else:
            paths, ids, heads, datas = lists[entry.kind]
            paths.append(path)
            ids.append(entry.id)
            heads.append(entry.head)
            datas.append(entry.data)
        if entry.diagnostics:
            diagnostics[path] = entry.diagnostics
    return Columns(*(_KIND_COLUMNS[kind](*lists[kind]) for kind in TYPE_BY_KIND), plain, diagnostics)


def _entries_of(columns) -> dict[str, object]:
    """Columns as path → entry, for a shard whose notes are looked up, added or removed one by one."""
    entries: dict[str, object] = {}
    for kind, make in _RECORD_ENTRIES.items():
        kc = getattr(columns, kind)
        entries.update(zip(kc.paths, map(make, kc.ids, kc.heads, kc.datas, repeat(()))))
    for path, kind in columns.plain.items():
        entries[path] = NoRecord(kind, ())
    for path, diagnostics in columns.diagnostics.items():
        entries[path] = msgspec.structs.replace(entries[path], diagnostics=diagnostics)
    return entries


def encoded_records(columns) -> dict[str, list[tuple]]:
    """Kind → its records of a shard as the index holds them still encoded: (path, ID, head, data, kind)."""
    return {kind: list(zip(kc.paths, kc.ids, kc.heads, kc.datas, repeat(kind)))
            for kind in TYPE_BY_KIND if (kc := getattr(columns, kind)).paths}


def record_data(kind: str, record_id: str, head: tuple, data: msgspec.Raw) -> dict | None:
    """A record's cached data, decoded now and checked against its model's fields and against the ID and
    head it was filed by; None when it fails (then its note must be read again)."""
    try:
        found = _DATA[kind].decode(data)
    except UNREADABLE:
        return None
    if found.get("id") != record_id or head_of(kind, found) != head:
        return None
    return found


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


def field_value(kind: str, data: msgspec.Raw, names: tuple[str, ...]) -> object:
    """One field (names down from the record) of a record entry's data, decoded and checked alone: a
    column of 35,000 service fees costs a sixth of decoding the 35,000 records. `NO_VALUE` when it
    fails its check or cannot be read alone (then the whole record is decoded, and checked)."""
    decoder = _field_decoder(kind, names)
    if decoder is None:
        return NO_VALUE
    try:
        value = decoder.decode(data)
    except UNREADABLE:
        return NO_VALUE
    return _at(value, names)


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


def diagnostics_of(path: str, diagnostics) -> list[Diagnostic]:
    """A note's cached diagnostics (an entry's `diagnostics`) as Diagnostics."""
    return [Diagnostic(path, line, severity, message) for line, severity, message in diagnostics]


class Cache:
    """The parse cache of one vault (or a scratch folder's). A shard is held as its file's columns until
    one of its notes is looked up, added or removed (`shard`), then as path → entry."""

    def __init__(self, root: Path, key: str, folder: Path | None = None):
        self.root = Path(root)
        self.folder = folder if folder is not None else cache_folder(self.root)
        self.key = key
        self._shards: list[dict[str, object] | None] = [{} for _ in range(SHARDS)]  # None: as `_columns` holds it
        self._columns: list[object | None] = [None] * SHARDS
        self.stamp_shards: list[dict[str, Stamp]] = [{} for _ in range(SHARDS)]  # the same paths as the entries
        self.filed: list[bytes | None] = [None] * SHARDS  # each shard's stamps as read (`shards.filed_stamps`)
        self.tokens: list[str | None] = [None] * SHARDS  # None: no shard file was read
        self.token = ""  # what `save` writes with each shard (vault/monitor.py)
        self.dirty: set[int] = set()

    def _file(self, n: int) -> Path:
        return self.folder / NAME.format(n)

    def shard(self, n: int) -> dict[str, object]:
        """Shard `n` as path → entry (made from its columns on first use)."""
        entries = self._shards[n]
        if entries is None:
            entries = self._shards[n] = _entries_of(self._columns[n])
            self._columns[n] = None
        return entries

    @property
    def shards(self) -> list[dict[str, object]]:
        return [self.shard(n) for n in range(SHARDS)]

    def records(self) -> Iterator[dict[str, list[tuple]]]:
        """Each shard's records by kind, as the index holds them still encoded (`encoded_records`), and
        without making an entry per note of a shard that is still as its file holds it."""
        for n in range(SHARDS):
            columns = self._columns[n]
            if columns is None:
                columns = _columns_of(self._shards[n])
            yield encoded_records(columns)

    def diagnostics(self) -> Iterator[tuple[str, object]]:
        """(path, diagnostics) of every cached note that has any."""
        for n in range(SHARDS):
            columns = self._columns[n]
            if columns is not None:
                yield from columns.diagnostics.items()
            else:
                yield from ((path, e.diagnostics) for path, e in self._shards[n].items() if e.diagnostics)

    def decode(self, n: int, blob: bytes) -> bool:
        """Take shard `n` from its bytes if they are a valid shard of this format and key."""
        try:
            shard = SHARD.decode(blob)
            if shard.format != FORMAT or shard.key != self.key:
                return False
            stamps, columns = STAMPS.decode(shard.stamps), _COLUMNS.decode(shard.entries)
        except UNREADABLE:
            return False
        if not _columns_valid(columns, stamps.keys()):
            return False
        self._shards[n], self._columns[n] = None, columns
        self.stamp_shards[n], self.filed[n] = stamps, bytes(shard.stamps)
        self.tokens[n] = shard.token if TOKEN.fullmatch(shard.token) else ""
        return True

    def encode(self, n: int) -> bytes:
        """Shard `n` as its file holds it: each kind's records in path order, so that a load's sort by
        path of all shards together merges 32 sorted runs."""
        columns = self._columns[n] if self._shards[n] is None else _columns_of(self._shards[n])
        return _ENCODER.encode(Shard(FORMAT, self.key, self.token, _ENCODER.encode(self.stamp_shards[n]),
                                     _ENCODER.encode(columns)))

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
        return self.shard(n).get(path) if self.stamp_shards[n].get(path) == stamp else None

    def put(self, path: str, stamp: Stamp, note: ParsedNote) -> None:
        n = shard_of(path)
        self.shard(n)[path] = make_entry(note)
        self.stamp_shards[n][path] = stamp
        self.dirty.add(n)

    def retain(self, paths, shards: Iterable[int] | None = None) -> None:
        """Forget notes that no longer exist."""
        for n in range(SHARDS) if shards is None else shards:
            stamps = self.stamp_shards[n]
            gone = stamps.keys() - paths
            shard = self.shard(n) if gone else {}
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

    def __len__(self) -> int:
        return sum(map(len, self.stamp_shards))
