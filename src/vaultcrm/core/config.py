"""The studio's settings, read from `vaultcrm.yaml` at the vault root into one typed object.

Keys are Chinese, as the owner writes them; English names work too. With no file (an existing vault
adopted as it is) the SPEC defaults serve: any service and technician is accepted, 60-minute
services, 09:00–21:00, a 10-minute buffer.

A mistake is caught where it is made, as `vaultcrm.yaml:LINE: …`: a value that would make bookings,
money or reminders wrong (a negative price, 超时 ≤ 0, 提成比例 outside 0–1, opening after closing, an
unknown weekday, a key written twice) is an error that stops every command (exit 1); an unknown or
misspelt key is only ignored, so it is a warning, listed by `check` with the nearest known key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import types
import typing
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..diagnostics import Diagnostic, Severity, warning
from ..errors import ConfigError
from ..models.fields import EmptyAsList, Flag, Minutes, Money, Section, TextList, Time, ref
from ..values import ChoiceEnum, parse_date, parse_list, weekday_of
from ..vault import bounds
from ..vault.lines import key_line
from ..vault.reader import PYDANTIC_MESSAGES
from ..vault.state import read_state
from ..vault.writer import relpath_problem
from ..vault.yaml_messages import explain
from .reminder_kinds import check_channel_filters
from .stores import STORE_CODE, read_machine_store

CONFIG_NAME = "vaultcrm.yaml"
MAX_CONFIG_BYTES = 1 << 20  # a studio's config is a few KB
STATE_DIR = ".vaultcrm"


class Hours(Section):
    start: Time = ref("开始")
    end: Time = ref("结束")

    @model_validator(mode="after")
    def _opens_before_closing(self) -> "Hours":
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"开始（{self.start:%H:%M}）应早于结束（{self.end:%H:%M}）")
        return self

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
    steps: TextList = ref("流程", list)  # the SOP: `log` writes it into the SRV as a checklist

    @field_validator("steps")
    @classmethod
    def _checklist_lines(cls, value: list[str]) -> list[str]:
        for step in value:
            if any(ch < " " or ch in "\x7f\u2028\u2029" for ch in step) or len(step) > 80:
                raise ValueError(f"流程步骤「{step[:20]}」应为一行不超过 80 字的文字")
        twice = sorted({step for step in value if value.count(step) > 1})
        if twice:
            raise ValueError(f"流程步骤「{'、'.join(twice)}」重复（勾选按名称对应，每步应各不相同）")
        return value

    @field_validator("duration")
    @classmethod
    def _positive_duration(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError(f"时长应大于 0 分钟（现为 {value}）")
        return value

    @field_validator("price")
    @classmethod
    def _price_not_negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value < 0:
            raise ValueError(f"价格不能为负数（现为 {value}）")
        return value


class TechnicianConfig(Section):
    skills: TextList = ref("技能", list)
    hours: Optional[Hours] = ref("工作时间")
    days_off: TextList = ref("休息日", list)
    commission: float = ref("提成比例", 0.0)

    @field_validator("commission")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"提成比例应在 0 到 1 之间（如 0.3 表示 30%），现为 {value:g}")
        return value

    @field_validator("days_off")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                is_date = parse_date(entry) is not None
            except ValueError:
                is_date = False
            if weekday_of(entry) is None and not is_date:
                raise ValueError(f"无法识别的休息日「{entry}」，应写作 周一…周日 或日期 2026-02-12")
        return value


class RoomConfig(Section):
    services: TextList = ref("服务项目", list)  # empty: the room takes any service


def _rooms(value: object) -> object:
    """`房间` as a list of names (`[房间A, 足疗区]`) or a mapping of name → `{服务项目: [...]}`."""
    if isinstance(value, dict):
        return {str(k).strip(): ({} if v is None else v) for k, v in value.items()}
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):  # `- 足疗区: {服务项目: [足疗]}`
        rooms: dict = {}
        for item in value:
            rooms.update(_rooms(item) if isinstance(item, dict) else {str(item).strip(): {}})
        return rooms
    return {name: {} for name in parse_list(value)}


class Folders(Section):
    appointments: str = ref("预约", "预约")
    services: str = ref("服务记录", "服务记录")
    followups: str = ref("跟进", "跟进")
    customers: str = ref("客户", "客户")
    reminders: str = ref("提醒", "提醒")
    daily: str = ref("日报", "统计/日报")
    monthly: str = ref("月报", "统计/月报")
    schedule: str = ref("排班", "排班")  # the day board as a note, one per day with appointments
    campaigns: str = ref("活动", "活动")  # campaign notes (campaigns/)
    waitlist: str = ref("候补", "候补")  # 候补 entries (WL notes)
    leaves: str = ref("请假", "请假")  # technicians' leave (LV notes)
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

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"超时应大于 0 秒（现为 {value:g}）")
        return value

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


class BackupRules(Section):
    """备份: where encrypted archives get their passphrase, and the off-site folder they are copied to."""

    passphrase_env: str = ref("加密口令变量", "VAULTCRM_BACKUP_PASSPHRASE")  # the variable's name, never the passphrase
    offsite: Optional[str] = ref("异地目录")  # a mounted cloud drive or NAS folder; `backup --to` overrides it

    @field_validator("passphrase_env")
    @classmethod
    def _variable_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", str(value).strip()):
            raise ValueError("应为环境变量的名字（如 VAULTCRM_BACKUP_PASSPHRASE），口令本身不要写进配置文件")
        return str(value).strip()


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


STORE_CODE_HELP = "门店代码应为大写字母开头的 2–10 位大写字母或数字，如 SH01"


class StoreConfig(Section):
    """One store of a chain (`门店: {SH01: {...}}`): what differs from the chain-wide settings."""

    name: Optional[str] = ref("名称")
    business_hours: Optional[Hours] = ref("营业时间")
    technicians: Optional[dict[str, TechnicianConfig]] = ref("技师")
    rooms: Annotated[Optional[dict[str, RoomConfig]], BeforeValidator(lambda v: None if v is None else _rooms(v))] \
        = ref("房间")

    @field_validator("technicians", mode="before")
    @classmethod
    def _none_is_empty(cls, value):
        return {k: ({} if v is None else v) for k, v in value.items()} if isinstance(value, dict) else value


def _stores(value: object) -> object:
    if value is None:
        return {}
    if isinstance(value, dict):
        for code in value:
            if not isinstance(code, str) or not STORE_CODE.match(code):
                raise ValueError(f"门店代码「{code}」无效：{STORE_CODE_HELP}")
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


class BirthdayCampaign(Section):
    """营销活动.生日关怀: the standing campaign that takes over the birthday greeting (campaigns/birthday.py)."""

    enabled: Flag = ref("启用", False)  # on: `remind` no longer sends 生日关怀提醒, `campaign birthday` does
    offer: str = ref("优惠", "生日当月9折")
    valid_days: int = ref("有效天数", 30)  # after the birthday

    @field_validator("valid_days")
    @classmethod
    def _valid_days(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"有效天数不能为负数（现为 {value}）")
        return value


class CampaignRules(Section):
    """营销活动: the campaigns' defaults (see campaigns/)."""

    birthday: BirthdayCampaign = ref("生日关怀", BirthdayCampaign)
    valid_days: int = ref("默认有效天数", 30)  # a campaign without --valid-until


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
    rooms: Annotated[dict[str, RoomConfig], BeforeValidator(_rooms)] = ref("房间", dict)
    folders: Folders = ref("目录", Folders)
    followups: FollowUpRules = ref("跟进规则", FollowUpRules)
    reminders: ReminderRules = ref("提醒规则", ReminderRules)
    segments: SegmentRules = ref("客户分群", SegmentRules)
    membership: MembershipRules = ref("会员", MembershipRules)
    campaigns: CampaignRules = ref("营销活动", CampaignRules)
    service_log_days: int = ref("服务日志天数", 30)
    stores: Annotated[dict[str, StoreConfig], BeforeValidator(_stores)] = ref("门店", dict)
    _store: Optional[str] = PrivateAttr(None)  # this machine's store (chain/stores.py), never from the file
    _chain_technicians: Optional[frozenset] = PrivateAttr(None)  # every store's technicians, for `check`

    @property
    def store(self) -> Optional[str]:
        """The store this machine books for in a chain; None in a single-store vault."""
        return self._store

    @property
    def all_technicians(self) -> frozenset:
        """Technician names of the whole chain (of this vault when it is no chain)."""
        return self._chain_technicians if self._chain_technicians is not None else frozenset(self.technicians)
    backup: BackupRules = ref("备份", BackupRules)

    @field_validator("services", "technicians", mode="before")
    @classmethod
    def _none_is_empty(cls, value):
        if value is None:
            return {}
        return {k: ({} if v is None else v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("buffer_minutes")
    @classmethod
    def _buffer(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError(f"缓冲时间不能为负数（现为 {value}）")
        return value

    @field_validator("default_duration")
    @classmethod
    def _default_duration(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError(f"默认时长应大于 0 分钟（现为 {value}）")
        return value

    @field_validator("rooms")
    @classmethod
    def _rooms_serve_known_services(cls, rooms: dict[str, RoomConfig], info: ValidationInfo):
        known = info.data.get("services") or {}
        for name, room in rooms.items():
            unknown = [s for s in room.services if known and s not in known]
            if unknown:
                raise ValueError(f"房间「{name}」的服务项目「{'、'.join(unknown)}」不在 服务项目 中"
                                 f"（有：{'、'.join(known)}）")
        return rooms

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


_UNION_TAGS = frozenset({"str", "list", "list[str]", "int", "float", "bool", "dict"})


def _error(line: int, message: str) -> ConfigError:
    return ConfigError(Diagnostic(CONFIG_NAME, line, Severity.ERROR, message))


def load_settings(root: Path) -> tuple[Settings, list[Diagnostic]]:
    """Read `vaultcrm.yaml`: the settings and warnings (unknown keys). A missing file gives the defaults;
    a broken one raises ConfigError naming its line."""
    path = root / CONFIG_NAME
    if not os.path.lexists(path):
        return machine_store(Settings(), root), []
    raw = read_state(path, MAX_CONFIG_BYTES, follow_symlinks=True)
    if raw is None:  # a FIFO (which would hang every command), a folder, a device, a huge file, or unreadable
        raise _error(1, f"{CONFIG_NAME} 不是可读的普通文本文件（或大于 {MAX_CONFIG_BYTES >> 20} MB）；"
                        "请把它换成正常的配置文件，或删除它以使用默认设置")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise _error(line, f"配置文件不是 UTF-8 编码的文本（第 {line} 行有无法识别的字节），请用 UTF-8 另存") from None
    if "\x00" in text:
        raise _error(text[:text.index("\x00")].count("\n") + 1, "配置文件含有 NUL 字节，不是文本文件；请用文本编辑器另存为 UTF-8")
    try:
        bounds.check_text(text)
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
        _refuse_repeated_keys(node)
        data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
        bounds.check_data(text, data)
    except bounds.TooComplex as exc:
        raise _error(1, f"配置文件：{exc}") from None
    except yaml.reader.ReaderError as exc:  # a control character: not a text file
        line = text[:exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise _error(line, f"配置文件含有不可用的控制字符 U+{char:04X}，不像是文本文件；请用文本编辑器另存为 UTF-8") from None
    except yaml.YAMLError as exc:  # explained in Chinese, with the line it was found on
        mark = getattr(exc, "problem_mark", None)
        raise _error(mark.line + 1 if mark is not None else 1, f"配置文件 YAML 语法错误：{explain(exc, 1)}") from None
    except (ValueError, OverflowError) as exc:  # e.g. an impossible date, which libyaml builds itself
        raise _error(1, f"配置文件中有无法读取的值：{exc}") from None
    if not isinstance(data, dict):
        raise _error(1, "配置文件应为键值映射")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            message = PYDANTIC_MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
            loc = tuple(part for part in loc if part not in _UNION_TAGS)  # `命令.str`: a branch of a union
            problems.append(Diagnostic(CONFIG_NAME, key_line(text, loc), Severity.ERROR,
                                       f"配置项 {'.'.join(map(str, loc))}：{message}"))
        problems.sort(key=lambda d: d.line)
        error = ConfigError(problems[0])
        error.details = [str(d) for d in problems[1:10]]
        raise error from None
    warnings = [warning(CONFIG_NAME, key_line(text, key_path), message)
                for key_path, message in _unknown_keys(Settings, data, ())]
    return machine_store(settings, root), warnings


def machine_store(settings: Settings, root: Path) -> Settings:
    """The settings as this machine's store sees them: its own technicians, rooms and hours where they differ.

    The store comes from `$VAULTCRM_STORE`, else `.vaultcrm/store` (written by `init --store`, never synced).
    """
    code, source = read_machine_store(root)
    if code is None:
        return settings
    if not settings.stores:
        raise _error(1, f"本机门店为 {code}（来自 {source}），但 {CONFIG_NAME} 没有 门店 一节；"
                        f"请在其中加入 门店: {{{code}: {{名称: …}}}}，或取消本机门店设置")
    if code not in settings.stores:
        raise _error(1, f"本机门店 {code}（来自 {source}）不在 {CONFIG_NAME} 的 门店 中"
                        f"（有：{'、'.join(settings.stores)}）")
    conf = settings.stores[code]
    updates = {name: value for name, value in (("business_hours", conf.business_hours),
                                                ("technicians", conf.technicians), ("rooms", conf.rooms))
               if value is not None}
    local = settings.model_copy(update=updates)
    local._store = code
    local._chain_technicians = frozenset(settings.technicians).union(
        *(conf.technicians or {} for conf in settings.stores.values()))
    return local


def _refuse_repeated_keys(node: yaml.Node | None) -> None:
    """YAML keeps the last of two equal keys: a technician or service written twice would silently lose one."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise _error(line, f"键「{key.value}」重复（第 {seen[key.value]} 行已有）：后一个会覆盖前一个，"
                                           "请合并为一项或删除其一")
                    seen[key.value] = line
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _section_of(annotation: object) -> tuple[str, type[BaseModel]] | None:
    """How a field holds sections: ("one", M), ("dict", M) name → M, ("list", M); None for plain values."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _section_of(inner[0]) if len(inner) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "one", annotation
    if origin is dict and len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return "dict", args[1]
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "list", args[0]
    return None


def _unknown_keys(model: type[BaseModel], data: object, path: tuple) -> Iterator[tuple[tuple, str]]:
    """(key path, message) for every key `model` does not know, with the nearest known key if one is close."""
    if not isinstance(data, dict):
        return
    aliases = {f.alias: name for name, f in model.model_fields.items() if f.alias}
    names = {name: name for name in model.model_fields}
    for key, value in data.items():
        name = aliases.get(str(key)) or names.get(str(key))
        if name is None:
            guess = difflib.get_close_matches(str(key), list(aliases) or list(names), n=1, cutoff=0.5)
            where = f"{'.'.join(map(str, path))} 中" if path else ""
            hint = f"是不是「{guess[0]}」？" if guess else f"可用的键：{'、'.join(aliases or names)}。"
            yield path + (key,), f"{where}未知的键「{key}」，{hint}（未知的键不起作用）"
            continue
        section = _section_of(model.model_fields[name].annotation)
        if section is None:
            continue
        how, sub = section
        if how == "one":
            yield from _unknown_keys(sub, value, path + (key,))
        elif how == "dict" and isinstance(value, dict):
            for item_name, item in value.items():
                yield from _unknown_keys(sub, item, path + (key, item_name))
        elif how == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                yield from _unknown_keys(sub, item, path + (key, i))


__all__ = ["CONFIG_NAME", "STATE_DIR", "BackupRules", "ChannelType", "Field", "FollowUpRules", "Folders", "Hours",
           "MembershipRules", "ReminderChannel", "ReminderRules", "RoomConfig", "SegmentRules", "ServiceConfig", "Settings",
           "STORE_CODE", "StoreConfig", "TechnicianConfig", "TierConfig", "load_settings", "machine_store"]
