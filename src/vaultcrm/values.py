"""Value normalisers: every way a studio writes a date, time, price or status, read into one form.

Notes are edited by hand and rewritten by Obsidian, so a value may arrive quoted or bare, as YAML 1.1
reads it (`14:00` is the integer 840) or as text. Each normaliser takes what YAML produced and returns
the canonical Python value, or None for "not filled"; it raises ValueError with a Chinese message
saying what was expected when the value cannot be read.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from enum import Enum

# Placeholders of the seed template: a note made from the raw template holds these until filled in.
PLACEHOLDERS = frozenset(
    {"¥", "￥", "分钟", "轻/中/重", "非常满意/满意/一般/不满意", "电话/微信/到店", "电话/微信/到店/在线",
     "待服务/已确认/服务中/已完成/已取消/未到店", "待跟进/已完成/已取消"}
)

_FULLWIDTH = str.maketrans("０１２３４５６７８９：／－．　，", "0123456789:/-. ,")


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and (not value.strip() or value.strip() in PLACEHOLDERS))


def _text(value: object) -> str:
    return str(value).translate(_FULLWIDTH).strip()


CN_WEEKDAYS = "一二三四五六日"
_EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekday_of(text: str) -> int | None:
    """周一 / 星期一 / 礼拜一 / Monday / Mon → 0 … 周日 / 周天 / Sunday → 6; None if not a weekday."""
    t = text.strip().lower()
    for prefix in ("星期", "礼拜", "周"):
        if t.startswith(prefix) and len(t) == len(prefix) + 1:
            rest = t[-1].replace("天", "日").replace("七", "日")
            return CN_WEEKDAYS.index(rest) if rest in CN_WEEKDAYS else None
    for i, name in enumerate(_EN_WEEKDAYS):
        if len(t) >= 3 and name.startswith(t.removesuffix(".")):
            return i
    return None


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def parse_date(value: object) -> dt.date | None:
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _DATE_RE.match(_text(value))
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise ValueError(f"无法识别的日期「{value}」，应写作 2026-02-12")


_TIME_RE = re.compile(r"^(\d{1,2})\s*[:点时]\s*(\d{1,2})?\s*分?(?::(\d{1,2}))?$")


def parse_time(value: object) -> dt.time | None:
    """Also undoes YAML 1.1's base-60 reading: bare 14:00 arrives as 840, bare 14:00:00 as 50400."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, dt.time):
        return value.replace(microsecond=0, tzinfo=None)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 24 * 60:
            return dt.time(value // 60, value % 60)
        if 0 <= value < 24 * 3600:
            return dt.time(value // 3600, value // 60 % 60, value % 60)
    elif isinstance(value, str):
        m = _TIME_RE.match(_text(value))
        if m:
            try:
                return dt.time(int(m[1]), int(m[2] or 0), int(m[3] or 0))
            except ValueError:
                pass
    raise ValueError(f"无法识别的时间「{value}」，应写作 '14:00'")


_DATETIME_RE = re.compile(r"^(.+?)(?:[ T]+|\s*日\s*)(\d{1,2}\s*[:点].*)$")


def parse_datetime(value: object, tz: dt.tzinfo | None = None) -> dt.datetime | None:
    """Store-local naive date-time; an aware YAML timestamp is converted to the store's zone."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(tz).replace(tzinfo=None) if tz else value.replace(tzinfo=None)
            except OverflowError:  # 0001-01-01T00:00+14:00 has no store-local time
                raise ValueError(f"时间「{value}」超出可用范围") from None
        return value.replace(microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    text = _text(value)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        m = _DATETIME_RE.match(text)
        if not m:
            raise ValueError(f"无法识别的时间「{value}」，应写作 '2026-02-11 10:00'") from None
        day, clock = parse_date(m[1] + ("日" if "年" in m[1] else "")), parse_time(m[2])
        return dt.datetime.combine(day, clock)
    return parse_datetime(parsed, tz)


_PHONE_JUNK = re.compile(r"[\s\-()（）]")


def parse_phone(value: object) -> str | None:
    if is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"无法识别的电话「{value}」")
    text = _PHONE_JUNK.sub("", _text(value))
    if not re.fullmatch(r"\+?\d{3,20}", text):
        raise ValueError(f"无法识别的电话「{value}」，应只含数字，如 '13800138000'")
    return text


_MONEY_RE = re.compile(r"^(?:¥|￥|RMB|CNY)?\s*(-?\d+(?:\.\d+)?)\s*(?:元|块)?$", re.IGNORECASE)


def parse_money(value: object) -> Decimal | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"无法识别的金额「{value}」")
    if isinstance(value, (int, float, Decimal)):
        return _tidy(Decimal(str(value)))
    m = _MONEY_RE.match(_text(value).replace(",", ""))
    if not m:
        raise ValueError(f"无法识别的金额「{value}」，应写作 ¥198")
    try:
        amount = Decimal(m[1])
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"无法识别的金额「{value}」") from None
    return _tidy(amount)


def _tidy(amount: Decimal) -> Decimal:
    """198.00 → 198 and 19.50 → 19.5, never in exponent form."""
    if not amount.is_finite():
        raise ValueError(f"无法识别的金额「{amount}」")
    try:
        if amount == amount.to_integral():
            return amount.quantize(Decimal(1))
    except InvalidOperation:  # more digits than the decimal context holds: not a price
        raise ValueError(f"金额「{amount}」过大") from None
    return Decimal(format(amount.normalize(), "f"))


_MINUTES_RE = re.compile(
    r"^(\d+(?:\.\d+)?)\s*(分钟|分|min|mins|minutes|m|小时|h|hr|hours)?$", re.IGNORECASE
)


def parse_minutes(value: object) -> int | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"无法识别的时长「{value}」")
    if isinstance(value, int):
        minutes: float = value
    else:
        m = _MINUTES_RE.match(_text(value))
        if not m:
            raise ValueError(f"无法识别的时长「{value}」，应写作 30分钟")
        unit = (m[2] or "").lower()
        minutes = float(m[1]) * (60 if unit in {"小时", "h", "hr", "hours"} else 1)
    if minutes < 0 or minutes > 24 * 60 or minutes != int(minutes):
        raise ValueError(f"时长「{value}」不在 0–1440 分钟之内")
    return int(minutes)


def format_money(amount: Decimal | int | float | None) -> str:
    """`¥178.2`: a float (from JSON, say) goes through its shortest text, never its binary expansion."""
    if amount is None:
        return "¥"
    return f"¥{Decimal(str(amount) if isinstance(amount, float) else amount):f}"


def format_minutes(minutes: int | None) -> str:
    return "分钟" if minutes is None else f"{minutes}分钟"


def parse_list(value: object) -> list[str]:
    """A YAML list, or the template's multi-line plain scalar (YAML folds its lines with spaces)."""
    if is_blank(value):
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if not is_blank(v)]
    if isinstance(value, (dict, set)):
        raise ValueError("应为列表（每行一项，以 - 开头）")
    return [part for part in re.split(r"[\s、，,;；]+", str(value)) if not is_blank(part)]


def parse_text(value: object) -> str | None:
    if is_blank(value):
        return None
    if isinstance(value, (dict, list)):
        raise ValueError("应为一段文字，不是列表或嵌套字段")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value).strip()


