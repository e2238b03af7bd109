"""`vaultcrm log`: a service record (SRV) for an appointment or a walk-in, and what follows from it.

Logging is the moment the front desk has everything in hand, so one command does the whole round:
the SRV note is written in the template's shape (pre-filled from the appointment, whose 预计费用 and
room become 服务费用 and 服务地点), the appointment is completed with a 状态更新 line, the follow-ups
the rules now ask for are planned, and the dashboard's 服务日志 is brought up to date.

All of it is one journalled operation (core/journal.py): written together, and finished by the next
vaultcrm command if the process is killed half way. A problem with the appointment writes nothing;
the package and the dashboard only warn.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ..booking.actions import find_appointment
from ..booking.lifecycle import transition_entry
from ..booking.slots import check_names
from ..core.index import VaultIndex
from ..core.journal import Journal, transaction
from ..core.loader import Vault, load_vault
from ..core.locks import BOOKING, booking_lock
from ..core.operator import operator_name
from ..core.render import render
from ..core.store import create_record, update_record
from ..customers.membership import discounted_price
from ..customers.profiles import charge_package
from ..customers.resolve import new_customer, resolve_customer
from ..diagnostics import Diagnostic
from ..errors import ConflictError, VaultCRMError
from ..followups.actions import create_followups
from ..followups.rules import is_problem, plan_followups
from ..models import ACTIVE_STATUSES, Appointment, Customer, FollowUp, ServiceRecord
from ..values import AppointmentStatus, Channel, Satisfaction
from ..vault.blocks import replace_block
from ..vault.writer import UnsafePathError, safe_path
from .log_table import BLOCK, render_service_log
from .sop import StepSelection, service_steps, ticked_steps

if TYPE_CHECKING:
    from ..campaigns.redeem import Redemption


@dataclass
class ServiceNotes:
    """The template's free-text and feedback fields, as typed at the desk."""

    condition: str | None = None  # 服务前评估.客户状态
    health: str | None = None  # 服务前评估.健康关注
    before_notes: str | None = None  # 服务前评估.注意事项
    work: str | None = None  # 服务过程.主要操作
    reaction: str | None = None  # 服务过程.客户反应
    adjust: str | None = None  # 服务过程.调整内容
    effect_now: str | None = None  # 服务后评估.即时效果
    feeling: str | None = None  # 服务后评估.客户感受
    after_notes: str | None = None  # 服务后评估.注意事项
    effect: str | None = None  # 客户反馈.效果评价
    satisfaction: Satisfaction | None = None
    stars: int | None = None
    suggestion: str | None = None  # 客户反馈.建议意见
    next: str | None = None  # 后续安排.下次预约
    advice: str | None = None  # 后续安排.后续建议
    todo: str | None = None  # 后续安排.跟进事项

    def sections(self) -> dict:
        return {
            "服务详情": {
                "服务前评估": {"客户状态": self.condition, "健康关注": self.health, "注意事项": self.before_notes},
                "服务过程": {"主要操作": self.work, "客户反应": self.reaction, "调整内容": self.adjust},
                "服务后评估": {"即时效果": self.effect_now, "客户感受": self.feeling, "注意事项": self.after_notes},
            },
            "客户反馈": {"效果评价": self.effect, "满意度": self.satisfaction, "星级评分": self.stars,
                      "建议意见": self.suggestion},
            "后续安排": {"下次预约": self.next, "后续建议": self.advice, "跟进事项": self.todo},
        }


@dataclass
class ServiceRequest:
    """What `log` was asked to record. With `appointment_id`, the other fields override the appointment's."""

    appointment_id: str | None = None
    customer: str | None = None
    phone: str | None = None
    service: str | None = None
    technician: str | None = None
    room: str | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    duration: int | None = None
    fee: Decimal | None = None
    notes: ServiceNotes = field(default_factory=ServiceNotes)
    steps: StepSelection | None = None  # which steps of the service's SOP were done (None: none ticked)
    by: str | None = None
    force: bool = False
    coupon: str | None = None  # a campaign's coupon code to redeem (else the appointment's own)
    no_coupon: bool = False  # log without redeeming the coupon the appointment carries


