"""The customer 360 view behind `customer show` and `customer list`: one customer's whole story.

Staff open it before a customer walks in, so what can hurt comes first (allergies, contraindications),
then what helps (the last services and their notes — 服务记忆 — and open follow-ups), then the
business figures (visits, spend, no-shows, packages, tier, points, segments). Segments and points
are computed here from the history, so the view is right even before `customer tag` has rewritten
the profile. Pure: the index and settings in, plain data out (JSON-ready via `view_json`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ..core.config import Settings
from ..core.index import VaultIndex
from ..followups.rules import due_of, status_of
from ..models import Appointment, Customer, FollowUp, ServiceRecord
from ..models.customer import Package
from ..values import AppointmentStatus, FollowUpStatus
from . import membership
from .history import no_show_count, service_memory
from .segments import Segment, VisitStats, segments_of, visit_stats, visit_stats_from

RECENT_SERVICES = 3


@dataclass
class Series:
    """One series (疗程) of the customer: its occurrences in date order, and how far it has come."""

    id: str
    appointments: list[Appointment]

    @property
    def service(self) -> str | None:
        return next((a.service.service for a in self.appointments if a.service.service), None)

    @property
    def package(self) -> str | None:
        return next((a.info.package for a in self.appointments if a.info.package), None)

    @property
    def done(self) -> int:
        return sum(1 for a in self.appointments if a.status is AppointmentStatus.COMPLETED)

    @property
    def left(self) -> int:
        """Occurrences still to come (待服务, 已确认, 服务中)."""
        return sum(1 for a in self.appointments if a.is_active)

    @property
    def missed(self) -> int:
        """Cancelled or not shown up."""
        return len(self.appointments) - self.done - self.left


def series_of(appointments: list[Appointment]) -> list[Series]:
    """The customer's series, grouped by 系列编号, the one starting first first."""
    groups: dict[str, list[Appointment]] = {}
    for a in appointments:
        if a.info.series:
            groups.setdefault(a.info.series, []).append(a)
    found = [Series(sid, sorted(group, key=lambda a: (a.info.date or dt.date.min, a.info.time or dt.time(), a.id)))
             for sid, group in groups.items()]
    return sorted(found, key=lambda s: (s.appointments[0].info.date or dt.date.min, s.id))


@dataclass
class CustomerView:
    customer: Customer
    stats: VisitStats
    segments: list[Segment]
    tier: str | None  # as it counts for the discount
    discount: Decimal
    upgrade: str | None  # the tier spend has earned, when it is above the profile's 会员等级
    points: membership.PointsBalance
    no_shows: int  # in the last 12 months
    no_shows_total: int
    recent: list[ServiceRecord]  # newest first
    followups: list[FollowUp]  # 待跟进, soonest first
    packages: list[tuple[Package, bool]]  # (package, usable today)
    upcoming: list[Appointment]
    notes: list[str] = field(default_factory=list)  # things that look wrong in the profile
    series: list[Series] = field(default_factory=list)  # 疗程


def customer_view(index: VaultIndex, customer: Customer, settings: Settings, today: dt.date,
                  recent: int = RECENT_SERVICES) -> CustomerView:
    history = index.history(customer.id)
    rules = settings.membership
    stats = visit_stats(customer, history.services, settings.segments, today)
    notes = []
    if customer.tier and customer.tier not in rules.tiers:
        notes.append(f"会员等级「{customer.tier}」不在配置的等级中（{'、'.join(rules.tier_names())}），按最低等级计折扣")
    tier = membership.tier_of(rules, customer)
    spend = membership.qualifying_spend(customer, history.services, rules, today)
    upgrade = membership.upgraded_tier(rules, customer.tier, spend)
    past = [s for s in history.services if s.basics.date is None or s.basics.date <= today]
    upcoming = [a for a in history.appointments if a.is_active and a.info.date and a.info.date >= today]
    return CustomerView(
        customer=customer,
        stats=stats,
        segments=segments_of(stats, settings.segments, today),
        tier=tier,
        discount=membership.discount_of(settings, customer),
        upgrade=upgrade if upgrade != customer.tier else None,
        points=membership.points_balance(customer, history.services, rules, today),
        no_shows=no_show_count(history, today),
        no_shows_total=sum(1 for a in history.appointments if a.status is AppointmentStatus.NO_SHOW),
        recent=list(reversed(past[-recent:])) if recent else [],
        followups=sorted((f for f in history.followups if status_of(f) is FollowUpStatus.PLANNED),
                         key=lambda f: (due_of(f) or dt.date.max, f.id)),
        packages=[(p, membership.is_active(p, today) and membership.has_balance(p)) for p in customer.packages],
        upcoming=upcoming,
        notes=notes,
        series=series_of(history.appointments),
    )


