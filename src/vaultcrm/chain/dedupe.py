"""Duplicate customers across stores: found by `check`, merged by `customer merge C-A C-B`.

Between two syncs, one new customer may register at two stores and get two profiles (C-SH01-0003 and
C-BJ01-0007) with one phone. `check` reports them, with the merge command to run. The merge keeps the
first profile: its empty fields are filled from the second, lists (标签, 过敏史, 套餐…) are joined, 积分
added up, values that differ are listed in its body so nothing is lost, and every APP/SRV/FLW of the
second is pointed at the first. Then the second profile's note goes. One journalled operation: a kill at
any write is finished by the next command.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..core import store
from ..core.config import Settings
from ..core.index import VaultIndex
from ..core.journal import transaction
from ..core.loader import Vault
from ..core.locks import BOOKING, booking_lock
from ..core.stores import store_of
from ..customers.resolve import mask_phone
from ..diagnostics import Diagnostic, warning
from ..errors import NotFoundError, VaultCRMError
from ..models import Appointment, Customer, Record
from ..vault.edit import split_note
from ..vault.notes import record_line
from ..vault.writer import read_stamped
from .driver import read_report
from .merge import NoteLoader, show

KEEP_KEYS = frozenset({"客户编号", "客户姓名", "门店"})
REPORT_DAYS = 30


def duplicate_phones(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """In a chain: profiles sharing a phone (registered at two stores between syncs)."""
    if not settings.stores:
        return
    by_phone: dict[str, list[Customer]] = {}
    for customer in index.customers.values():
        if customer.phone:
            by_phone.setdefault(customer.phone, []).append(customer)
    for phone, profiles in sorted(by_phone.items()):
        if len(profiles) < 2:
            continue
        profiles.sort(key=lambda c: (c.first_visit or dt.date.max, c.id))
        names = "、".join(f"{c.id} {c.name or ''}（{store_of(c) or '总部'}）".replace(" （", "（") for c in profiles)
        command = f"vaultcrm customer merge {profiles[0].id} {profiles[1].id}"
        for customer in profiles:
            yield warning(customer.path, record_line(index.root, customer, ("联系方式",)),
                          f"手机号 {mask_phone(phone)} 登记了多份客户档案：{names}；若是同一位客户，请运行 {command}")


def merge_conflicts(index: VaultIndex, settings: Settings) -> Iterable[Diagnostic]:
    """What `sync`'s merges had to decide in the last 30 days: the later edit won; here is what lost."""
    entries, _ = read_report(index.root)
    cutoff = (dt.datetime.now() - dt.timedelta(days=REPORT_DAYS)).strftime("%Y-%m-%d %H:%M")
    for entry in entries[-200:]:
        if str(entry.get("时间", "")) < cutoff:
            continue
        what = "；".join(map(str, entry.get("字段") or []))
        if entry.get("正文两份都保留"):
            what = (what + "；" if what else "") + "正文两边都改了同一处，较早的一份附在正文后"
        yield warning(entry["笔记"], 1, f"同步合并冲突（{entry.get('时间')}，已取较新的修改）：{what}")


@dataclass
class CustomerMerge:
    keep: Customer
    drop: Customer
    repointed: list[str] = field(default_factory=list)  # paths of the APP/SRV/FLW now pointing at `keep`
    differing: list[str] = field(default_factory=list)  # "key：kept「a」，other「b」"
    done_before: bool = False  # merged already (a re-run, say after a kill the next command finished)


def _frontmatter(root: Path, record: Record) -> tuple[dict, str, object]:
    raw, stamp = read_stamped(root / record.path)
    text = raw.decode("utf-8")
    data = yaml.load(split_note(text)[1], Loader=NoteLoader) or {}
    return data, text, stamp


