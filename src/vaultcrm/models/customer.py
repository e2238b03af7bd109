"""The customer profile note: 客户编号 and 客户姓名 at the top level make a note a profile."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Optional

from .fields import Date, EmptyAsList, Flag, Money, Phone, Record, Section, StrengthField, Text, TextList, ref


class HealthFile(Section):
    allergies: TextList = ref("过敏史", list)
    contraindications: TextList = ref("禁忌事项", list)
    concerns: Text = ref("健康关注")


class Preferences(Section):
    technician: Text = ref("偏好技师")
    strength: StrengthField = ref("力度要求")


class Consent(Section):
    health_data: Flag = ref("健康数据")
    marketing: Flag = ref("营销")
    date: Date = ref("同意日期")


class Package(Section):
    """A prepaid package (套餐): a number of sessions or a stored value, valid from start to end."""

    name: Text = ref("名称")
    service: Text = ref("服务项目")  # empty: any service
    sessions_total: Optional[int] = ref("总次数")
    sessions_left: Optional[int] = ref("剩余次数")
    value_total: Money = ref("总金额")
    value_left: Money = ref("余额")
    start: Date = ref("开始日期")
    end: Date = ref("结束日期")


class PointsEntry(Section):
    """A line of 积分记录: a redemption (negative) or a manual adjustment (positive), on a date."""

    date: Date = ref("日期")
    points: Optional[int] = ref("积分")
    note: Text = ref("说明")


class Customer(Record):
    kind: ClassVar[str] = "CUS"
    id_key: ClassVar[str] = "客户编号"
    id_pattern: ClassVar[re.Pattern] = re.compile(r"^C-(?:[A-Z][A-Z0-9]{1,9}-)?\d{4,}$")

    id: str = ref("客户编号")
    store: Text = ref("门店")  # the store of a chain that made it (chain of stores only)
    name: Text = ref("客户姓名")
    phone: Phone = ref("联系方式")
    gender: Text = ref("性别")
    birthday: Date = ref("生日")
    first_visit: Date = ref("首次到店")
    source: Text = ref("来源渠道")
    tier: Text = ref("会员等级")
    health: HealthFile = ref("健康档案", HealthFile)
    preferences: Preferences = ref("服务偏好", Preferences)
    tags: TextList = ref("标签", list)
    referrer: Text = ref("推荐人")
    consent: Consent = ref("授权同意", Consent)
    points: Optional[int] = ref("积分")
    packages: Annotated[list[Package], EmptyAsList] = ref("套餐", list)
    points_log: Annotated[list[PointsEntry], EmptyAsList] = ref("积分记录", list)  # vaultcrm's own

    @property
    def link(self) -> str:
        """The wikilink other notes use for this profile (its file name without `.md`)."""
        stem = self.path.rsplit("/", 1)[-1].removesuffix(".md") if self.path else f"{self.id} {self.name or ''}".strip()
        return f"[[{stem}]]"


# A forgotten (anonymised) customer, as `customer forget` leaves her (privacy/rules.py): here, below every
# feature, so that campaigns can leave her out while privacy rewrites campaign notes.
FORGOTTEN_TAG = "已注销"


def pseudonym(customer_id: str) -> str:
    return f"{FORGOTTEN_TAG}-{customer_id}"


def is_forgotten(customer: Customer) -> bool:
    return FORGOTTEN_TAG in customer.tags and customer.name == pseudonym(customer.id)
