"""`report stores`: one month per store and for the whole chain, and the chain's monthly note.

Each figure is counted per store from the records' `门店` (or the store in their ID), so the chain row
is the sum of the store rows (rates are recomputed from the summed counts, never averaged): 服务人次,
营业额 (SRV 服务费用), 新客户 (SRV that are their customer's first anywhere in the chain, counted at the
store that served it), 完成率 and 爽约 over the store's APP, 利用率 = booked minutes ÷ the working
minutes of the store's technicians. Records that carry no store are shown as 未分店.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ..core.config import Settings
from ..core.index import VaultIndex
from ..core.render import render
from ..core.stores import store_of
from ..models import ACTIVE_STATUSES
from ..stats.figures import percent
from ..stats.periods import Month
from ..stats.reports import Column, Report, Table, cell_text, working_minutes
from ..values import AppointmentStatus
from ..vault.writer import write_atomic

NO_STORE = "未分店"
BOOKED = ACTIVE_STATUSES | {AppointmentStatus.COMPLETED}
COLUMNS = (Column("门店"), Column("名称"), Column("服务人次", "int"), Column("营业额", "money"),
           Column("新客户", "int"), Column("预约数", "int"), Column("完成率", "percent"), Column("爽约", "int"),
           Column("利用率", "percent"))


def store_settings(settings: Settings, code: str) -> Settings:
    conf = settings.stores.get(code)
    if conf is None or conf.technicians is None:
        return settings
    return settings.model_copy(update={"technicians": conf.technicians})


def first_services(index: VaultIndex) -> set[str]:
    """IDs of the SRV that are their customer's first in the whole chain."""
    first: dict[str, tuple] = {}
    for s in index.services.values():
        key = index.key_of(s)
        if key is None or s.basics.date is None:
            continue
        order = (s.basics.date, s.basics.time or "", s.id)
        if key not in first or order < first[key][0]:
            first[key] = (order, s.id)
    return {sid for _, sid in first.values()}


def _row(code: str, name: str, services: list, apps: list, firsts: set[str], available: int | None) -> dict:
    done = sum(1 for a in apps if a.status is AppointmentStatus.COMPLETED)
    cancelled = sum(1 for a in apps if a.status is AppointmentStatus.CANCELLED)
    booked = sum(a.service.duration or 60 for a in apps if a.status in BOOKED)
    return {"门店": code, "名称": name, "服务人次": len(services),
            "营业额": sum((s.service.fee or Decimal(0) for s in services), Decimal(0)),
            "新客户": sum(1 for s in services if s.id in firsts), "预约数": len(apps),
            "完成率": percent(done, len(apps) - cancelled),
            "爽约": sum(1 for a in apps if a.status is AppointmentStatus.NO_SHOW),
            "利用率": percent(booked, available) if available else None,
            "_done": done, "_cancelled": cancelled, "_booked": booked, "_available": available or 0}


def store_report(index: VaultIndex, settings: Settings, month: Month) -> Report:
    first, last = month.first_day, month.last_day
    services = [s for s in index.services_between(first, last)]
    apps = [a for a in index.appointments_between(first, last)]
    firsts = first_services(index)
    codes = list(settings.stores)
    seen = {store_of(r) or NO_STORE for r in (*services, *apps)}
    codes += sorted(seen - set(codes))
    rows = []
    for code in codes:
        mine_s = [s for s in services if (store_of(s) or NO_STORE) == code]
        mine_a = [a for a in apps if (store_of(a) or NO_STORE) == code]
        conf = settings.stores.get(code)
        local = store_settings(settings, code)
        minutes = [working_minutes(local, t, month) for t in local.technicians] if conf else []
        available = sum(m for m in minutes if m) or None
        rows.append(_row(code, (conf.name if conf and conf.name else code), mine_s, mine_a, firsts, available))
    total = {"门店": "合计", "名称": "全连锁", "服务人次": sum(r["服务人次"] for r in rows),
             "营业额": sum((r["营业额"] for r in rows), Decimal(0)), "新客户": sum(r["新客户"] for r in rows),
             "预约数": sum(r["预约数"] for r in rows), "爽约": sum(r["爽约"] for r in rows)}
    done, cancelled = sum(r["_done"] for r in rows), sum(r["_cancelled"] for r in rows)
    total["完成率"] = percent(done, total["预约数"] - cancelled)
    available = sum(r["_available"] for r in rows)
    total["利用率"] = percent(sum(r["_booked"] for r in rows if r["_available"]), available) if available else None
    table = Table("各门店", COLUMNS, [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows], total)
    return Report("连锁门店月报", month, [table])


def chain_note(report: Report, templates: Path) -> str:
    table = report.tables[0]
    rows = table.rows + [table.total]
    cells = [[cell_text(c.kind, row.get(c.name)) for c in table.columns] for row in rows]
    return render("chain_report.md.j2", templates, title=report.title, month_label=report.month.label,
                  header=[c.name for c in table.columns], rows=cells,
                  names=[r["名称"] for r in table.rows], services=[r["服务人次"] for r in table.rows],
                  revenue=[int(r["营业额"]) for r in table.rows])


def write_chain_note(root: Path, settings: Settings, report: Report) -> str:
    relpath = f"{settings.folders.monthly}/连锁-{report.month}.md"
    target = root / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, chain_note(report, root / settings.folders.templates).encode("utf-8"), within=root)
    return relpath


__all__ = ["NO_STORE", "chain_note", "first_services", "store_report", "write_chain_note"]
