"""`export ics`: an iCalendar feed of appointments, for a phone's or a desktop's calendar.

The feed holds active and completed appointments in store-local time with their TZID, one VEVENT
each; the text format itself (escaping, folding, VTIMEZONE) is `ical.py`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..core.config import Settings
from ..core.index import VaultIndex
from ..errors import VaultCRMError
from ..models import ACTIVE_STATUSES, Appointment
from ..values import AppointmentStatus
from ..vault.writer import write_atomic
from .ical import Event, calendar

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
    statuses = index.appointments.column("state", "status")  # read alone: cancelled ones are never built
    exported = (index.appointments[i] for i, status in statuses.items()
                if (status or AppointmentStatus.PENDING) in wanted)
    events = []
    for app in sorted(exported, key=lambda a: (a.start or dt.datetime.min, a.id)):
        if technician and app.service.technician != technician:
            continue
        event = appointment_event(app, settings)
        if event is not None:
            events.append(event)
    name = f"{settings.studio}预约" + (f"（{technician}）" if technician else "")
    return calendar(events, settings.timezone, name), len(events)


def save_ics(text: str, out: Path) -> None:
    try:
        write_atomic(out.expanduser(), text.encode("utf-8"))
    except OSError as exc:
        raise VaultCRMError(f"无法写入 {out}：{exc.strerror or exc}") from None
