"""Cross-record checks: small functions `(index, settings) -> diagnostics`, kept in one list, run in a loop.

Per-note problems (syntax, values) are found by the reader; these need the whole vault. A check that
crashes becomes a diagnostic, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..chain.dedupe import duplicate_phones, merge_conflicts
from ..core.config import Settings, load_settings
from ..core.index import VaultIndex
from ..core.store import file_name
from ..diagnostics import Diagnostic, error, warning
from ..models import TERMINAL_STATUSES, Appointment, Customer, ServiceRecord
from ..privacy.rules import FORGOTTEN_TAG, health_data_without_consent
from ..values import AppointmentStatus, FollowUpStatus
from ..vault.notes import checklist_line, record_line

Check = Callable[[VaultIndex, Settings], Iterable[Diagnostic]]


def duplicate_ids(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    for record_id, records in sorted(index.duplicates.items()):
        paths = "、".join(r.path for r in records)
        fix = _duplicate_profile_fix(index, records) if isinstance(records[0], Customer) else ""
        for record in records:
            yield error(record.path, record_line(index.root, record, (record.id_key,)),
                        f"编号 {record_id} 重复，出现在：{paths}{fix}")


def _duplicate_profile_fix(index: VaultIndex, records: list) -> str:
    """Two profiles with one 客户编号: the same file under two names (an interrupted rename), or two people."""
    try:
        inodes = {(st.st_dev, st.st_ino) for st in ((index.root / r.path).stat() for r in records)}
    except OSError:
        inodes = set()
    if len(inodes) == 1:
        return "。这些是同一文件的多个名字（改名被中断），删除不需要的那个文件名即可"
    numbers = [int(cid[2:]) for cid in index.customers if cid[2:].isdigit()]
    spare = f"C-{max(numbers, default=0) + 1:04d}"
    return (f"。若是同一位客户，合并后删除多余的档案；若是不同客户，把其中一份的客户编号改为未使用的 {spare}"
            f"（文件名也改为「{spare} 姓名.md」）")


def services_of_open_appointments(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """A service record means its appointment was served; `log` writes both, a crash may leave one."""
    statuses = index.appointments.column("state", "status")  # plain data: only the records at fault are built
    for srv_id, app_id in index.services.column("basics", "appointment_id").items():
        if not app_id or app_id not in statuses or statuses[app_id] is AppointmentStatus.COMPLETED:
            continue
        srv, app = index.services[srv_id], index.appointments[app_id]
        if app.status is AppointmentStatus.COMPLETED:
            continue
        force = " --force" if app.status in TERMINAL_STATUSES else ""
        yield error(srv.path, record_line(index.root, srv, ("服务基本信息", "预约编号")),
                    f"已有服务记录 {srv.id}，但预约 {app.id} 的状态是「{app.status.value}」而不是「已完成」；"
                    f"请运行 vaultcrm status {app.id} 已完成{force}")


def followups_of_missing_customers(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """A follow-up for a 客户编号 no profile holds: an open one would remind staff to call nobody."""
    for flw_id, customer_id in index.followups.column("customer", "customer_id").items():
        if not customer_id or customer_id in index.customers:
            continue
        flw = index.followups[flw_id]
        line = record_line(index.root, flw, ("客户信息", "客户编号"))
        message = f"回访 {flw.id} 的客户编号 {customer_id} 没有对应的客户档案"
        if flw.basics.status in (None, FollowUpStatus.PLANNED):
            yield error(flw.path, line, f"{message}；请改正 客户信息.客户编号，或运行 vaultcrm follow cancel {flw.id}")
        else:
            yield warning(flw.path, line, f"{message}（该回访已结束）")


def profile_file_names(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """A profile's file is named `C-0001 张三.md` (other notes link to it by that name).

    SPEC lets a hand-made profile have any file name, so a mismatch is a warning; for a forgotten
    customer it is an error: the old file name may still hold the real name.
    """
    for customer in index.customers.values():
        if customer.id in index.duplicates:
            continue  # reported by duplicate_ids, whose fix comes first
        expected = file_name(customer)
        actual = customer.path.rsplit("/", 1)[-1]
        if actual == expected:
            continue
        folder = customer.path.rpartition("/")[0]
        target = f"{folder}/{expected}" if folder else expected
        line = record_line(index.root, customer, ("客户姓名",))
        if FORGOTTEN_TAG in customer.tags:
            yield error(customer.path, line,
                        f"客户 {customer.id} 已注销，但文件名不是「{expected}」，可能仍含真实姓名；"
                        f"请运行 vaultcrm customer forget {customer.id}，或把文件改名为「{target}」")
        else:
            yield warning(customer.path, line,
                          f"文件名与客户编号、客户姓名（{customer.id} {customer.name or ''}）不一致；"
                          f"请把文件改名为「{target}」（在 Obsidian 中改名会同时更新链接）")


def unknown_customers(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """Appointments and service records (follow-ups: followups_of_missing_customers) of a missing profile."""
    for table, part, section in ((index.appointments, "info", "预约信息"), (index.services, "customer", "客户信息")):
        for record_id, customer_id in table.column(part, "customer_id").items():
            if customer_id and customer_id not in index.customers:
                record = table[record_id]
                yield warning(record.path, record_line(index.root, record, (section, "客户编号")),
                              f"客户编号 {customer_id} 没有对应的客户档案")


def unknown_appointments(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    for srv_id, app in index.services.column("basics", "appointment_id").items():
        if app and app not in index.appointments:
            srv = index.services[srv_id]
            yield warning(srv.path, record_line(index.root, srv, ("服务基本信息", "预约编号")),
                          f"预约编号 {app} 找不到对应的预约")


def unknown_catalogue_names(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """Once the config lists services or technicians, other names are probably typos."""
    if not settings.services and not settings.technicians:
        return
    for record in (*index.appointments.values(), *index.services.values()):
        if isinstance(record, Appointment):
            service, tech, section, tech_key = (record.service.service, record.service.technician, "服务信息", "技师安排")
        else:
            assert isinstance(record, ServiceRecord)
            service, tech, section, tech_key = (record.service.service, record.service.technician, "服务信息", "服务技师")
        if settings.services and service and service not in settings.services:
            yield warning(record.path, record_line(index.root, record, (section, "服务项目")),
                          f"服务项目「{service}」不在 vaultcrm.yaml 的服务项目中")
        if settings.technicians and tech and tech not in settings.all_technicians:
            yield warning(record.path, record_line(index.root, record, (section, tech_key)),
                          f"技师「{tech}」不在 vaultcrm.yaml 的技师名单中")


def skipped_sop_steps(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """A service done with steps of its 服务流程 unticked: skipped, or done and not ticked yet."""
    for srv_id, steps in index.services.column("steps").items():  # plain data: only services at fault are built
        if all(step["done"] if type(step) is dict else step.done for step in steps):
            continue
        srv = index.services[srv_id]
        skipped = srv.skipped_steps
        if skipped:
            yield warning(srv.path, checklist_line(index.root, srv, "服务流程"),
                          f"{srv.id} 的服务流程有 {len(skipped)} 步未勾选：{'、'.join(skipped)}"
                          "（已做的请在 Obsidian 中勾选 - [x]，确实跳过的请在 备注 中写明原因）")


def config_warnings(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """What `vaultcrm.yaml` holds that does nothing (unknown or misspelt keys); its errors stop every command."""
    return load_settings(index.root)[1]


CHECKS: list[Check] = [config_warnings, duplicate_ids, services_of_open_appointments, followups_of_missing_customers,
                      profile_file_names, unknown_customers, unknown_appointments, unknown_catalogue_names,
                      health_data_without_consent, duplicate_phones, merge_conflicts, skipped_sop_steps]


def run_checks(index: VaultIndex, settings: Settings, checks: list[Check] | None = None) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for check in checks or CHECKS:
        try:
            found.extend(check(index, settings))
        except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
            found.append(error("vaultcrm.yaml", 1, f"检查 {check.__name__} 出错：{exc!r}"))
    return found


