"""Pydantic models of the four record notes, with the template's Chinese keys as aliases."""

from .appointment import ACTIVE_STATUSES, TERMINAL_STATUSES, Appointment
from .customer import Customer
from .fields import Record
from .followup import FollowUp
from .service import ServiceRecord

RECORD_TYPES: tuple[type[Record], ...] = (Appointment, ServiceRecord, FollowUp, Customer)
TYPE_BY_KIND = {t.kind: t for t in RECORD_TYPES}
TYPE_BY_ID_KEY = {t.id_key: t for t in RECORD_TYPES}

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "Appointment", "Customer", "FollowUp", "RECORD_TYPES",
           "Record", "ServiceRecord", "TYPE_BY_ID_KEY", "TYPE_BY_KIND"]