def _blank(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def combine(keep: dict, other: dict, path: tuple = ()) -> tuple[dict[tuple, object], list[str]]:
    """(changes to `keep`'s note, values that differ and stay as `keep` has them). Pure."""
    changes: dict[tuple, object] = {}
    differing: list[str] = []
    for key, value in other.items():
        if not path and key in KEEP_KEYS or _blank(value):
            continue
        mine = keep.get(key)
        where = (*path, key)
        if _blank(mine):
            changes[where] = value
        elif isinstance(mine, dict) and isinstance(value, dict):
            sub, diff = combine(mine, value, where)
            changes.update(sub)
            differing += diff
        elif isinstance(mine, list) and isinstance(value, list):
            joined = mine + [x for x in value if x not in mine]
            if joined != mine:
                changes[where] = joined
        elif where == ("积分",) and isinstance(mine, int) and isinstance(value, int):
            changes[where] = mine + value
        elif mine != value:
            differing.append(f"{'.'.join(map(str, where))}：保留「{show(mine)}」，另一份为「{show(value)}」")
    return changes, differing


def _customer_keys(record: Record) -> tuple[str, ...]:
    return ("预约信息",) if isinstance(record, Appointment) else ("客户信息",)


def _merged_into(root: Path, keep: Customer, drop_id: str) -> bool:
    """Whether `keep`'s 合并记录 already tells of `drop_id` (whose profile is gone)."""
    try:
        text = read_stamped(root / keep.path)[0].decode("utf-8", "replace")
    except OSError:
        return False
    return f" 合并了 {drop_id} " in text


def merge_customers(vault: Vault, keep_id: str, drop_id: str, *, now: dt.datetime) -> CustomerMerge:
    index, root = vault.index, vault.root
    keep, drop = index.customers.get(keep_id.strip().upper()), index.customers.get(drop_id.strip().upper())
    if keep is not None and drop is None and _merged_into(root, keep, drop_id.strip().upper()):
        return CustomerMerge(keep, keep.model_copy(update={"id": drop_id.strip().upper(), "path": ""}),
                             done_before=True)
    for query, found in ((keep_id, keep), (drop_id, drop)):
        if found is None:
            raise NotFoundError(f"找不到客户 {query}（请用客户编号，如 C-SH01-0001）")
    if keep.id == drop.id:
        raise VaultCRMError(f"{keep.id} 与自身无法合并：请给出两份不同的客户档案")
    result = CustomerMerge(keep, drop)
    with booking_lock(root), transaction(root, "customer-merge", lock=BOOKING, key=f"{keep.id}+{drop.id}") as journal:
        keep_data, _, _ = _frontmatter(root, keep)
        drop_data, drop_text, drop_stamp = _frontmatter(root, drop)
        changes, result.differing = combine(keep_data, drop_data)
        drop_body = split_note(drop_text)[2].partition("\n")[2].strip("\n")
        section = ["\n## 合并记录\n", f"- {now:%Y-%m-%d %H:%M} 合并了 {drop.id} {drop.name or ''}"
                                      f"（{store_of(drop) or '总部'}）的档案，其预约、服务记录与跟进已改为本档案"]
        section += [f"  - {line}" for line in result.differing]
        if drop_body:
            section += ["", f"### {drop.id} 原档案正文", "", drop_body]
        addition = "\n".join(section) + "\n"
        store.update_record(root, keep, changes, loaded=vault.loaded_stamp(keep),
                            body=lambda text: text.rstrip("\n") + "\n" + addition)
        old_link, new_link = drop.link[:-2], keep.link[:-2]  # `[[C-B 名` also matches `[[C-B 名|别名]]`

        def relink(text: str) -> str:
            return text.replace(old_link + "]]", new_link + "]]").replace(old_link + "|", new_link + "|")

        for record in (*index.appointments.values(), *index.services.values(), *index.followups.values()):
            if index.key_of(record) != drop.id:
                continue
            section_key = _customer_keys(record)
            store.update_record(root, record, {(*section_key, "客户编号"): keep.id,
                                               (*section_key, "客户档案"): keep.link,
                                               (*section_key, "客户姓名"): keep.name},
                                loaded=vault.loaded_stamp(record), body=relink)
            result.repointed.append(record.path)
        journal.delete(drop.path, drop_stamp)
    return result


def report_json(merge: CustomerMerge) -> str:
    return json.dumps({"保留": merge.keep.id, "并入": merge.drop.id, "改指向": merge.repointed,
                       "不同的值": merge.differing}, ensure_ascii=False)


__all__ = ["CustomerMerge", "combine", "duplicate_phones", "merge_conflicts", "merge_customers"]
