"""The studio's settings, read from `vaultcrm.yaml` at the vault root into one typed object.

Keys are Chinese, as the owner writes them; English names work too. With no file (an existing vault
adopted as it is) the SPEC defaults serve: any service and technician is accepted, 60-minute
services, 09:00–21:00, a 10-minute buffer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from ..diagnostics import Diagnostic, Severity
from ..errors import ConfigError
from ..models.fields import EmptyAsList, Minutes, Money, Section, TextList, Time, ref
from ..values import ChoiceEnum
from ..vault import bounds
from ..vault.writer import relpath_problem
from .reminder_kinds import check_channel_filters

CONFIG_NAME = "vaultcrm.yaml"
STATE_DIR = ".vaultcrm"


class Hours(Section):
    start: Time = ref("开始")
    end: Time = ref("结束")

    def contains(self, start: dt.time, end: dt.time) -> bool:
        """[start, end) lies within the hours (unset hours allow anything)."""
        if self.start is None or self.end is None:
            return True
        return self.start <= start < end <= self.end


def _default_hours() -> Hours:
    return Hours(start=dt.time(9), end=dt.time(21))


class ServiceConfig(Section):
    duration: Minutes = ref("时长")
    price: Money = ref("价格")
    skill: Optional[str] = ref("技能")
    contraindications: TextList = ref("禁忌", list)
    materials: TextList = ref("材料", list)
    package: bool = ref("套餐", False)


class TechnicianConfig(Section):
    skills: TextList = ref("技能", list)
    hours: Optional[Hours] = ref("工作时间")
    days_off: TextList = ref("休息日", list)
    commission: float = ref("提成比例", 0.0)


class Folders(Section):
    appointments: str = ref("预约", "预约")
    services: str = ref("服务记录", "服务记录")
    followups: str = ref("跟进", "跟进")
    customers: str = ref("客户", "客户")
    reminders: str = ref("提醒", "提醒")
    daily: str = ref("日报", "统计/日报")
    monthly: str = ref("月报", "统计/月报")
    dashboard: str = ref("总览", "服务追踪表.md")
    templates: str = ref("模板", ".vaultcrm/templates")

    @field_validator("*")
    @classmethod
    def _inside_vault(cls, value: str) -> str:
        """A folder is a place inside the vault: `../x` or `/srv/x` would carry notes out of it."""
        problem = relpath_problem(value) if isinstance(value, str) else None
        if problem:
            raise ValueError(f"{problem}（目录应为库内的相对路径，如 提醒 或 统计/日报）")
        return value


class FollowUpRules(Section):
    new_customer_days: int = ref("新客户回访天数", 3)
    problem_hours: int = ref("问题客户回访小时", 24)
    problem_stars_below: int = ref("问题客户星级低于", 3)
    regular_min_services: int = ref("长期客户服务次数", 4)
    regular_window_days: int = ref("长期客户统计天数", 90)
    regular_interval_days: int = ref("长期客户回访间隔天数", 30)
    package_midpoint: bool = ref("套餐中期回访", True)
    plan_lookback_days: int = ref("补排回访天数", 7)  # `follow plan` skips follow-ups overdue longer than this


class ChannelType(ChoiceEnum):
    """发送渠道类型 — where `remind --send` delivers a reminder."""

    WECOM = "企业微信"
    DINGTALK = "钉钉"
    FEISHU = "飞书"
    WEBHOOK = "webhook"
    EMAIL = "邮件"
    COMMAND = "命令"

    @classmethod
    def aliases(cls):
        return {"wecom": cls.WECOM, "wework": cls.WECOM, "企微": cls.WECOM, "dingtalk": cls.DINGTALK,
                "dingding": cls.DINGTALK, "feishu": cls.FEISHU, "lark": cls.FEISHU, "webhook": cls.WEBHOOK,
                "http": cls.WEBHOOK, "email": cls.EMAIL, "mail": cls.EMAIL, "smtp": cls.EMAIL,
                "电子邮件": cls.EMAIL, "command": cls.COMMAND, "cmd": cls.COMMAND}


class ReminderChannel(Section):
    """One entry of 发送渠道: a chat-bot webhook, an SMTP mailbox or a local command."""

    type: Annotated[Optional[ChannelType], BeforeValidator(ChannelType.parse)] = ref("类型")
    name: Optional[str] = ref("名称")  # how logs and notes name it; defaults to the type
    only: TextList = ref("仅限", list)  # 提醒项 or 提醒类型 this channel takes; empty: all
    audience: TextList = ref("对象", list)  # 客户 and/or 员工; empty: both
    format: str = ref("格式", "text")  # text, or markdown for 企业微信/钉钉
    timeout: float = ref("超时", 10.0)  # seconds
    url: Optional[str] = ref("地址")
    host: Optional[str] = ref("服务器")
    port: Optional[int] = ref("端口")
    username: Optional[str] = ref("用户名")
    password: Optional[str] = ref("密码")
    password_env: Optional[str] = ref("密码环境变量")
    sender: Optional[str] = ref("发件人")
    recipients: TextList = ref("收件人", list)
    starttls: bool = ref("starttls", False)
    ssl: Optional[bool] = ref("ssl")  # unset: SSL on port 465
    command: Optional[str | list[str]] = ref("命令")

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value):
        key = str(value or "text").strip().lower()
        if key in {"text", "文本", "txt"}:
            return "text"
        if key in {"markdown", "md"}:
            return "markdown"
        raise ValueError(f"未知的格式「{value}」，可选：text、markdown")

    @model_validator(mode="after")
    def _complete(self) -> "ReminderChannel":
        kind = self.type
        if kind is None:
            raise ValueError("缺少 类型（企业微信、钉钉、飞书、webhook、邮件 或 命令）")
        if kind in WEBHOOK_TYPES and not (self.url or "").lower().startswith(("http://", "https://")):
            raise ValueError(f"{kind.value} 渠道需要 地址（http:// 或 https:// 开头的网址）")
        if kind is ChannelType.EMAIL and not (self.host and self.sender and self.recipients):
            raise ValueError("邮件渠道需要 服务器、发件人 和 收件人")
        if kind is ChannelType.COMMAND and not self.command:
            raise ValueError("命令渠道需要 命令")
        check_channel_filters(self.only, self.audience)
        return self

    @property
    def label(self) -> str:
        return self.name or (self.type.value if self.type else "?")

    @property
    def uses_ssl(self) -> bool:
        return self.ssl if self.ssl is not None else self.port == 465


WEBHOOK_TYPES = frozenset({ChannelType.WECOM, ChannelType.DINGTALK, ChannelType.FEISHU, ChannelType.WEBHOOK})


class ReminderRules(Section):
    package_expiry_days: int = ref("套餐到期提前天数", 7)
    birthday_days: int = ref("生日提前天数", 7)
    channels: Annotated[list[ReminderChannel], EmptyAsList] = ref("发送渠道", list)

    @model_validator(mode="after")
    def _distinct_names(self) -> "ReminderRules":
        labels = [c.label for c in self.channels]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"发送渠道「{'、'.join(twice)}」出现多次，请用 名称 区分（提醒笔记按名称记录发送到了哪里）")
        return self


class SegmentRules(Section):
    """客户分群: thresholds of the automatic tags (see customers/segments.py)."""

    window_months: int = ref("统计月数", 3)  # visits per month are averaged over this many months
    frequent_per_month: float = ref("高频月均到店", 2.0)
    potential_per_month: float = ref("潜力月均到店", 1.0)
    churn_days: int = ref("流失预警天数", 90)
    new_days: int = ref("新客户天数", 30)
    high_value_spend: Money = ref("高价值消费额", Decimal(3000))
    high_value_months: int = ref("高价值统计月数", 12)


def _parse_discount(value: object) -> object:
    """`9`, `8.5`, `'8.5折'`: the Chinese 折 (tenths of the price); 10 means no discount."""
    text = str(value).strip().removesuffix("折").strip() if value is not None else "10"
    try:
        number = Decimal(text or "10")
    except InvalidOperation:
        raise ValueError(f"无法识别的折扣「{value}」，应写作 8.5 或 8.5折") from None
    if not 0 < number <= 10:
        raise ValueError(f"折扣「{value}」应在 0–10 折之间")
    return number


class TierConfig(Section):
    threshold: Money = ref("门槛", Decimal(0))  # spend in the last 消费统计月数 months
    discount: Decimal = ref("折扣", Decimal(10))

    @field_validator("discount", mode="before")
    @classmethod
    def _discount(cls, value):
        return _parse_discount(value)


def _default_tiers() -> dict[str, TierConfig]:
    return {name: TierConfig(threshold=Decimal(t), discount=Decimal(d))
            for name, t, d in (("普通", 0, "9"), ("银卡", 2000, "8.5"), ("金卡", 5000, "8"), ("钻石", 10000, "7.5"))}


class MembershipRules(Section):
    """会员: tiers by spend, their discounts, and points (see customers/membership.py)."""

    tiers: dict[str, TierConfig] = Field(default_factory=_default_tiers, alias="等级")
    spend_months: int = ref("消费统计月数", 12)
    points_per_yuan: Decimal = ref("每元积分", Decimal(1))
    points_expiry_months: int = ref("积分有效月数", 12)  # 0: points never expire
    point_value: Money = ref("积分抵现", Decimal("0.01"))  # yuan per point when redeemed

    @field_validator("tiers", mode="before")
    @classmethod
    def _tiers(cls, value):
        if value is None:
            return _default_tiers()
        return {k: ({} if v is None else v) for k, v in value.items()} if isinstance(value, dict) else value

    def tier_names(self) -> list[str]:
        """Lowest first."""
        return sorted(self.tiers, key=lambda name: self.tiers[name].threshold or 0)


class Settings(Section):
    studio: str = ref("店名", "健康养生馆")
    timezone: str = ref("时区", "Asia/Shanghai")
    business_hours: Hours = Field(default_factory=_default_hours, alias="营业时间")
    buffer_minutes: Minutes = ref("缓冲时间", 10)
    default_duration: Minutes = ref("默认时长", 60)
    no_show_limit: int = ref("爽约上限", 3)
    operator: Optional[str] = ref("操作人")
    services: dict[str, ServiceConfig] = ref("服务项目", dict)
    technicians: dict[str, TechnicianConfig] = ref("技师", dict)
    rooms: TextList = ref("房间", list)
    folders: Folders = ref("目录", Folders)
    followups: FollowUpRules = ref("跟进规则", FollowUpRules)
    reminders: ReminderRules = ref("提醒规则", ReminderRules)
    segments: SegmentRules = ref("客户分群", SegmentRules)
    membership: MembershipRules = ref("会员", MembershipRules)
    service_log_days: int = ref("服务日志天数", 30)

    @field_validator("services", "technicians", mode="before")
    @classmethod
    def _none_is_empty(cls, value):
        if value is None:
            return {}
        return {k: ({} if v is None else v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知的时区「{value}」，例如 Asia/Shanghai") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service_duration(self, service: str | None) -> int:
        conf = self.services.get(service or "")
        return (conf.duration if conf and conf.duration else None) or self.default_duration or 60

    def now(self) -> dt.datetime:
        """Store-local wall-clock time, naive, to the minute."""
        return dt.datetime.now(self.tz).replace(tzinfo=None, second=0, microsecond=0)


def load_settings(root: Path) -> tuple[Settings, list[Diagnostic]]:
    """Read `vaultcrm.yaml`; a missing file gives the defaults, a broken one raises ConfigError."""
    path = root / CONFIG_NAME
    if not path.is_file():
        return Settings(), []
    try:
        text = path.read_text(encoding="utf-8-sig")
        bounds.check_text(text)
        data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
        bounds.check_data(text, data)
    except bounds.TooComplex as exc:
        raise ConfigError(Diagnostic(CONFIG_NAME, 1, Severity.ERROR, f"配置文件：{exc}")) from None
    except UnicodeDecodeError:
        raise ConfigError(Diagnostic(CONFIG_NAME, 1, Severity.ERROR, "配置文件不是 UTF-8 编码，请用 UTF-8 另存")) from None
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else 1
        raise ConfigError(Diagnostic(CONFIG_NAME, line, Severity.ERROR, f"配置文件 YAML 语法错误：{exc.problem or exc}")) from None
    except (ValueError, OverflowError) as exc:  # e.g. an impossible date, which libyaml builds itself
        raise ConfigError(Diagnostic(CONFIG_NAME, 1, Severity.ERROR, f"配置文件中有无法读取的值：{exc}")) from None
    if not isinstance(data, dict):
        raise ConfigError(Diagnostic(CONFIG_NAME, 1, Severity.ERROR, "配置文件应为键值映射"))
    try:
        return Settings.model_validate(data), []
    except ValidationError as exc:
        from ..vault.lines import key_line  # local: only needed on the error path

        err = exc.errors()[0]
        loc = tuple(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(Diagnostic(CONFIG_NAME, key_line(text, loc), Severity.ERROR,
                                     f"配置项 {'.'.join(map(str, loc))}：{message}")) from None


__all__ = ["CONFIG_NAME", "STATE_DIR", "ChannelType", "Field", "FollowUpRules", "Folders", "Hours",
           "MembershipRules", "ReminderChannel", "ReminderRules", "SegmentRules", "ServiceConfig", "Settings",
           "TechnicianConfig", "TierConfig", "load_settings"]
