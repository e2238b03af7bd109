"""The studio's settings, read from `vaultcrm.yaml` at the vault root into one typed object.

Keys are Chinese, as the owner writes them; English names work too. With no file (an existing vault
adopted as it is) the SPEC defaults serve: any service and technician is accepted, 60-minute
services, 09:00–21:00, a 10-minute buffer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator

from .diagnostics import Diagnostic, Severity
from .errors import ConfigError
from .models.fields import Minutes, Money, Section, TextList, Time, ref

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


class FollowUpRules(Section):
    new_customer_days: int = ref("新客户回访天数", 3)
    problem_hours: int = ref("问题客户回访小时", 24)
    problem_stars_below: int = ref("问题客户星级低于", 3)
    regular_min_services: int = ref("长期客户服务次数", 4)
    regular_window_days: int = ref("长期客户统计天数", 90)
    regular_interval_days: int = ref("长期客户回访间隔天数", 30)
    package_midpoint: bool = ref("套餐中期回访", True)


class ReminderRules(Section):
    package_expiry_days: int = ref("套餐到期提前天数", 7)
    birthday_days: int = ref("生日提前天数", 7)
    channels: list[dict[str, Any]] = ref("发送渠道", list)


class Settings(Section):
    studio: str = ref("店名", "健康养生馆")
    timezone: str = ref("时区", "Asia/Shanghai")
    business_hours: Hours = ref("营业时间", _default_hours)
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
        data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
    except UnicodeDecodeError:
        raise ConfigError(Diagnostic(CONFIG_NAME, 1, Severity.ERROR, "配置文件不是 UTF-8 编码，请用 UTF-8 另存")) from None
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else 1
        raise ConfigError(Diagnostic(CONFIG_NAME, line, Severity.ERROR, f"配置文件 YAML 语法错误：{exc.problem or exc}")) from None
    if not isinstance(data, dict):
        raise ConfigError(Diagnostic(CONFIG_NAME, 1, Severity.ERROR, "配置文件应为键值映射"))
    try:
        return Settings.model_validate(data), []
    except ValidationError as exc:
        from .vault.lines import key_line  # local: only needed on the error path

        err = exc.errors()[0]
        loc = tuple(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(Diagnostic(CONFIG_NAME, key_line(text, loc), Severity.ERROR,
                                     f"配置项 {'.'.join(map(str, loc))}：{message}")) from None


__all__ = ["CONFIG_NAME", "STATE_DIR", "Field", "FollowUpRules", "Folders", "Hours", "ReminderRules",
           "ServiceConfig", "Settings", "TechnicianConfig", "load_settings"]
