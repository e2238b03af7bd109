"""What a customer's history says before the next visit: recent no-shows and 服务记忆.

Both the booking checks (`booking/safety.py`, which refuses a booking past the studio's 爽约上限)
and the customer 360 view read these facts, so they live with the customer, below both. Pure: a
history in, plain values out.
"""

from __future__ import annotations

import datetime as dt

from ..core.index import CustomerHistory
from ..models import ServiceRecord
from ..values import AppointmentStatus

NO_SHOW_WINDOW_YEARS = 1


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - NO_SHOW_WINDOW_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year - NO_SHOW_WINDOW_YEARS, day=28)


def no_show_count(history: CustomerHistory | None, today: dt.date) -> int:
    """Appointments marked 未到店 dated within the twelve months up to `today`."""
    if history is None:
        return 0
    since = _year_before(today)
    return sum(1 for a in history.appointments
               if a.status is AppointmentStatus.NO_SHOW and a.info.date and since < a.info.date <= today)


def service_memory(last: ServiceRecord | None) -> list[tuple[str, str]]:
    if last is None:
        return []
    d = last.details
    skipped = "、".join(last.skipped_steps) or None  # steps of the SOP left unticked: worth a word next time
    pairs = (("服务前注意事项", d.before.cautions), ("服务后注意事项", d.after.cautions),
             ("调整内容", d.during.adjustments), ("后续建议", last.aftercare.advice), ("跳过的流程", skipped))
    return [(label, text) for label, text in pairs if text]