@dataclass
class LogResult:
    service: ServiceRecord
    appointment: Appointment | None = None
    status_change: tuple[AppointmentStatus, AppointmentStatus] | None = None
    new_customer: Customer | None = None
    followups: list[FollowUp] = field(default_factory=list)
    problem: bool = False
    dashboard_updated: bool = False
    warnings: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    package: str | None = None  # the 套餐 that paid, as written into 服务信息.套餐抵扣
    redemption: Redemption | None = None  # the coupon redeemed, and the fee before and after


def time_range(start: dt.time | None, minutes: int | None) -> str | None:
    """'14:00-14:30', as the template writes 服务时间."""
    if start is None:
        return None
    if not minutes:
        return f"{start:%H:%M}"
    end = dt.datetime.combine(dt.date.min, start) + dt.timedelta(minutes=minutes)
    return f"{start:%H:%M}-{end:%H:%M}"


def _record(basics: dict, customer: dict, service: dict, notes: ServiceNotes) -> ServiceRecord:
    return ServiceRecord.model_validate({"服务编号": "", "服务基本信息": basics, "客户信息": customer,
                                         "服务信息": service, **notes.sections()})


def from_appointment(app: Appointment, profile: Customer | None, req: ServiceRequest, settings) -> ServiceRecord:
    """The SRV for an appointment: its customer, service, technician, room, date, time and price."""
    info, svc = app.info, app.service
    service = req.service or svc.service
    minutes = req.duration or svc.duration or settings.service_duration(service)
    start = req.time or info.time
    return _record(
        {"服务日期": req.date or info.date, "服务时间": time_range(start, minutes), "服务时长": minutes,
         "服务地点": req.room or svc.room, "预约编号": app.id},
        {"客户姓名": info.customer_name or (profile.name if profile else None),
         "客户编号": info.customer_id or (profile.id if profile else None),
         "客户档案": info.customer_link or (profile.link if profile else None),
         "联系方式": info.phone or (profile.phone if profile else None)},
        {"服务项目": service, "服务技师": req.technician or svc.technician,
         "服务费用": req.fee if req.fee is not None else svc.price},
        req.notes)


def walk_in(customer: Customer, req: ServiceRequest, settings, now: dt.datetime) -> ServiceRecord:
    """The SRV for a customer who came without an appointment; by default the service just ended.

    A member pays her tier's price, as she would have with an appointment (`book`'s 预计费用)."""
    minutes = req.duration or settings.service_duration(req.service)
    start = req.time
    if start is None and req.date in (None, now.date()):
        start = (now - dt.timedelta(minutes=minutes)).time()
    conf = settings.services.get(req.service or "")
    return _record(
        {"服务日期": req.date or now.date(), "服务时间": time_range(start, minutes), "服务时长": minutes,
         "服务地点": req.room},
        {"客户姓名": customer.name, "客户编号": customer.id, "客户档案": customer.link,
         "联系方式": req.phone or customer.phone},
        {"服务项目": req.service, "服务技师": req.technician,
         "服务费用": req.fee if req.fee is not None else (discounted_price(settings, customer, conf.price)
                                                          if conf else None)},
        req.notes)


def _service_order(s: ServiceRecord):
    """Services in a history run in time order, undated ones first (as the index sorts them)."""
    return (s.basics.date or dt.date.min, s.basics.time or "", s.id)


