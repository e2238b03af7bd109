"""Forget and purge, written: the plans of `rules.py` applied through the store, then audited.

Each note is rewritten only if it is still what the vault load saw; what could not be written is
reported (the same command run again finishes it), and every customer handled gets an audit line.
The renames, rewrites and audit lines of one command are one journalled operation (core/journal.py),
under the booking lock: killed half way, the next vaultcrm command finishes it, so the real name is
never left on disk beside the pseudonym.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..campaigns.anonymise import Forgotten, campaign_edits
from ..core import store
from ..core.journal import Journal, transaction
from ..core.loader import Vault
from ..core.locks import BOOKING, booking_lock
from ..errors import VaultCRMError
from ..models import Customer, Record
from ..services.log_table import BLOCK as SERVICE_LOG
from ..vault.blocks import read_block, replace_block
from ..vault.scan import scan
from .audit import AUDIT_LOG, audit_line
from .rules import ForgetPlan, PurgePlan, pseudonym


@dataclass
class ScrubResult:
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path：why"; the rest went ahead: run again


class Scrubber:
    """Writes forget plans, one after another, through the store.

    Each note is written only if it is still what the vault load saw (an edit in Obsidian meanwhile
    is skipped, not overwritten) — except for the notes this scrubber itself wrote or renamed, which
    a later plan of the same purge may touch again (a purged customer's referrer, say).
    """

    def __init__(self, root: Path, loaded: Callable[[Record], tuple[int, int] | None]):
        self.root, self.loaded = root, loaded
        self.moved: dict[str, str] = {}
        self.written: dict[str, tuple[int, int] | None] = {}

    def apply(self, plan: ForgetPlan) -> ScrubResult:
        """The profile comes last and stays as it is if any note was skipped: its name and phone are how
        notes without a 客户编号 are found, so a second run, after the skipped notes are saved, finishes."""
        result = ScrubResult()
        for scrub in plan.scrubs:
            record = scrub.record
            path = self.moved.get(record.path, record.path)
            if record.kind == "CUS" and record.id == plan.customer.id and result.skipped:
                result.skipped.append(f"{path}：其他笔记未处理完，客户档案暂不改动")
                continue
            stamp = self.written[path] if path in self.written else self.loaded(record)
            record = record.model_copy(update={"path": path})
            try:
                if store.update_record(self.root, record, scrub.changes, loaded=stamp,
                                       body=scrub.body if scrub.replacements else None):
                    result.changed.append(path)
                if scrub.new_path:
                    store.rename_record(self.root, record, scrub.new_path)
                    self.moved[record.path] = path = scrub.new_path
                    result.changed = [p for p in result.changed if p != record.path] + [path]
            except VaultCRMError as exc:
                result.skipped.append(f"{path}：{exc.message}")
                continue
            self.written[path] = store.stat_key(self.root, path)
        return result


def _scrub_campaigns(vault: Vault, plan: ForgetPlan, journal: Journal) -> list[str]:
    """Her rows of the campaign rosters, staged in the same journalled operation; the notes changed."""
    customer = plan.customer
    who = Forgotten(customer.id, {x for x in (customer.link, customer.name) if x} - {pseudonym(customer.id)},
                    plan.link, plan.replacements)
    edits = campaign_edits(vault.root, vault.settings, who, read=lambda p: journal.read(p) if journal.staged(p) else None)
    for edit in edits:
        journal.put(edit.relpath, edit.text.encode("utf-8"), edit.stamp)
    return [e.relpath for e in edits]


def _scrub_service_log(vault: Vault, plan: ForgetPlan, journal: Journal) -> list[str]:
    """Her name in the dashboard's 服务日志 rows goes in the same operation. Only vaultcrm's block is
    touched: the rest of the dashboard is the owner's own text, which `mentions` points at."""
    relpath = vault.settings.folders.dashboard
    try:
        current = journal.read(relpath)
    except (OSError, VaultCRMError):  # no dashboard to speak of (a folder, a FIFO): nothing of hers in it
        return []
    if current is None:
        return []
    try:
        text = current.decode("utf-8")
    except UnicodeDecodeError:
        return []
    block = read_block(text, SERVICE_LOG)
    if block is None:
        return []
    scrubbed = block
    for old, new in plan.replacements:
        scrubbed = scrubbed.replace(old, new)
    if scrubbed == block:
        return []
    journal.put(relpath, replace_block(text, SERVICE_LOG, scrubbed).encode("utf-8"), current)
    return [relpath]


def mentions(root: Path, needles: Iterable[str]) -> list[str]:
    """Notes that still contain any of `needles` (free text, reminder digests): for a manual look."""
    wanted = [n.encode("utf-8") for n in needles if n and len(n) >= 2]
    if not wanted:
        return []
    found = []
    for relpath in sorted(scan(root)):
        try:
            data = (root / relpath).read_bytes()
        except OSError:
            continue
        if any(n in data for n in wanted):
            found.append(relpath)
    return found


def identifying(customer: Customer) -> list[str]:
    """What to look for in other notes: the real name and phone (not the pseudonym of a re-run)."""
    return [x for x in (customer.name, customer.phone) if x and x != pseudonym(customer.id)]


@dataclass
class Erased:
    customers: int
    changed: list[str]
    skipped: list[str]  # "path：why"
    still_named: list[str]  # notes whose free text still holds a name or phone: for a manual look


def forget_customer(vault: Vault, plan: ForgetPlan, *, operator: str, now: dt.datetime) -> Erased:
    with booking_lock(vault.root), transaction(vault.root, "forget", lock=BOOKING) as journal:
        result = Scrubber(vault.root, vault.loaded_stamp).apply(plan)
        result.changed += _scrub_campaigns(vault, plan, journal)
        result.changed += _scrub_service_log(vault, plan, journal)
        journal.append(AUDIT_LOG, audit_line(action="forget", customer=plan.customer.id, at=now, operator=operator,
                                             files=result.changed))
    return Erased(1, result.changed, result.skipped, mentions(vault.root, identifying(plan.customer)))


def purge_customers(vault: Vault, plan: PurgePlan, *, operator: str, now: dt.datetime) -> Erased:
    scrubber = Scrubber(vault.root, vault.loaded_stamp)
    changed, skipped = [], []
    with booking_lock(vault.root), transaction(vault.root, "purge", lock=BOOKING) as journal:
        for forget_plan, _ in plan.plans:
            result = scrubber.apply(forget_plan)
            result.changed += _scrub_campaigns(vault, forget_plan, journal)
            result.changed += _scrub_service_log(vault, forget_plan, journal)
            journal.append(AUDIT_LOG, audit_line(action="purge", customer=forget_plan.customer.id, at=now,
                                                 operator=operator, files=result.changed))
            changed += result.changed
            skipped += result.skipped
    needles = [x for p, _ in plan.plans for x in identifying(p.customer)]
    return Erased(len(plan.plans), list(dict.fromkeys(changed)), skipped, mentions(vault.root, needles))
