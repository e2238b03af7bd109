"""Annotated field types: each wraps a normaliser from `vaultcrm.values` for use in pydantic models."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, ClassVar, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .. import values as v


def _wrap(fn):
    def check(value):
        try:
            return fn(value)
        except ValueError:
            raise
        except Exception as exc:  # a normaliser must never crash the loader
            raise ValueError(f"无法识别的值「{value}」") from exc

    return BeforeValidator(check)


def _text(value):
    """The hot path of loading: most fields are plain text, so skip the general normaliser for them."""
    if type(value) is str:
        text = value.strip()
        return text if text and text not in v.PLACEHOLDERS else None
    if value is None:
        return None
    return v.parse_text(value)


Text = Annotated[Optional[str], BeforeValidator(_text)]  # _text raises nothing but ValueError
Date = Annotated[Optional[dt.date], _wrap(v.parse_date)]
Time = Annotated[Optional[dt.time], _wrap(v.parse_time)]
DateTime = Annotated[Optional[dt.datetime], _wrap(v.parse_datetime)]
Phone = Annotated[Optional[str], _wrap(v.parse_phone)]
Money = Annotated[Optional[Decimal], _wrap(v.parse_money)]
Minutes = Annotated[Optional[int], _wrap(v.parse_minutes)]
Stars = Annotated[Optional[int], _wrap(v.parse_stars)]
Flag = Annotated[Optional[bool], _wrap(v.parse_bool)]
TextList = Annotated[list[str], _wrap(v.parse_list)]
Status = Annotated[Optional[v.AppointmentStatus], _wrap(v.AppointmentStatus.parse)]
ChannelField = Annotated[Optional[v.Channel], _wrap(v.Channel.parse)]
StrengthField = Annotated[Optional[v.Strength], _wrap(v.Strength.parse)]
SatisfactionField = Annotated[Optional[v.Satisfaction], _wrap(v.Satisfaction.parse)]
FollowStatusField = Annotated[Optional[v.FollowUpStatus], _wrap(v.FollowUpStatus.parse)]
WaitlistStatusField = Annotated[Optional[v.WaitlistStatus], _wrap(v.WaitlistStatus.parse)]

_TIME_RANGE_SPLIT = re.compile(r"\s*(?:-|–|—|~|～|至|到)\s*")


def parse_time_range(value: object) -> str | None:
    """`14:00-14:30` (or a lone start time, which YAML may hand over as an int) as 'HH:MM-HH:MM'."""
    if v.is_blank(value):
        return None
    if isinstance(value, (int, dt.time)) and not isinstance(value, bool):
        return v.parse_time(value).strftime("%H:%M")
    parts = [p for p in _TIME_RANGE_SPLIT.split(str(value).strip()) if p]
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"无法识别的服务时间「{value}」，应写作 14:00-14:30")
    return "-".join(v.parse_time(p).strftime("%H:%M") for p in parts)


TimeRange = Annotated[Optional[str], _wrap(parse_time_range)]


def _none_is_empty_list(value):
    return [] if value is None or value == "" else value


EmptyAsList = BeforeValidator(_none_is_empty_list)


def ref(alias: str, default=None, **kw):
    """A field known in the note by its Chinese key."""
    if isinstance(default, type):
        return Field(default_factory=default, alias=alias, **kw)
    return Field(default, alias=alias, **kw)


class Section(BaseModel):
    """A mapping of a note's frontmatter. Unknown keys are the user's: kept in the file, not modelled."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", validate_assignment=False, defer_build=True)


class Record(Section):
    """One note that vaultcrm recognises by its ID key. `path` is where it lives, relative to the vault."""

    path: str = Field("", exclude=True)

    kind: ClassVar[str] = ""  # APP, SRV, FLW, CUS, WL (候补) or LV (请假)
    id_key: ClassVar[str] = ""  # the top-level key that makes a note this kind of record
    id_pattern: ClassVar[re.Pattern] = re.compile(".*")
    body_checklists: ClassVar[dict[str, str]] = {}  # alias → a body heading whose `- [ ]` lines fill it

    @property
    def record_id(self) -> str:
        return getattr(self, "id")


def _plan(model: type[BaseModel]) -> list[tuple[str, type[BaseModel], bool]]:
    """The nested-model fields of `model`: (name, submodel, is_list)."""
    plan = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        origin = getattr(annotation, "__origin__", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            plan.append((name, annotation, False))
        elif origin is list and annotation.__args__ and isinstance(annotation.__args__[0], type) \
                and issubclass(annotation.__args__[0], BaseModel):
            plan.append((name, annotation.__args__[0], True))
    return plan


_PLANS: dict[type, list] = {}


def rebuild(model: type[BaseModel], data: dict) -> BaseModel:
    """Rebuild a model from its own `model_dump()` without validating again.

    Only for data vaultcrm produced itself from a validated model (the parse cache): validation of a
    warm vault would cost more than everything else in loading it. Equal to `model_validate(data)`.
    """
    plan = _PLANS.get(model)
    if plan is None:
        plan = _PLANS[model] = _plan(model)
    values = dict(data)
    for name, sub, is_list in plan:
        item = values.get(name)
        if item is not None:
            values[name] = [rebuild(sub, x) for x in item] if is_list else rebuild(sub, item)
    obj = model.__new__(model)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
