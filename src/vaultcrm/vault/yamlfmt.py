"""Render one Python value as a YAML scalar that PyYAML (YAML 1.1) and Obsidian (YAML 1.2) read alike.

The rule that matters: a string is written plain only when both YAML versions would read it back as
the same string. `14:00` is text to Obsidian but the integer 840 to PyYAML, so it is quoted; phones,
`yes`/`no`, dates-as-text and numbers-as-text are quoted for the same reason. Wikilinks are always
double-quoted, as Obsidian writes them.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import Enum

import yaml
from yaml.resolver import Resolver

_RESOLVER = Resolver()
_FIRST_CHARS = frozenset(k for k in Resolver.yaml_implicit_resolvers if k)
# Characters that make a plain scalar mean something else somewhere in it.
_UNSAFE_ANYWHERE = re.compile(r"(: |:$| #|[\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff])")
_UNSAFE_START = set("-?:,[]{}#&*!|>'\"%@`~ ")
# YAML 1.2 core-schema literals that 1.1 might read as text, or the other way round.
_YAML12_SPECIAL = re.compile(
    r"^(?:[-+]?(?:\d[\d_]*)(?:\.\d*)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)"
    r"|\.(?:nan|NaN|NAN)|null|Null|NULL|true|True|TRUE|false|False|FALSE|~|.*:\d.*)$"
)


def plain_is_safe(text: str) -> bool:
    """True when `text` can be written unquoted and read back as the same string by both YAMLs."""
    if not text or not text.isprintable() or text != text.strip() or text[0] in _UNSAFE_START \
            or _UNSAFE_ANYWHERE.search(text):
        return False
    if text.startswith("[[") or text.endswith(":"):
        return False
    if text[0] in _FIRST_CHARS and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str":
        return False
    return not _YAML12_SPECIAL.match(text)


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def double_quoted(text: str) -> str:
    """A YAML double-quoted scalar; every character YAML may not hold raw is escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'



def format_time(value: dt.time) -> str:
    return value.strftime("%H:%M") if not value.second else value.strftime("%H:%M:%S")


def format_datetime(value: dt.datetime) -> str:
    """'2026-02-11 10:00'; the year always has four digits (strftime writes year 999 as '999')."""
    return f"{value.date().isoformat()} {format_time(value.time())}"


def scalar(value: object) -> str:
    """The YAML text for one scalar value (empty for None, so `key:` reads back as null)."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return single_quoted(format_datetime(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return single_quoted(format_time(value))
    text = str(value)
    if plain_is_safe(text):
        return text
    if text.startswith("[[") or not text.isprintable():
        return double_quoted(text)
    return single_quoted(text)
