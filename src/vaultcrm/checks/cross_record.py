"""Cross-record checks: small functions `(index, settings) -> diagnostics`, kept in one list, run in a loop.

Per-note problems (syntax, values) are found by the reader; these need the whole vault. A check that
crashes becomes a diagnostic, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..core.config import Settings
from ..core.index import VaultIndex
from ..diagnostics import Diagnostic, error, warning
from ..models import Appointment, ServiceRecord
from ..privacy.rules import health_data_without_consent
from ..vault.notes import record_line

Check = Callable[[VaultIndex, Settings], Iterable[Diagnostic]]


def duplicate_ids(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    for record_id, records in sorted(index.duplicates.items()):
        paths = "、".join(r.path for r in records)
        for record in records:
            yield error(record.path, record_line(index.root, record, (record.id_key,)),
                        f"编号 {record_id} 重复，出现在：{paths}")


def unknown_customers(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    for record in (*index.appointments.values(), *index.services.values(), *index.followups.values()):
        info = record.info if isinstance(record, Appointment) else record.customer
        if info.customer_id and info.customer_id not in index.customers:
            section = "预约信息" if isinstance(record, Appointment) else "客户信息"
            yield warning(record.path, record_line(index.root, record, (section, "客户编号")),
                          f"客户编号 {info.customer_id} 没有对应的客户档案")


def unknown_appointments(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    for srv in index.services.values():
        app = srv.basics.appointment_id
        if app and app not in index.appointments:
            yield warning(srv.path, record_line(index.root, srv, ("服务基本信息", "预约编号")),
                          f"预约编号 {app} 找不到对应的预约")


def unknown_catalogue_names(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """Once the config lists services or technicians, other names are probably typos."""
    for record in (*index.appointments.values(), *index.services.values()):
        if isinstance(record, Appointment):
            service, tech, section, tech_key = (record.service.service, record.service.technician, "服务信息", "技师安排")
        else:
            assert isinstance(record, ServiceRecord)
            service, tech, section, tech_key = (record.service.service, record.service.technician, "服务信息", "服务技师")
        if settings.services and service and service not in settings.services:
            yield warning(record.path, record_line(index.root, record, (section, "服务项目")),
                          f"服务项目「{service}」不在 vaultcrm.yaml 的服务项目中")
        if settings.technicians and tech and tech not in settings.technicians:
            yield warning(record.path, record_line(index.root, record, (section, tech_key)),
                          f"技师「{tech}」不在 vaultcrm.yaml 的技师名单中")


CHECKS: list[Check] = [duplicate_ids, unknown_customers, unknown_appointments, unknown_catalogue_names,
                      health_data_without_consent]


def run_checks(index: VaultIndex, settings: Settings, checks: list[Check] | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for check in checks or CHECKS:
        try:
            found.extend(check(index, settings))
        except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
            found.append(error("vaultcrm.yaml", 1, f"检查 {check.__name__} 出错：{exc!r}"))
    return found