def parse_bool(value: object) -> bool | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in {"是", "同意", "已同意", "yes", "y", "true", "1", "有"}:
        return True
    if text in {"否", "不同意", "未同意", "no", "n", "false", "0", "无"}:
        return False
    raise ValueError(f"无法识别的是/否「{value}」，应写作 是 或 否")


class ChoiceEnum(str, Enum):
    """An enum whose value is the Chinese word; `aliases()` maps codes and English words to members."""

    @classmethod
    def aliases(cls) -> dict[str, "ChoiceEnum"]:  # pragma: no cover - overridden
        return {}

    @classmethod
    def parse(cls, value: object):
        if is_blank(value):
            return None
        if isinstance(value, cls):
            return value
        text = _text(value)
        for member in cls:
            if text == member.value:
                return member
        key = text.lower().replace("_", "-").replace(" ", "-")
        table = {k.lower(): v for k, v in cls.aliases().items()}
        if key in table:
            return table[key]
        choices = "、".join(m.value for m in cls)
        raise ValueError(f"无法识别的{cls.label()}「{value}」，可选：{choices}")

    @classmethod
    def label(cls) -> str:
        return cls.__doc__.split("—")[0].strip() if cls.__doc__ else "取值"

    def __str__(self) -> str:
        return self.value


class AppointmentStatus(ChoiceEnum):
    """预约状态 — the appointment lifecycle of SPEC."""

    PENDING = "待服务"
    CONFIRMED = "已确认"
    IN_PROGRESS = "服务中"
    COMPLETED = "已完成"
    CANCELLED = "已取消"
    NO_SHOW = "未到店"

    @classmethod
    def aliases(cls):
        table = {m.name.replace("_", "-"): m for m in cls}
        table.update({"in-progress": cls.IN_PROGRESS, "no-show": cls.NO_SHOW, "noshow": cls.NO_SHOW,
                      "done": cls.COMPLETED, "canceled": cls.CANCELLED, "cancel": cls.CANCELLED,
                      "confirm": cls.CONFIRMED})
        return table

    @property
    def code(self) -> str:
        return self.name


