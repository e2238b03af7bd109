"""Pydantic models of the record notes, with the template's Chinese keys as aliases."""

from .appointment import ACTIVE_STATUSES, TERMINAL_STATUSES, Appointment
from .customer import Customer
from .fields import Record
from .followup import FollowUp
from .leave import Leave
from .service import ServiceRecord
from .waitlist import WaitlistEntry

# Customer last: a note is a profile only when no other record's ID key is at its top level.
RECORD_TYPES: tuple[type[Record], ...] = (Appointment, ServiceRecord, FollowUp, WaitlistEntry, Leave, Customer)
TYPE_BY_KIND = {t.kind: t for t in RECORD_TYPES}
TYPE_BY_ID_KEY = {t.id_key: t for t in RECORD_TYPES}

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "Appointment", "Customer", "FollowUp", "Leave", "RECORD_TYPES",
           "Record", "ServiceRecord", "TYPE_BY_ID_KEY", "TYPE_BY_KIND", "WaitlistEntry"]
