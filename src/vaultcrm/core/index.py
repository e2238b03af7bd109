"""All records of a vault, with their cross-references: customer → appointments, services, follow-ups.

Pure data: built from records, no I/O. Notes written from the raw template may lack a 客户编号; they
are tied to a profile by phone, then by an unambiguous name, so statistics and histories count them.

A record from the parse cache comes in three stages: still encoded (a `(path, ID, head, data, kind)`
tuple whose ID and head fields are known, `vault/cache.py`), plain data (a dict), then a model, each
made on first need.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, partial
from operator import itemgetter
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

from ..models import Appointment, Customer, FollowUp, Leave, Record, ServiceRecord, WaitlistEntry
from ..models.fields import rebuild
from ..vault.cache import HEAD, NO_VALUE, field_value, record_data

R = TypeVar("R", bound=Record)

#: Reads a note (path, kind) again when its cached data fails its checks: the record of that kind it
#: holds now (the loader refuses to go on when it holds none).
Reread = Callable[[str, str], Record]


def _path_of(item) -> str:
    kind = type(item)
    return item[0] if kind is tuple else item["path"] if kind is dict else item.path


class RecordTable(Mapping[str, R], Generic[R]):
    """ID → record. A record from the parse cache stays encoded, then plain data, until it is looked at.

    A warm start of a 100,000-note vault must not build 100,000 models when a command needs a few
    hundred; `on_date` answers from the entries' heads without decoding any more of them.
    """

    def __init__(self, model: type[R], reread: Reread | None = None):
        self.model = model
        self.reread = reread
        self._items: dict[str, R | dict | tuple] = {}
        self._memo: dict[tuple, object] = {}  # results of `column`/`dates`: a built table never changes
        self._head = {names: n for n, names in enumerate(HEAD.get(model.kind, ()))}

    def _decoded(self, item: tuple) -> R | dict:
        """An encoded entry's data, or its note's record read anew when the data fails its checks."""
        path, record_id, head, encoded, kind = item
        data = record_data(kind, record_id, head, encoded)
        if data is not None:
            data["path"] = path
            return data
        if self.reread is None:
            raise LookupError(f"{path}: cached data failed its checks and there is no vault to read it from")
        return self.reread(path, self.model.kind)

    def _plain(self, record_id: str, item: tuple) -> R | dict:
        found = self._items[record_id] = self._decoded(item)
        return found

    def __getitem__(self, record_id: str) -> R:
        item = self._items[record_id]
        if type(item) is tuple:
            item = self._plain(record_id, item)
        if type(item) is dict:
            item = self._items[record_id] = rebuild(self.model, item)
        return item

    def value(self, record_id: str, *names: str) -> object:
        """The value at `names` (field names) of one record, without building its model."""
        item = self._items[record_id]
        if type(item) is tuple:
            at = self._head.get(names)
            if at is not None:
                return item[2][at]
            found = field_value(item[4], item[3], names)
            if found is not NO_VALUE:
                return found
            item = self._plain(record_id, item)
        for name in names:
            item = item[name] if type(item) is dict else getattr(item, name)
        return item

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._items

    def keys(self):
        """The IDs as the dict's own view: iterated in C (ID allocation walks every ID of a table)."""
        return self._items.keys()

    def column(self, *names: str) -> dict[str, object]:
        """ID → the value at `names` (field names, e.g. "info", "customer_id") of every record, without
        building models. Computed once per table and shared: read it, never change it."""
        memo = self._memo.get(("column", *names))
        if memo is None:
            memo = self._memo[("column", *names)] = self._column(names)
        return memo  # type: ignore[return-value]

    def _column(self, names: tuple[str, ...]) -> dict[str, object]:
        value = self.value
        return {record_id: value(record_id, *names) for record_id in list(self._items)}

    def dates(self, section: str, key: str) -> dict[dt.date, list[str]]:
        """IDs by the date (or any scalar) at `section.key` (field names), read without building models.
        Computed once per table and shared: read it, never change it."""
        memo = self._memo.get(("dates", section, key))
        if memo is None:
            memo = self._memo[("dates", section, key)] = self._dates(section, key)
        return memo  # type: ignore[return-value]

    def _dates(self, section: str, key: str) -> dict[dt.date, list[str]]:
        table: dict[dt.date, list[str]] = defaultdict(list)
        at = self._head.get((section, key))
        value = self.value
        for record_id, item in list(self._items.items()):
            day = item[2][at] if type(item) is tuple and at is not None else value(record_id, section, key)
            table[day].append(record_id)
        table.pop(None, None)
        return dict(table)

    def distinct(self, section: str, key: str) -> set:
        """The values at `section.key` (field names), e.g. every 系列编号, read without building models."""
        value = self.value
        found = {value(record_id, section, key) for record_id in list(self._items)}
        found.discard(None)
        return found

    def model_of(self, item: R | dict | tuple) -> R:
        """A model of an item as stored (for the records of duplicate IDs, which are not in the table)."""
        if type(item) is tuple:
            item = self._decoded(item)
        return rebuild(self.model, item) if type(item) is dict else item


