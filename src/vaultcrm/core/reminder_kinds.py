"""The reminder vocabulary: 提醒项 (kinds), 提醒类型 (their groups) and 提醒对象 (audiences).

It sits in the core, below both the settings and the reminder rules, because `vaultcrm.yaml`'s
channels name kinds and audiences (`仅限`, `对象`) and are checked when the settings are read, while
the rules in `reminders/rules.py` produce reminders of these kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..values import ChoiceEnum


class Audience(ChoiceEnum):
    """提醒对象 — who a reminder's text is written for."""

    CUSTOMER = "客户"
    STAFF = "员工"

    @classmethod
    def aliases(cls):
        return {"customer": cls.CUSTOMER, "client": cls.CUSTOMER, "staff": cls.STAFF, "team": cls.STAFF}


@dataclass(frozen=True)
class Kind:
    name: str  # 提醒项
    group: str  # 提醒类型
    audience: Audience


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("提前1天", "预约提醒", Audience.CUSTOMER),
    Kind("提前2小时确认", "预约提醒", Audience.CUSTOMER),
    Kind("服务前30分钟准备", "预约提醒", Audience.STAFF),
    Kind("候补通知", "预约提醒", Audience.STAFF),  # freed time a waiting customer can take: call them
    Kind("技师排班提醒", "服务提醒", Audience.STAFF),
    Kind("房间准备提醒", "服务提醒", Audience.STAFF),
    Kind("材料准备提醒", "服务提醒", Audience.STAFF),
    Kind("回访时间提醒", "跟进提醒", Audience.STAFF),
    Kind("套餐到期提醒", "跟进提醒", Audience.STAFF),
    Kind("生日关怀提醒", "跟进提醒", Audience.CUSTOMER),
    Kind("营销活动", "精准营销", Audience.CUSTOMER),  # `campaign` sends (campaigns/), never a day note's entry
)}
GROUPS = tuple(dict.fromkeys(k.group for k in KINDS.values()))
KIND_ORDER = {name: i for i, name in enumerate(KINDS)}


def check_channel_filters(only: Iterable[str], audiences: Iterable[str]) -> None:
    """A channel's 仅限 must name 提醒项 or 提醒类型, its 对象 audiences (ValueError otherwise)."""
    unknown = [name for name in only if name not in KINDS and name not in GROUPS]
    if unknown:
        raise ValueError(f"仅限 中的「{'、'.join(unknown)}」不是提醒类型或提醒项，可选：{'、'.join([*GROUPS, *KINDS])}")
    for audience in audiences:
        Audience.parse(audience)
