"""The follow-up note (FLW), key for key as the seed's 跟进记录模板, plus planning keys."""

from __future__ import annotations

import re
from typing import ClassVar

from .fields import (ChannelField, Date, FollowStatusField, Phone, Record, Section, Text, TextList, ref)
from .service import CustomerRef


class FollowUpBasics(Section):
    date: Date = ref("跟进日期")
    method: ChannelField = ref("跟进方式")
    staff: Text = ref("跟进人")
    service_id: Text = ref("服务编号")
    # vaultcrm's own planning keys (SPEC "Follow-ups")
    kind: Text = ref("跟进类型")
    due: Date = ref("计划日期")
    status: FollowStatusField = ref("跟进状态")


class FollowUpLog(Section):
    customer_feedback: Text = ref("客户反馈")
    effect: Text = ref("效果评估")
    satisfaction: Text = ref("客户满意度")


class FollowUpOutcome(Section):
    intention: Text = ref("客户意向")
    next_appointment: Text = ref("下次预约")
    needs_follow_up: Text = ref("需要跟进")


class FollowUpContent(Section):
    purposes: TextList = ref("跟进目的", list)
    log: FollowUpLog = ref("跟进记录", FollowUpLog)
    outcome: FollowUpOutcome = ref("跟进结果", FollowUpOutcome)


class FollowUpPlan(Section):
    items: Text = ref("跟进事项")
    when: Text = ref("跟进时间")
    owner: Text = ref("负责人")


class FollowUp(Record):
    kind: ClassVar[str] = "FLW"
    id_key: ClassVar[str] = "跟进编号"
    id_pattern: ClassVar[re.Pattern] = re.compile(r"^FLW-(?:[A-Z][A-Z0-9]{1,9}-)?\d{4}-\d{3,}$")

    id: str = ref("跟进编号")
    store: Text = ref("门店")  # the store of a chain that made it (chain of stores only)
    basics: FollowUpBasics = ref("跟进基本信息", FollowUpBasics)
    customer: CustomerRef = ref("客户信息", CustomerRef)
    content: FollowUpContent = ref("跟进内容", FollowUpContent)
    plan: FollowUpPlan = ref("后续计划", FollowUpPlan)


__all__ = ["FollowUp", "FollowUpBasics", "FollowUpContent", "FollowUpLog", "FollowUpOutcome", "FollowUpPlan",
           "Phone"]
