"""Exports for other tools: CSV tables for Excel, an iCalendar feed of appointments.

CSV: one file per record type, one column per template key (the flattened Chinese key path such as
`预约信息.客户姓名`, in template order), UTF-8 with a BOM so that Excel opens the Chinese correctly;
amounts and minutes are plain numbers so that a spreadsheet can add them up. The appointment feed
holds active and completed appointments in store-local time with their TZID, one VEVENT each.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import typing
from decimal import Decimal
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

from .config import Settings
from .errors import VaultCRMError
from .ical import Event, calendar
from .index import VaultIndex
from .models import ACTIVE_STATUSES, Appointment, Customer, FollowUp, Record, ServiceRecord
from .models.fields import Section
from .values import AppointmentStatus
from .vault.writer import write_atomic
from .vault.yamlfmt import format_datetime, format_time

CSV_FILES: dict[type[Record], str] = {Appointment: "预约.csv", ServiceRecord: "服务记录.csv", FollowUp: "跟进.csv",
                                      Customer: "客户.csv"}
PATH_COLUMN = "笔记路径"


def _section_of(annotation) -> tuple[type[Section] | None, bool]:
    """(the nested section type, whether it is a list of them) for a field's annotation."""
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation, False
    for arg in typing.get_args(annotation):
        sub, _ = _section_of(arg)
        if sub is not None:
            return sub, typing.get_origin(annotation) is list
    return None, False


def columns_of(model: type[BaseModel], prefix: str = "") -> list[tuple[str, tuple[str, ...]]]:
    """(column name, attribute path) for every key of the model, nested sections flattened, in order.

    A list of sections (a customer's 套餐) stays one column holding JSON.
    """
    found = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        label = prefix + (info.alias or name)
        sub, is_list = _section_of(info.annotation)
        if sub is not None and not is_list:
            found.extend((col, (name, *path)) for col, path in columns_of(sub, label + "."))
        else:
            found.append((label, (name,)))
    return found


def cell(value) -> str:
    """A value as text a spreadsheet reads: ISO dates, `14:00`, plain numbers, 是/否, lists joined by `；`."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return format_time(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        if any(isinstance(v, BaseModel) for v in value):
            return json.dumps([v.model_dump(mode="json", by_alias=True) for v in value], ensure_ascii=False)
        return "；".join(cell(v) for v in value)
    return str(value)


def csv_text(model: type[Record], records: list[Record]) -> str:
    columns = columns_of(model)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in columns] + [PATH_COLUMN])
    for record in sorted(records, key=lambda r: r.record_id):
        row = []
        for _, path in columns:
            value = record
            for attr in path:
                value = getattr(value, attr)
            row.append(cell(value))
        writer.writerow(row + [record.path])
    return buffer.getvalue()


def export_csv(index: VaultIndex, out_dir: Path) -> list[tuple[Path, int, bool]]:
    """Write the four CSV files; (path, rows, whether it changed) for each."""
    tables = {Appointment: index.appointments, ServiceRecord: index.services, FollowUp: index.followups,
              Customer: index.customers}
    results = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for model, name in CSV_FILES.items():
            records = list(tables[model].values())
            path = out_dir / name
            changed = write_atomic(path, csv_text(model, records).encode("utf-8-sig"))
            results.append((path, len(records), changed))
    except OSError as exc:
        raise VaultCRMError(f"无法写入导出文件到 {out_dir}：{exc.strerror or exc}") from None
    return results


# -- iCalendar ------------------------------------------------------------------------------------
_ICS_STATUS = {AppointmentStatus.PENDING: "TENTATIVE"}


def appointment_event(app: Appointment, settings: Settings) -> Event | None:
    start = app.start
    if start is None:
        return None
    who = app.info.customer_name or "客户"
    details = [("预约编号", app.id), ("客户", app.info.customer_name), ("技师", app.service.technician),
               ("状态", app.status.value), ("渠道", app.info.channel and app.info.channel.value),
               ("力度", app.requests.strength and app.requests.strength.value), ("其他需求", app.requests.other)]
    return Event(uid=f"{app.id}@vaultcrm", start=start,
                 end=app.end(settings.service_duration(app.service.service)),
                 stamp=app.state.created_at or start, summary=f"{app.service.service or '预约'} · {who}",
                 status=_ICS_STATUS.get(app.status, "CONFIRMED"), location=app.service.room,
                 description="\n".join(f"{k}：{v}" for k, v in details if v))


def export_ics(index: VaultIndex, settings: Settings, technician: str | None = None) -> tuple[str, int]:
    """The feed of active and completed appointments (of one technician if given); (text, events)."""
    if technician and settings.technicians and technician not in settings.technicians:
        known = "、".join(settings.technicians)
        raise VaultCRMError(f"未知的技师「{technician}」，可选：{known}")
    wanted = ACTIVE_STATUSES | {AppointmentStatus.COMPLETED}
    events = []
    for app in sorted(index.appointments.values(), key=lambda a: (a.start or dt.datetime.min, a.id)):
        if app.status not in wanted or (technician and app.service.technician != technician):
            continue
        event = appointment_event(app, settings)
        if event is not None:
            events.append(event)
    name = f"{settings.studio}预约" + (f"（{technician}）" if technician else "")
    return calendar(events, settings.timezone, name), len(events)
