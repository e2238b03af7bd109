"""Booking a series (疗程): every occurrence written in one journalled operation, or none.

Under the `booking` lock, like `book`: the vault is read, the series planned (booking/series.py), and
— when every occurrence can be booked, or with `--skip-conflicts` the ones that can — the new customer's
profile and all the appointments are staged in one `core.journal.transaction`. A kill half way is
finished by the next command; the same command run again right after reports the finished series
instead of booking it twice.

The `系列编号` (SER-YYYY-NNN, the year it was booked) names no note of its own: it is the next number
after the highest one the vault's appointments carry, taken under the booking lock that every series
is booked under (vault/ids.py `next_free`). Each occurrence also carries its `疗程序号` (3/8, counting
the occurrences booked) and, drawing on a 次卡, the card's name as `使用套餐`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..core import store
from ..core.journal import transaction
from ..core.loader import Vault, load_vault
from ..core.locks import BOOKING, booking_lock
from ..diagnostics import Diagnostic
from ..models import Appointment, Customer
from ..vault import ids
from .actions import BookingPlan, BookingRequest, Loader, request_key
from .safety import brief
from .series import Occurrence, Repeat, day_text, plan_series


@dataclass(frozen=True)
class Skipped:
    """An occurrence `--skip-conflicts` left out, as reported (and kept in the journal for a re-run)."""

    number: int
    date: dt.date
    time: dt.time
    reason: str
    alternative: str

    @classmethod
    def of(cls, o: Occurrence) -> Skipped:
        return cls(o.number, o.date, o.time, o.reason or "", o.alternative_text())

    def as_data(self) -> dict:
        return {"序号": self.number, "日期": self.date.isoformat(), "时间": f"{self.time:%H:%M}", "原因": self.reason,
                "最近的空闲": self.alternative}

    @classmethod
    def from_data(cls, data: dict) -> Skipped:
        return cls(int(data["序号"]), dt.date.fromisoformat(data["日期"]), dt.time.fromisoformat(data["时间"]),
                   str(data["原因"]), str(data["最近的空闲"]))

    def line(self) -> str:
        return f"第 {self.number} 次 {day_text(self.date)} {self.time:%H:%M}：{self.reason}；最近的空闲：{self.alternative}"


@dataclass
class SeriesBooked:
    series_id: str
    customer: Customer
    appointments: list[Appointment]
    skipped: list[Skipped]
    plan: BookingPlan  # the customer, briefing and what --force let through, as `book` reports them
    package: str | None
    repeat: Repeat
    diagnostics: list[Diagnostic] = field(default_factory=list)
    again: bool = False  # reported from an interrupted run that the start-up replay finished


def series_key(req: BookingRequest, repeat: Repeat, skip_conflicts: bool, use_package: bool) -> str:
    text = f"{request_key(req)}|{repeat.every_days}|{repeat.times}|{skip_conflicts}|{use_package}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _series_ids(vault: Vault) -> set[str]:
    return vault.index.appointments.distinct("info", "series")


def book_series(root: Path, req: BookingRequest, repeat: Repeat, *, skip_conflicts: bool = False,
                use_package: bool = False, load: Loader = load_vault) -> SeriesBooked:
    """Plan the series and write all of it (the new customer's profile too), or refuse and write nothing."""
    with booking_lock(root):
        vault = load(root)
        settings = vault.settings
        now = req.now or settings.now()
        key = series_key(req, repeat, skip_conflicts, use_package)
        again = _finished_before(vault, key, req, repeat, now)
        if again is not None:
            return again
        plan = plan_series(vault.index, settings, req, repeat, now, use_package=use_package,
                           skip_conflicts=skip_conflicts)
        refusal = plan.refusal(skip_conflicts=skip_conflicts)
        if refusal is not None:
            raise refusal
        series_id = ids.next_free("SER", now.year, _series_ids(vault), vault.settings.store)
        booked = plan.booked
        card = (plan.package.name or "次卡") if plan.package else None
        with transaction(vault.root, "series", lock=BOOKING, key=key) as journal:
            customer = plan.customer
            if plan.is_new_customer:
                customer = store.create_record(vault.root, settings, customer, vault.index.customers.keys())
            made = []
            for position, occurrence in enumerate(booked, start=1):
                a = occurrence.plan.appointment
                info = a.info.model_copy(update={"customer_id": customer.id, "customer_link": customer.link,
                                                 "series": series_id, "series_position": f"{position}/{len(booked)}",
                                                 "package": card})
                made.append(store.create_record(vault.root, settings, a.model_copy(update={"info": info}),
                                                [*vault.index.appointments.keys(), *(m.id for m in made)],
                                                year=now.year))
            skipped = [Skipped.of(o) for o in plan.failed]
            journal.result = {"series": series_id, "appointments": [m.id for m in made], "customer": customer.id,
                              "new": plan.is_new_customer, "skipped": [s.as_data() for s in skipped]}
    summary = BookingPlan(customer, plan.is_new_customer, made[0], plan.briefing, plan.overridden(), plan.namesakes)
    return SeriesBooked(series_id, customer, made, skipped, summary, card, repeat, vault.diagnostics)


def _finished_before(vault: Vault, key: str, req: BookingRequest, repeat: Repeat,
                     now: dt.datetime) -> SeriesBooked | None:
    """This very series as booked, when loading the vault has just finished its interrupted run."""
    for done in vault.recovered:
        if done.op != "series" or done.key != key or done.problems:
            continue
        made = [vault.index.appointments.get(i) for i in done.result.get("appointments") or []]
        customer = vault.index.customers.get(done.result.get("customer") or "")
        if not made or None in made or customer is None:
            return None
        new = bool(done.result.get("new"))
        briefing = brief(None if new else customer, None if new else vault.index.history(customer.id),
                         req.service.strip(), vault.settings, now.date())
        try:
            skipped = [Skipped.from_data(s) for s in done.result.get("skipped") or []]
        except (KeyError, TypeError, ValueError):
            skipped = []
        return SeriesBooked(str(done.result.get("series")), customer, made, skipped,
                            BookingPlan(customer, new, made[0], briefing), made[0].info.package, repeat,
                            vault.diagnostics, again=True)
    return None


__all__ = ["SeriesBooked", "Skipped", "book_series", "series_key"]
