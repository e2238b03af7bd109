"""Writing follow-ups: planning them into FLW notes, and recording a call as done or cancelled.

The rules live in `rules.py` beside it and are pure; this is where their results touch the vault. A finished
follow-up is edited in place through `store.update_record`, so what a user wrote into the note by hand
(comments, extra keys, the body) stays as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.loader import Vault, load_vault
from ..core.locks import booking_lock
from ..core.store import create_record, update_record
from ..errors import ConflictError, NotFoundError
from ..models import FollowUp
from ..values import Channel, FollowUpStatus
from .rules import Planned, followup_record, plan_followups, status_of


def create_followups(vault: Vault, planned: list[Planned], year: int) -> list[FollowUp]:
    """A FLW note for each proposal; returns them as written, with their 跟进编号."""
    created = []
    known = set(vault.index.followups)
    for p in planned:
        record = create_record(vault.root, vault.settings, followup_record(p), known, year=year)
        known.add(record.id)
        created.append(record)
    return created


def plan_all(root: Path, now: dt.datetime | None = None, *,
             load: Callable[[Path], Vault] = load_vault) -> tuple[list[FollowUp], Vault]:
    """`follow plan`: every follow-up the rules ask for that the vault does not hold yet.

    Under the booking lock, which `log` holds while it plans, so the two never plan the same call twice.
    """
    with booking_lock(root):
        vault = load(root)
        now = now or vault.settings.now()
        planned = plan_followups(vault.index, vault.settings.followups, now.date())
        return create_followups(vault, planned, now.year), vault


@dataclass
class FollowUpOutcome:
    """What `follow done` was told about the call; None leaves a field as it is."""

    feedback: str | None = None  # 跟进记录.客户反馈
    effect: str | None = None  # 跟进记录.效果评估
    satisfaction: str | None = None  # 跟进记录.客户满意度
    intention: str | None = None  # 跟进结果.客户意向
    next_appointment: str | None = None  # 跟进结果.下次预约
    needs: str | None = None  # 跟进结果.需要跟进
    items: str | None = None  # 后续计划.跟进事项
    when: str | None = None  # 后续计划.跟进时间
    owner: str | None = None  # 后续计划.负责人
    method: Channel | None = None
    by: str | None = None
    next_days: int | None = None  # plan the next call this many days later

    def changes(self) -> dict[tuple, object]:
        fields = {
            ("跟进基本信息", "跟进方式"): self.method, ("跟进基本信息", "跟进人"): self.by,
            ("跟进内容", "跟进记录", "客户反馈"): self.feedback, ("跟进内容", "跟进记录", "效果评估"): self.effect,
            ("跟进内容", "跟进记录", "客户满意度"): self.satisfaction,
            ("跟进内容", "跟进结果", "客户意向"): self.intention,
            ("跟进内容", "跟进结果", "下次预约"): self.next_appointment,
            ("跟进内容", "跟进结果", "需要跟进"): self.needs,
            ("后续计划", "跟进事项"): self.items, ("后续计划", "跟进时间"): self.when, ("后续计划", "负责人"): self.owner,
        }
        return {path: value.value if isinstance(value, Channel) else value
                for path, value in fields.items() if value is not None}


def _open_followup(vault: Vault, followup_id: str) -> FollowUp:
    f = vault.index.followups.get(followup_id.strip().upper())
    if f is None:
        raise NotFoundError(f"找不到跟进 {followup_id}（跟进编号形如 FLW-2026-001；vaultcrm follow list 可查）")
    status = status_of(f)
    if status is not FollowUpStatus.PLANNED:
        raise ConflictError(f"{f.id} 已是「{status.value}」，不能再更改")
    return f


def complete_followup(vault: Vault, followup_id: str, outcome: FollowUpOutcome,
                      today: dt.date) -> tuple[FollowUp, FollowUp | None]:
    """Mark a follow-up done on `today` with what the call found; optionally plan the next one.

    Returns (the follow-up, the next one planned or None).
    """
    f = _open_followup(vault, followup_id)
    changes = outcome.changes()
    next_due = today + dt.timedelta(days=outcome.next_days) if outcome.next_days else None
    if next_due is not None and outcome.when is None:
        changes[("后续计划", "跟进时间")] = next_due
    changes[("跟进基本信息", "跟进日期")] = today
    changes[("跟进基本信息", "跟进状态")] = FollowUpStatus.DONE.value
    update_record(vault.root, f, changes, loaded=vault.loaded_stamp(f))
    if next_due is None:
        return f, None
    follow_on = FollowUp.model_validate({
        "跟进编号": "",
        "跟进基本信息": {"跟进方式": outcome.method or f.basics.method or Channel.PHONE, "服务编号": f.basics.service_id,
                   "跟进类型": f.basics.kind, "计划日期": next_due, "跟进状态": FollowUpStatus.PLANNED},
        "客户信息": f.customer.model_dump(by_alias=True),
        "跟进内容": {"跟进目的": f.content.purposes},
    })
    return f, create_record(vault.root, vault.settings, follow_on, vault.index.followups.keys(), year=today.year)


def cancel_followup(vault: Vault, followup_id: str, by: str | None = None, reason: str | None = None) -> FollowUp:
    f = _open_followup(vault, followup_id)
    changes: dict[tuple, object] = {("跟进基本信息", "跟进状态"): FollowUpStatus.CANCELLED.value}
    if by:
        changes[("跟进基本信息", "跟进人")] = by
    if reason:
        changes[("后续计划", "跟进事项")] = reason
    update_record(vault.root, f, changes, loaded=vault.loaded_stamp(f))
    return f


__all__ = ["FollowUpOutcome", "cancel_followup", "complete_followup", "create_followups", "plan_all"]
