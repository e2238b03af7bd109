"""All records of a vault, with their cross-references: customer → appointments, services, follow-ups.

Pure data: built from records, no I/O. Notes written from the raw template may lack a 客户编号; they
are tied to a profile by phone, then by an unambiguous name, so statistics and histories count them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .models import Appointment, Customer, FollowUp, Record, ServiceRecord


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
    def __init__(self, root: Path, records: list[Record]):
        self.root = root
        self.records = records
        self.appointments: dict[str, Appointment] = {}
        self.services: dict[str, ServiceRecord] = {}
        self.followups: dict[str, FollowUp] = {}
        self.customers: dict[str, Customer] = {}
        self.duplicates: dict[str, list[Record]] = {}
        tables = {"APP": self.appointments, "SRV": self.services, "FLW": self.followups, "CUS": self.customers}
        for record in sorted(records, key=lambda r: r.path):
            table = tables[record.kind]
            first = table.setdefault(record.record_id, record)
            if first is not record:
                self.duplicates.setdefault(record.record_id, [first]).append(record)

    # -- lookups -----------------------------------------------------------------------------------
    def get(self, record_id: str) -> Record | None:
        for table in (self.appointments, self.services, self.followups, self.customers):
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
        if query in self.customers:
            return [self.customers[query]]
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

    def history(self, customer_key: str) -> CustomerHistory:
        return self.histories.get(customer_key) or CustomerHistory(self.customers.get(customer_key))

    def services_sorted(self) -> list[ServiceRecord]:
        return sorted(self.services.values(), key=_sort_key_service)

    def appointments_on(self, day: dt.date) -> list[Appointment]:
        return sorted((a for a in self.appointments.values() if a.info.date == day), key=_sort_key_appointment)
