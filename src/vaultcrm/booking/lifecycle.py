"""The appointment lifecycle of SPEC: which status may follow which, and how a change is written down.

待服务 and 已确认 may become 服务中, 已取消 or 未到店; 服务中 becomes 已完成 (usually by logging the
service). 已完成, 已取消 and 未到店 are final: leaving them takes `--force`, as does any move the table
does not list. Each change is one line of `预约状态.状态更新`, readable in Obsidian as it stands:
`2026-02-12 14:05 待服务 → 已确认（前台）`.
"""

from __future__ import annotations

import datetime as dt

from ..errors import ConflictError
from ..models import TERMINAL_STATUSES
from ..values import AppointmentStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.IN_PROGRESS, S.CANCELLED, S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.IN_PROGRESS, S.CANCELLED, S.NO_SHOW}),
    S.IN_PROGRESS: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}


def allowed(old: S, new: S) -> bool:
    return new in TRANSITIONS[old]


def check_transition(appointment_id: str, old: S, new: S, *, force: bool = False) -> None:
    """Raise ConflictError unless `old → new` is in the table (or forced)."""
    if allowed(old, new) or force:
        return
    if old in TERMINAL_STATUSES:
        raise ConflictError(f"{appointment_id} 已是「{old.value}」（终态），不能改为「{new.value}」；确需更改请加 --force")
    targets = "、".join(s.value for s in S if s in TRANSITIONS[old])
    hint = "；完成服务请用 vaultcrm log 记录" if new is S.COMPLETED else ""
    raise ConflictError(f"{appointment_id} 不能从「{old.value}」改为「{new.value}」，可改为：{targets}{hint}"
                        "；确需更改请加 --force")


def check_no_show(appointment_id: str, new: S, start: dt.datetime | None, now: dt.datetime, *,
                  force: bool = False) -> bool:
    """未到店 only once the appointment's start has come; True when `--force` let an early one through."""
    early = new is S.NO_SHOW and start is not None and now < start
    if early and not force:
        raise ConflictError(f"{appointment_id} 的开始时间 {start:%Y-%m-%d %H:%M} 还没到（现在 {now:%Y-%m-%d %H:%M}），"
                            "不能标记为「未到店」；确需更改请加 --force")
    return early


def entry(when: dt.datetime, what: str, operator: str, *, forced: bool = False) -> str:
    """One line of 状态更新: time, what happened, who (and whether it was forced)."""
    who = f"{operator}，强制" if forced else operator
    return f"{when:%Y-%m-%d %H:%M} {what}（{who}）"


def transition_entry(when: dt.datetime, old: S, new: S, operator: str, *, forced: bool = False) -> str:
    return entry(when, f"{old.value} → {new.value}", operator, forced=forced and not allowed(old, new))


__all__ = ["TRANSITIONS", "allowed", "check_no_show", "check_transition", "entry", "transition_entry"]