class Visit(NamedTuple):
    """A service record as the segment, tier and points rules read it: its date and its fee."""

    date: dt.date | None
    fee: Decimal | None


def visits_of(services: Iterable[ServiceRecord]) -> list[Visit]:
    return [Visit(s.basics.date, s.service.fee) for s in services]


@dataclass
class CustomerHistory:
    customer: Customer | None
    appointments: list[Appointment] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)
    followups: list[FollowUp] = field(default_factory=list)


def _sort_key_service(s: ServiceRecord):
    return (s.basics.date or dt.date.min, s.basics.time or "", s.id)


def _sort_key_appointment(a: Appointment):
    return (a.info.date or dt.date.min, a.info.time or dt.time(), a.id)


class VaultIndex:
    """`records` are models; `cached` are still encoded records from the parse cache, as
    `(path, ID, head, data, kind)`; `reread` reads a note whose cached data fails its checks when decoded."""

    def __init__(self, root: Path, records: Iterable[Record] = (), cached: Iterable[tuple] = (),
                 reread: Reread | None = None):
        self.root = root
        self.reread = reread
        self.appointments: RecordTable[Appointment] = RecordTable(Appointment, reread)
        self.services: RecordTable[ServiceRecord] = RecordTable(ServiceRecord, reread)
        self.followups: RecordTable[FollowUp] = RecordTable(FollowUp, reread)
        self.customers: RecordTable[Customer] = RecordTable(Customer, reread)
        self.waitlist: RecordTable[WaitlistEntry] = RecordTable(WaitlistEntry, reread)
        self.leaves: RecordTable[Leave] = RecordTable(Leave, reread)
        self.duplicates: dict[str, list[Record]] = {}
        add = {table.model.kind: table._items.setdefault for table in self._tables}
        items = [(r.path, r) for r in records]
        items.extend(cached)
        items.sort(key=itemgetter(0))  # by path: of two notes with one ID, the first path's is the table's
        for pair in items:
            if len(pair) == 5:  # still encoded: (path, ID, head, data, kind), stored as it is
                kind, record_id, item = pair[4], pair[1], pair
            else:
                item = pair[1]
                kind, record_id = item.kind, item.record_id
            first = add[kind](record_id, item)
            if first is not item:
                table = self.table(kind)
                self.duplicates.setdefault(record_id, [table.model_of(first)]).append(table.model_of(item))

    @classmethod
    def of_encoded(cls, root: Path, by_kind: dict[str, list[tuple]], reread: Reread | None = None) -> VaultIndex:
        """The index of records all still encoded, given by kind (as `Cache.records` yields them): each
        table is made in one step, in path order; `VaultIndex(...)` sorts out an ID taken twice."""
        index = cls(root, reread=reread)
        for kind, items in by_kind.items():
            items.sort(key=itemgetter(0))  # by path: the order a build from all notes gives
            table = index.table(kind)
            table._items = dict(zip(map(itemgetter(1), items), items))
            if len(table._items) != len(items):
                return cls(root, (), [item for items in by_kind.values() for item in items], reread)
        return index

    def table(self, kind: str) -> RecordTable:
        """The table of a record kind ("APP", "SRV", …)."""
        return next(table for table in self._tables if table.model.kind == kind)

    @cached_property
    def ids_by_path(self) -> dict[str, tuple[str, str]]:
        """path → (kind, ID) of every record in the tables."""
        found: dict[str, tuple[str, str]] = {}
        for table in self._tables:
            kind = table.model.kind
            for record_id, item in table._items.items():
                found[_path_of(item)] = (kind, record_id)
        return found

    def updated(self, paths: set[str], records: list[Record]) -> VaultIndex | None:
        """This index with the notes at `paths` read anew: their records now `records` (none for a note
        that is gone or holds no record). Every table comes out in the order a fresh build gives (by
        path). None when an ID would be taken twice: duplicates are sorted out by a fresh build."""
        if self.duplicates:
            return None
        at = self.ids_by_path
        new_at = {record.path: record for record in records}
        if len(new_at) != len(records):
            return None
        index = VaultIndex(self.root, reread=self.reread)
        path_ids = dict(at)
        removed: dict[str, list[str]] = {}  # kind → IDs no longer in the vault (or moved)
        kept: dict[str, list[Record]] = {}  # kind → records read anew at the path they were at
        added: dict[str, list[Record]] = {}  # kind → records new at their path
        for path in paths:
            old, record = at.get(path), new_at.get(path)
            if old is not None and record is not None and old == (record.kind, record.record_id):
                kept.setdefault(record.kind, []).append(record)
                continue
            if old is not None:
                removed.setdefault(old[0], []).append(old[1])
                del path_ids[path]
            if record is not None:
                added.setdefault(record.kind, []).append(record)
                path_ids[path] = (record.kind, record.record_id)
        for table in self._tables:
            kind = table.model.kind
            if kind not in removed and kind not in kept and kind not in added:
                same = index.table(kind)
                same._items, same._memo = table._items.copy(), table._memo  # the same records: the same answers
                continue
            items = dict(table._items)
            for old_id in removed.get(kind, ()):
                del items[old_id]
            for record in kept.get(kind, ()):
                items[record.record_id] = record  # the same key: its place in the order stays
            for record in added.get(kind, ()):
                if record.record_id in items:
                    return None
                items[record.record_id] = record
            if kind in added:  # where a fresh build would put them: by path
                items = dict(sorted(items.items(), key=lambda kv: _path_of(kv[1])))
            index.table(kind)._items = items
        index.__dict__["ids_by_path"] = path_ids
        return index

    def by_path(self) -> dict[str, tuple[str, Record | dict | tuple]]:
        """path → (kind, record as stored: a model, plain data or an encoded entry), building no model."""
        found: dict[str, tuple[str, Record | dict | tuple]] = {}
        for table in self._tables:
            kind = table.model.kind
            for item in table._items.values():
                found[_path_of(item)] = (kind, item)
        return found

    @property
    def records(self) -> list[Record]:
        """Every record (building all models: for whole-vault work such as `check`)."""
        return [record for table in self._tables for record in table.values()]

    @property
    def _tables(self) -> tuple[RecordTable, ...]:
        return (self.appointments, self.services, self.followups, self.customers, self.waitlist, self.leaves)

    def prepare(self) -> None:
        """Build the lookup tables most commands use now rather than on first use (the warm worker
        does this while idle, so that its forked commands find them built)."""
        for name in ("_by_phone", "_by_name", "_appointment_dates", "_service_dates"):
            getattr(self, name)
        for kind in self._SECTIONS:
            self._customer_ids(kind)

    def head_tables(self) -> list[Callable[[], object]]:
        """Steps that build, each in a few hundredths of a second on 100,000 notes, the tables by date
        and by customer that most commands look up, from the entries' heads alone (a load runs them
        while it waits for the scan; a table built stays with the index while the scan confirms it)."""
        return [lambda: self._appointment_dates, lambda: self._service_dates,
                *(partial(getattr(self, kind).dates, section, "customer_id") for kind, section in self._SECTIONS.items())]

    # -- lookups -----------------------------------------------------------------------------------
    def get(self, record_id: str) -> Record | None:
        for table in self._tables:
            if record_id in table:
                return table[record_id]
        return None

    @cached_property
    def _by_phone(self) -> dict[str, list[Customer]]:
        table: dict[str, list[Customer]] = defaultdict(list)
        for c in self.customers.values():
            if c.phone:
                table[c.phone].append(c)
        return table

    @cached_property
    def _by_name(self) -> dict[str, list[Customer]]:
        table: dict[str, list[Customer]] = defaultdict(list)
        for c in self.customers.values():
            if c.name:
                table[c.name].append(c)
        return table

    def find_customers(self, query: str) -> list[Customer]:
        """By 客户编号, phone or name; several results mean the name is ambiguous."""
        query = query.strip()
        if query.upper() in self.customers:  # 客户编号 typed as c-0001 too
            return [self.customers[query.upper()]]
        digits = "".join(ch for ch in query if ch.isdigit() or ch == "+")
        if digits and digits == query.replace(" ", "").replace("-", "") and digits in self._by_phone:
            return list(self._by_phone[digits])
        return list(self._by_name.get(query, []))

    def customer_key(self, customer_id: str | None, name: str | None, phone: str | None) -> str | None:
        """The profile a note belongs to: its 客户编号, else the profile with its phone, else its name."""
        if customer_id:
            return customer_id
        if phone and len(self._by_phone.get(phone, [])) == 1:
            return self._by_phone[phone][0].id
        if name:
            matches = self._by_name.get(name, [])
            return matches[0].id if len(matches) == 1 else f"姓名:{name}"
        return None

    def key_of(self, record: Record) -> str | None:
        if isinstance(record, Customer):
            return record.id
        info = record.info if isinstance(record, Appointment) else record.customer
        return self.customer_key(info.customer_id, info.customer_name, info.phone)

    @cached_property
    def histories(self) -> dict[str, CustomerHistory]:
        table: dict[str, CustomerHistory] = {cid: CustomerHistory(c) for cid, c in self.customers.items()}
        for kind, records in (("appointments", self.appointments), ("services", self.services),
                              ("followups", self.followups)):
            for record in records.values():
                key = self.key_of(record)
                if key is None:
                    continue
                history = table.get(key)
                if history is None:
                    history = table[key] = CustomerHistory(None)
                getattr(history, kind).append(record)
        for history in table.values():
            history.appointments.sort(key=_sort_key_appointment)
            history.services.sort(key=_sort_key_service)
        return table

    _SECTIONS = {"appointments": "info", "services": "customer", "followups": "customer"}

    def _customer_ids(self, kind: str) -> dict[str, list[str]]:
        """Customer key → IDs in one table ("appointments", "services", "followups"), read from plain data
        where the note names its 客户编号; built on first use, per table.

        Only notes without a 客户编号 (made from the raw template) need their model built to be placed.
        """
        memo = self.__dict__.setdefault("_ids_by_customer", {})
        found = memo.get(kind)
        if found is None:
            table: RecordTable = getattr(self, kind)
            found = table.dates(self._SECTIONS[kind], "customer_id")  # shared: copied before it is added to
            if sum(map(len, found.values())) != len(table):  # notes without a 客户编号: placed by phone or name
                by_key: dict[str, list[str]] = defaultdict(list)
                for customer_id, ids in found.items():
                    by_key[customer_id].extend(ids)
                placed = {i for ids in found.values() for i in ids}
                for record_id in table.keys() - placed:
                    key = self.key_of(table[record_id])
                    if key is not None:
                        by_key[key].append(record_id)
                found = dict(by_key)
            memo[kind] = found
        return found

    def history(self, customer_key: str, *, appointments: bool = True) -> CustomerHistory:
        """One customer's records, building only their models (`appointments=False`: without the
        appointments, for rules that read services and follow-ups only)."""
        if "histories" in self.__dict__:
            found = self.histories.get(customer_key)
            return found or CustomerHistory(self.customers.get(customer_key))
        history = CustomerHistory(
            self.customers.get(customer_key),
            [self.appointments[i] for i in self._customer_ids("appointments").get(customer_key, ())]
            if appointments else [],
            [self.services[i] for i in self._customer_ids("services").get(customer_key, ())],
            [self.followups[i] for i in self._customer_ids("followups").get(customer_key, ())],
        )
        history.appointments.sort(key=_sort_key_appointment)
        history.services.sort(key=_sort_key_service)
        return history

    def visits_of(self, customer_key: str) -> list[Visit]:
        """One customer's services as visits (date, fee), read from plain data: no model is built."""
        if "histories" in self.__dict__:
            found = self.histories.get(customer_key)
            return visits_of(found.services) if found else []
        value = self.services.value
        return [Visit(value(i, "basics", "date"), value(i, "service", "fee"))
                for i in self._customer_ids("services").get(customer_key, ())]

    def services_of(self, customer_key: str) -> list[ServiceRecord]:
        """One customer's service records in date order, building no appointment or follow-up."""
        if "histories" in self.__dict__:
            found = self.histories.get(customer_key)
            return list(found.services) if found else []
        ids = self._customer_ids("services").get(customer_key, ())
        return sorted((self.services[i] for i in ids), key=_sort_key_service)

    def keys_served_since(self, first: dt.date) -> set[str]:
        """Customer keys with a service record dated `first` or later, found from plain data."""
        wanted = {i for day, ids in self._service_dates.items() if day >= first for i in ids}
        return {key for key, ids in self._customer_ids("services").items() if not wanted.isdisjoint(ids)}

    def services_sorted(self) -> list[ServiceRecord]:
        return sorted(self.services.values(), key=_sort_key_service)

    @cached_property
    def _appointment_dates(self) -> dict[dt.date, list[str]]:
        return self.appointments.dates("info", "date")

    @cached_property
    def _service_dates(self) -> dict[dt.date, list[str]]:
        return self.services.dates("basics", "date")

    def appointments_on(self, day: dt.date) -> list[Appointment]:
        """Appointments dated `day` (by 预约日期), in time order; builds only those models."""
        ids = self._appointment_dates.get(day, [])
        return sorted((self.appointments[i] for i in ids), key=_sort_key_appointment)

    def services_on(self, day: dt.date) -> list[ServiceRecord]:
        """Service records dated `day` (by 服务日期), in time order."""
        ids = self._service_dates.get(day, [])
        return sorted((self.services[i] for i in ids), key=_sort_key_service)

    def appointments_between(self, first: dt.date, last: dt.date) -> list[Appointment]:
        """Appointments dated first..last inclusive."""
        return [a for day in sorted(d for d in self._appointment_dates if first <= d <= last)
                for a in self.appointments_on(day)]

    def services_between(self, first: dt.date, last: dt.date) -> list[ServiceRecord]:
        return [s for day in sorted(d for d in self._service_dates if first <= d <= last)
                for s in self.services_on(day)]

    def leaves_between(self, first: dt.date, last: dt.date) -> list[Leave]:
        """Leave notes whose period touches any day of first..last (few: read them all)."""
        found = []
        for leave in self.leaves.values():
            period = leave.period
            if period is not None and period[0].date() <= last and first <= (period[1] - dt.timedelta(microseconds=1)).date():
                found.append(leave)
        return sorted(found, key=lambda lv: (lv.period, lv.id))

    def waiting_on(self, day: dt.date) -> list[WaitlistEntry]:
        """Open 候补 entries for `day`, oldest first (first come, first offered)."""
        found = [w for w in self.waitlist.values() if w.date == day and w.is_open]
        return sorted(found, key=lambda w: (w.created_at or dt.datetime.min, w.id))
