"""The service record note (SRV), key for key as the seed's 详细服务记录."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, ClassVar

from .fields import (Date, EmptyAsList, Minutes, Money, Phone, Record, SatisfactionField, Section, Stars, Text,
                     TimeRange, ref)


class ServiceBasics(Section):
    date: Date = ref("服务日期")
    time: TimeRange = ref("服务时间")
    duration: Minutes = ref("服务时长")
    room: Text = ref("服务地点")
    appointment_id: Text = ref("预约编号")  # vaultcrm's own: the APP this service fulfilled


class CustomerRef(Section):
    customer_name: Text = ref("客户姓名")
    customer_id: Text = ref("客户编号")
    customer_link: Text = ref("客户档案")
    phone: Phone = ref("联系方式")


class ServiceInfo(Section):
    service: Text = ref("服务项目")
    technician: Text = ref("服务技师")
    fee: Money = ref("服务费用")
    list_price: Money = ref("原价")  # vaultcrm's own: the fee before a coupon's discount
    coupon: Text = ref("优惠券")  # vaultcrm's own: the code redeemed (campaigns/redeem.py)
    campaign: Text = ref("活动")  # vaultcrm's own: "[[CMP-2026-001]]"


class BeforeAssessment(Section):
    condition: Text = ref("客户状态")
    health_concerns: Text = ref("健康关注")
    cautions: Text = ref("注意事项")


class DuringService(Section):
    main_work: Text = ref("主要操作")
    reaction: Text = ref("客户反应")
    adjustments: Text = ref("调整内容")


class AfterAssessment(Section):
    immediate_effect: Text = ref("即时效果")
    feeling: Text = ref("客户感受")
    cautions: Text = ref("注意事项")


class ServiceDetails(Section):
    before: BeforeAssessment = ref("服务前评估", BeforeAssessment)
    during: DuringService = ref("服务过程", DuringService)
    after: AfterAssessment = ref("服务后评估", AfterAssessment)


class Feedback(Section):
    effect: Text = ref("效果评价")
    satisfaction: SatisfactionField = ref("满意度")
    stars: Stars = ref("星级评分")  # vaultcrm's own: optional 1–5
    suggestions: Text = ref("建议意见")


class Aftercare(Section):
    next_appointment: Text = ref("下次预约")
    advice: Text = ref("后续建议")
    follow_up_items: Text = ref("跟进事项")


class SopStep(Section):
    """One step of the service's 标准流程, as a checkbox line in the note's 服务流程 section."""

    name: str = ref("步骤")
    done: bool = ref("完成", False)


class ServiceRecord(Record):
    kind: ClassVar[str] = "SRV"
    id_key: ClassVar[str] = "服务编号"
    id_pattern: ClassVar[re.Pattern] = re.compile(r"^SRV-(?:[A-Z][A-Z0-9]{1,9}-)?\d{4}-\d{3,}$")

    id: str = ref("服务编号")
    store: Text = ref("门店")  # the store of a chain that made it (chain of stores only)
    basics: ServiceBasics = ref("服务基本信息", ServiceBasics)
    customer: CustomerRef = ref("客户信息", CustomerRef)
    service: ServiceInfo = ref("服务信息", ServiceInfo)
    details: ServiceDetails = ref("服务详情", ServiceDetails)
    feedback: Feedback = ref("客户反馈", Feedback)
    aftercare: Aftercare = ref("后续安排", Aftercare)
    # Read from the body's `## 服务流程` checklist (staff tick it in Obsidian), never from the frontmatter.
    steps: Annotated[list[SopStep], EmptyAsList] = ref("服务流程", list)

    body_checklists: ClassVar[dict[str, str]] = {"服务流程": "服务流程"}  # alias → the body heading it is read from

    @property
    def skipped_steps(self) -> list[str]:
        """Steps of the SOP left unticked."""
        return [step.name for step in self.steps if not step.done]

    @property
    def start_time(self) -> dt.time | None:
        if not self.basics.time:
            return None
        hh, mm = self.basics.time[:5].split(":")
        return dt.time(int(hh), int(mm))