class Channel(ChoiceEnum):
    """预约渠道 — how the booking came in."""

    PHONE = "电话"
    WECHAT = "微信"
    WALK_IN = "到店"
    ONLINE = "在线"

    @classmethod
    def aliases(cls):
        table = {"phone": cls.PHONE, "wechat": cls.WECHAT, "weixin": cls.WECHAT, "walk-in": cls.WALK_IN,
                 "walkin": cls.WALK_IN, "online": cls.ONLINE}
        table.update({m.value + "预约": m for m in cls})
        return table


class Strength(ChoiceEnum):
    """力度 — massage pressure."""

    LIGHT = "轻"
    MEDIUM = "中"
    FIRM = "重"

    @classmethod
    def aliases(cls):
        return {"light": cls.LIGHT, "medium": cls.MEDIUM, "firm": cls.FIRM, "strong": cls.FIRM,
                "soft": cls.LIGHT, "轻度": cls.LIGHT, "中度": cls.MEDIUM, "重度": cls.FIRM, "适中": cls.MEDIUM}


class Satisfaction(ChoiceEnum):
    """满意度 — the customer's verdict on a service."""

    VERY_SATISFIED = "非常满意"
    SATISFIED = "满意"
    NEUTRAL = "一般"
    DISSATISFIED = "不满意"

    @classmethod
    def aliases(cls):
        return {"very-satisfied": cls.VERY_SATISFIED, "satisfied": cls.SATISFIED, "neutral": cls.NEUTRAL,
                "ok": cls.NEUTRAL, "dissatisfied": cls.DISSATISFIED, "unsatisfied": cls.DISSATISFIED}


class FollowUpStatus(ChoiceEnum):
    """跟进状态 — whether a planned follow-up was made."""

    PLANNED = "待跟进"
    DONE = "已完成"
    CANCELLED = "已取消"

    @classmethod
    def aliases(cls):
        return {"planned": cls.PLANNED, "pending": cls.PLANNED, "todo": cls.PLANNED, "done": cls.DONE,
                "completed": cls.DONE, "cancelled": cls.CANCELLED, "canceled": cls.CANCELLED}


class WaitlistStatus(ChoiceEnum):
    """候补状态 — whether a waiting customer still waits."""

    WAITING = "等待中"
    BOOKED = "已预约"
    CANCELLED = "已取消"

    @classmethod
    def aliases(cls):
        return {"waiting": cls.WAITING, "open": cls.WAITING, "booked": cls.BOOKED, "done": cls.BOOKED,
                "cancelled": cls.CANCELLED, "canceled": cls.CANCELLED, "removed": cls.CANCELLED}


def parse_stars(value: object) -> int | None:
    if is_blank(value):
        return None
    if isinstance(value, str):
        text = _text(value)
        if text and set(text) <= {"★", "☆"}:
            return text.count("★")
        text = text.removesuffix("星").removesuffix("分")
        value = int(text) if text.isdigit() else value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    raise ValueError(f"无法识别的星级「{value}」，应为 1–5")