def _appointment(index: VaultIndex, req: ServiceRequest) -> Appointment:
    app = find_appointment(index, req.appointment_id or "")
    if app.status not in ACTIVE_STATUSES and not req.force:
        raise ConflictError(f"{app.id} 已是「{app.status.value}」，不能再记录服务；确需记录请加 --force")
    logged = sorted(index.services.dates("basics", "appointment_id").get(app.id, ()))
    if logged and not req.force:
        raise ConflictError(f"{app.id} 已有服务记录 {'、'.join(logged)}；确需再记一次请加 --force")
    return app


def _walk_in_customer(vault: Vault, req: ServiceRequest) -> tuple[Customer, Customer | None]:
    """(the customer, the profile created for them or None)."""
    if not req.customer:
        raise VaultCRMError("没有预约的到店服务需要 --customer（姓名、电话或客户编号）")
    if not req.service:
        raise VaultCRMError("没有预约的到店服务需要 --service（服务项目）")
    found = resolve_customer(vault.index, req.customer, req.phone)
    if found is not None:
        return found, None
    created = create_record(vault.root, vault.settings, new_customer(req.customer, req.phone, Channel.WALK_IN),
                            vault.index.customers.keys())
    return created, created


def log_service(root: Path, req: ServiceRequest, *, now: dt.datetime | None = None,
                load: Callable[[Path], Vault] = load_vault) -> LogResult:
    """Write the SRV, complete the appointment, plan follow-ups, refresh the 服务日志.

    Runs under the booking lock, as `book` does: a walk-in's new profile and the follow-ups planned
    here cannot be made twice by two desks (or a `follow plan`) at the same moment. The same request
    run again right after an interrupted run (which loading the vault has just finished) reports what
    that run wrote instead of writing it twice.
    """
    with booking_lock(root):
        vault = load(root)
        key = request_key(req)
        result = _finished_before(vault, key)
        if result is None:
            with transaction(vault.root, "log", lock=BOOKING, key=key) as journal:
                result = _log(vault, req, now or vault.settings.now(), journal)
                journal.result = {"service": result.service.id, "appointment": result.appointment.id
                                  if result.appointment else None,
                                  "customer": result.new_customer.id if result.new_customer else None,
                                  "followups": [f.id for f in result.followups]}
    result.diagnostics = vault.diagnostics
    return result


def steps_to_offer(root: Path, req: ServiceRequest, *, load: Callable[[Path], Vault] = load_vault) -> list[str]:
    """The SOP steps `log` would write for this request (for a terminal to ask which were done)."""
    vault = load(root)
    service = req.service
    if service is None and req.appointment_id:
        app = vault.index.appointments.get(req.appointment_id.strip().upper())
        service = app.service.service if app is not None else None
    return service_steps(vault.settings, service)