def _money(amount: Decimal | None) -> float | int | None:
    if amount is None:
        return None
    return int(amount) if amount == amount.to_integral() else float(amount)


def _day(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def service_json(s: ServiceRecord) -> dict:
    return {"服务编号": s.id, "服务日期": _day(s.basics.date), "服务项目": s.service.service,
            "服务技师": s.service.technician, "服务费用": _money(s.service.fee),
            "满意度": s.feedback.satisfaction.value if s.feedback.satisfaction else None,
            "效果评价": s.feedback.effect, "服务记忆": dict(service_memory(s))}


def package_json(p: Package, usable: bool) -> dict:
    return {"名称": p.name, "服务项目": p.service, "总次数": p.sessions_total, "剩余次数": p.sessions_left,
            "总金额": _money(p.value_total), "余额": _money(p.value_left), "开始日期": _day(p.start),
            "结束日期": _day(p.end), "可用": usable}


def series_json(series: Series) -> dict:
    return {"系列编号": series.id, "服务项目": series.service, "次数": len(series.appointments),
            "已完成": series.done, "剩余": series.left, "取消或未到": series.missed, "使用套餐": series.package,
            "预约": [{"预约编号": a.id, "疗程序号": a.info.series_position, "预约日期": _day(a.info.date),
                      "预约时间": a.info.time.strftime("%H:%M") if a.info.time else None,
                      "当前状态": a.status.value} for a in series.appointments]}


def view_json(view: CustomerView) -> dict:
    c = view.customer
    return {
        "客户编号": c.id, "客户姓名": c.name, "联系方式": c.phone, "性别": c.gender, "生日": _day(c.birthday),
        "来源渠道": c.source, "推荐人": c.referrer,
        "过敏史": c.health.allergies, "禁忌事项": c.health.contraindications, "健康关注": c.health.concerns,
        "偏好技师": c.preferences.technician,
        "力度要求": c.preferences.strength.value if c.preferences.strength else None,
        "到店次数": view.stats.visits, "首次到店": _day(view.stats.first_visit),
        "最近到店": _day(view.stats.last_visit), "月均到店": round(view.stats.per_month, 2),
        "累计消费": _money(view.stats.spend_total), "近12个月消费": _money(view.stats.spend_recent),
        "未到店次数": view.no_shows_total, "近12个月未到店": view.no_shows,
        "最近服务": [service_json(s) for s in view.recent],
        "待跟进": [{"跟进编号": f.id, "跟进类型": f.basics.kind, "计划日期": _day(due_of(f))} for f in view.followups],
        "预约": [{"预约编号": a.id, "预约日期": _day(a.info.date),
                  "预约时间": a.info.time.strftime("%H:%M") if a.info.time else None,
                  "服务项目": a.service.service, "当前状态": a.status.value} for a in view.upcoming],
        "套餐": [package_json(p, usable) for p, usable in view.packages],
        "疗程": [series_json(x) for x in view.series],
        "会员等级": view.tier, "折扣": _money(view.discount), "可升等级": view.upgrade,
        "积分": view.points.balance, "积分价值": _money(view.points.value),
        "积分到期": ({"日期": _day(view.points.next_expiry[0]), "积分": view.points.next_expiry[1]}
                     if view.points.next_expiry else None),
        "分群": [s.value for s in view.segments], "标签": c.tags, "提示": view.notes,
    }


LIST_COLUMNS = ("客户编号", "客户姓名", "联系方式", "会员等级", "到店次数", "最近到店", "近12个月消费", "积分", "分群",
                "标签")


def list_row(index: VaultIndex, c: Customer, settings: Settings, today: dt.date) -> dict:
    """One line of `customer list` (text, JSON and CSV share it), keyed by LIST_COLUMNS; money stays Decimal.

    The figures of `customer_view`, from the customer's visits as plain data: a list of every customer
    builds no service, appointment or follow-up model."""
    visits = index.visits_of(c.id)
    stats = visit_stats_from(c, visits, settings.segments, today)
    points = membership.points_balance_from(c, visits, settings.membership, today)
    segments = segments_of(stats, settings.segments, today)
    values = (c.id, c.name, c.phone, membership.tier_of(settings.membership, c), stats.visits, _day(stats.last_visit),
              stats.spend_recent, points.balance, [s.value for s in segments], c.tags)
    return dict(zip(LIST_COLUMNS, values, strict=True))


__all__ = ["CustomerView", "LIST_COLUMNS", "RECENT_SERVICES", "Series", "customer_view", "list_row", "package_json",
           "series_json", "series_of", "service_json", "view_json"]
