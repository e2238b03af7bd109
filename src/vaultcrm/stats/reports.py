"""Management reports for one month: technicians, services and customers. Pure: records in, tables out.

A report is a list of `Table`s of raw values (numbers, Decimals, None for "cannot be told"), so the
same figures become a terminal table, Markdown, JSON or CSV without being computed twice; `cell_text`
is the one place that says how a value reads to a person.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from ..core.config import Settings
from ..core.index import VaultIndex
from ..models import ACTIVE_STATUSES, Appointment, ServiceRecord
from ..values import AppointmentStatus, Satisfaction
from .figures import percent
from .periods import Month

SATISFACTION_SCORE = {Satisfaction.VERY_SATISFIED: 4, Satisfaction.SATISFIED: 3, Satisfaction.NEUTRAL: 2,
                      Satisfaction.DISSATISFIED: 1}
UNASSIGNED = "未指定"
REBOOK_DAYS = 30
_BOOKED = ACTIVE_STATUSES | {AppointmentStatus.COMPLETED}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text, int, money, percent, score


@dataclass
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: list[dict] = field(default_factory=list)
    total: dict | None = None  # the 合计 row, when one makes sense


@dataclass
class Report:
    title: str
    month: Month
    tables: list[Table]
    summary: dict = field(default_factory=dict)  # figures about the whole (e.g. 复购率), name → value


def cell_text(kind: str, value) -> str:
    if value is None:
        return "—"
    if kind == "money":
        amount = Decimal(value).quantize(Decimal("0.01"))
        return f"¥{amount:,}".removesuffix(".00")
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "score":
        return f"{value:.1f}"
    return str(value)


def _mean(values: list, places: str = "0.1") -> float | None:
    if not values:
        return None
    return float((Decimal(sum(values)) / len(values)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def satisfaction_score(service: ServiceRecord) -> float | None:
    """满意度 on its 1–4 scale (非常满意 = 4 … 不满意 = 1); else 星级评分 1–5 mapped onto 1–4."""
    feedback = service.feedback
    if feedback.satisfaction is not None:
        return SATISFACTION_SCORE[feedback.satisfaction]
    if feedback.stars is not None:
        return 1 + (feedback.stars - 1) * 0.75
    return None


# -- technicians ----------------------------------------------------------------------------------
def working_minutes(settings: Settings, technician: str, month: Month) -> int | None:
    """Minutes the technician works in the month: daily hours × days that are not 休息日; None if unknown."""
    from ..booking.slots import is_day_off  # the booking rules own what a day off is

    conf = settings.technicians.get(technician)
    if conf is None or conf.hours is None or conf.hours.start is None or conf.hours.end is None:
        return None
    daily = (conf.hours.end.hour * 60 + conf.hours.end.minute) - (conf.hours.start.hour * 60 + conf.hours.start.minute)
    days = sum(1 for day in month.days() if not is_day_off(conf.days_off, day))
    return max(daily, 0) * days


def _tech_row(name: str, services: list[ServiceRecord], apps: list[Appointment], settings: Settings,
              month: Month) -> dict:
    revenue = sum((s.service.fee or Decimal(0) for s in services), Decimal(0))
    scores = [x for x in map(satisfaction_score, services) if x is not None]
    cancelled = sum(1 for a in apps if a.status is AppointmentStatus.CANCELLED)
    no_show = sum(1 for a in apps if a.status is AppointmentStatus.NO_SHOW)
    booked = sum(a.service.duration or settings.service_duration(a.service.service)
                 for a in apps if a.status in _BOOKED)
    available = working_minutes(settings, name, month)
    steps = sum(len(s.steps) for s in services)
    ticked = steps - sum(len(s.skipped_steps) for s in services)
    conf = settings.technicians.get(name)
    commission = (revenue * Decimal(str(conf.commission))).quantize(Decimal("0.01")) if conf else None
    return {"技师": name, "服务次数": len(services), "营业额": revenue, "平均满意度": _mean(scores),
            "预约数": len(apps), "取消率": percent(cancelled, len(apps)), "爽约率": percent(no_show, len(apps)),
            "利用率": percent(booked, available) if available else None,
            "提成比例": None if conf is None else float(Decimal(str(conf.commission)) * 100), "提成": commission,
            "流程完成率": percent(ticked, steps), "_steps": steps, "_ticked": ticked, "_booked": booked, "_available": available, "_scores": scores, "_cancelled": cancelled,
            "_no_show": no_show}


TECHNICIAN_COLUMNS = (Column("技师"), Column("服务次数", "int"), Column("营业额", "money"),
                      Column("平均满意度", "score"), Column("预约数", "int"), Column("取消率", "percent"),
                      Column("爽约率", "percent"), Column("利用率", "percent"), Column("提成比例", "percent"),
                      Column("提成", "money"), Column("流程完成率", "percent"))


def technician_report(index: VaultIndex, settings: Settings, month: Month) -> Report:
    """Per technician: SRV count and revenue, satisfaction, cancellations and no-shows over their APPs,
    utilisation (booked active/completed minutes ÷ working minutes), commission, and 流程完成率 (SOP steps
    ticked ÷ steps listed, over their services that carry a 服务流程 checklist; — when none does)."""
    services, apps = defaultdict(list), defaultdict(list)
    for s in index.services_between(month.first_day, month.last_day):
        services[s.service.technician or UNASSIGNED].append(s)
    for a in index.appointments_between(month.first_day, month.last_day):
        apps[a.service.technician or UNASSIGNED].append(a)
    names = list(settings.technicians) + sorted((set(services) | set(apps)) - set(settings.technicians) - {UNASSIGNED})
    if UNASSIGNED in services or UNASSIGNED in apps:
        names.append(UNASSIGNED)
    rows = [_tech_row(n, services[n], apps[n], settings, month) for n in names]
    n_apps = sum(r["预约数"] for r in rows)
    available = sum(r["_available"] for r in rows if r["_available"])
    booked = sum(r["_booked"] for r in rows if r["_available"])
    commissions = [r["提成"] for r in rows if r["提成"] is not None]
    total = {"技师": "合计", "服务次数": sum(r["服务次数"] for r in rows),
             "营业额": sum((r["营业额"] for r in rows), Decimal(0)),
             "平均满意度": _mean([x for r in rows for x in r["_scores"]]), "预约数": n_apps,
             "取消率": percent(sum(r["_cancelled"] for r in rows), n_apps),
             "爽约率": percent(sum(r["_no_show"] for r in rows), n_apps),
             "利用率": percent(booked, available) if available else None, "提成比例": None,
             "提成": sum(commissions, Decimal(0)) if commissions else None,
             "流程完成率": percent(sum(r["_ticked"] for r in rows), sum(r["_steps"] for r in rows))}
    rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    return Report("技师业绩", month, [Table("技师", TECHNICIAN_COLUMNS, rows, total)])


# -- services -------------------------------------------------------------------------------------
SERVICE_COLUMNS = (Column("服务项目"), Column("服务次数", "int"), Column("次数占比", "percent"),
                   Column("营业额", "money"), Column("营业额占比", "percent"), Column("平均单价", "money"))


def service_report(index: VaultIndex, settings: Settings, month: Month) -> Report:
    """Services by count and revenue, most performed first."""
    groups: dict[str, list[ServiceRecord]] = defaultdict(list)
    for s in index.services_between(month.first_day, month.last_day):
        groups[s.service.service or "未填写"].append(s)
    count = sum(len(g) for g in groups.values())
    revenue = sum((s.service.fee or Decimal(0) for g in groups.values() for s in g), Decimal(0))
    rows = []
    for name, group in groups.items():
        fees = [s.service.fee for s in group if s.service.fee is not None]
        amount = sum(fees, Decimal(0))
        rows.append({"服务项目": name, "服务次数": len(group), "次数占比": percent(len(group), count), "营业额": amount,
                     "营业额占比": _share(amount, revenue),
                     "平均单价": (amount / len(fees)).quantize(Decimal("0.01")) if fees else None})
    rows.sort(key=lambda r: (-r["服务次数"], -r["营业额"], r["服务项目"]))
    all_fees = [s.service.fee for g in groups.values() for s in g if s.service.fee is not None]
    total = {"服务项目": "合计", "服务次数": count, "次数占比": percent(count, count), "营业额": revenue,
             "营业额占比": _share(revenue, revenue),
             "平均单价": (revenue / len(all_fees)).quantize(Decimal("0.01")) if all_fees else None}
    return Report("服务项目统计", month, [Table("服务项目", SERVICE_COLUMNS, rows, total)])


def _share(part: Decimal, whole: Decimal) -> float | None:
    if not whole:
        return None
    return float((part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


__all__ = ["Column", "Report", "Table", "cell_text", "satisfaction_score", "service_report", "technician_report",
           "working_minutes"]