def request_key(req: ServiceRequest) -> str:
    """What identifies one `log` request (not the moment it was made)."""
    text = json.dumps(dataclasses.asdict(req), default=str, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _finished_before(vault: Vault, key: str) -> LogResult | None:
    """The result of this very request, when it was interrupted and loading the vault finished it."""
    index = vault.index
    for done in vault.recovered:
        if done.op != "log" or done.key != key or done.problems:
            continue
        service = index.services.get(done.result.get("service") or "")
        if service is None:
            return None
        return LogResult(service, index.appointments.get(done.result.get("appointment") or ""),
                         new_customer=index.customers.get(done.result.get("customer") or ""),
                         followups=[f for f in (index.followups.get(i) for i in done.result.get("followups", ()))
                                    if f is not None])
    return None


def _log(vault: Vault, req: ServiceRequest, now: dt.datetime, journal: Journal) -> LogResult:
    settings, index = vault.settings, vault.index
    check_names(req.service, req.technician, req.room, settings)
    by = operator_name(req.by, settings)
    result_customer: Customer | None = None
    if req.appointment_id:
        app = _appointment(index, req)
        key = index.key_of(app)
        profile = index.customers.get(key or "")
        record = from_appointment(app, profile, req, settings)
        payer = profile
    else:
        app = None
        customer, result_customer = _walk_in_customer(vault, req)
        record = walk_in(customer, req, settings, now)
        payer = customer
    redemption = _redeem(vault, req, app, payer, record)
    if redemption is not None:
        data = record.model_dump(by_alias=True)
        data["服务信息"].update(redemption.fields())
        record = ServiceRecord.model_validate(data)
    record = record.model_copy(update={"steps": ticked_steps(settings, record.service.service, req.steps)})
    service = create_record(vault.root, settings, record, index.services.keys(), year=now.year)
    result = LogResult(service, app, new_customer=result_customer, problem=is_problem(service, settings.followups),
                       redemption=redemption)

    if app is not None and app.status is not AppointmentStatus.COMPLETED:
        old, new = app.status, AppointmentStatus.COMPLETED
        line = transition_entry(now, old, new, by, forced=old not in ACTIVE_STATUSES)
        update_record(vault.root, app, {("预约状态", "当前状态"): new.value},
                      append={("预约状态", "状态更新"): [line]}, loaded=vault.loaded_stamp(app))
        result.status_change = (old, new)
    if payer is not None:
        try:
            used = charge_package(vault, payer, service, now.date())
            result.package = used.describe() if used else None
        except VaultCRMError as exc:
            result.warnings.append(f"套餐未扣减：{exc.message}，请在客户档案中手动修改")

    key = index.key_of(service)
    if key is not None:
        history = index.history(key)
        history = dataclasses.replace(history, customer=history.customer or result_customer,
                                      services=sorted([*history.services, service], key=_service_order))
        planned = plan_followups(index, settings.followups, now.date(), histories={key: history},
                                 fresh=[service.id])
        result.followups = create_followups(vault, planned, now.year)
    try:
        result.dashboard_updated = _stage_service_log(vault, now.date(), service, journal)
    except VaultCRMError as exc:
        result.warnings.append(f"服务日志未更新：{exc.message}")
    return result


def _redeem(vault: Vault, req: ServiceRequest, app: Appointment | None, payer: Customer | None,
            record: ServiceRecord) -> Redemption | None:
    """The coupon given with --coupon, else the one the appointment was booked with (unless --no-coupon)."""
    code = req.coupon or (None if req.no_coupon or app is None else app.service.coupon)
    if not code:
        return None
    from ..campaigns.redeem import redeem  # the campaigns load only for a visit with a coupon

    key = vault.index.key_of(app) if app is not None else (payer.id if payer is not None else None)
    day = record.basics.date or vault.settings.now().date()
    try:
        return redeem(vault.root, vault.settings, vault.index, code, key, day, record.service.fee)
    except VaultCRMError as exc:
        if req.coupon:
            raise
        raise type(exc)(f"{app.id} 预约时登记的{exc.message}；不用这张券记录服务请加 --no-coupon",
                        details=exc.details) from None


def _stage_service_log(vault: Vault, today: dt.date, service: ServiceRecord, journal: Journal) -> bool:
    """The dashboard's 服务日志 with the new service, staged with the rest (log_table's update, journalled)."""
    relpath = vault.settings.folders.dashboard
    try:
        safe_path(vault.root, relpath)
    except UnsafePathError as exc:
        raise VaultCRMError(f"总览笔记的路径不可用：{relpath}（{exc}）") from None
    current = journal.read(relpath)
    if current is None:
        text = render("dashboard.md.j2", vault.root / vault.settings.folders.templates, today=today.isoformat())
    else:
        try:
            text = current.decode("utf-8")
        except UnicodeDecodeError:
            raise VaultCRMError(f"{relpath} 不是 UTF-8 编码，服务日志未更新") from None
    data = replace_block(text, BLOCK, render_service_log(vault, today, [service])).encode("utf-8")
    if data == current:
        return False
    journal.put(relpath, data, current)
    return True


__all__ = ["LogResult", "ServiceNotes", "ServiceRequest", "from_appointment", "log_service", "steps_to_offer",
           "time_range", "walk_in"]
