"""Every note and digest is rendered from a Jinja2 template.

Templates ship in the project's `templates/` folder; a vault may override any of them by putting a
file of the same name in its own template folder (`.vaultcrm/templates/` by default). Templates a user
can edit render in Jinja2's sandbox.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from pathlib import Path

from ..errors import VaultCRMError
from ..values import format_minutes, format_money
from ..vault.yamlfmt import scalar


def templates_dir() -> Path:
    """The shipped templates: inside the installed package, or at the top of a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("vaultcrm templates folder not found")


def _value(value: object) -> str:
    """` value` for `key:{{ x|v }}`, or nothing, so an empty value leaves a bare `key:` as in the seed."""
    text = scalar(value)
    return f" {text}" if text else ""


def _block_list(items, indent: int = 4) -> str:
    """A YAML block list under a key, or nothing when empty."""
    items = [i for i in (items or []) if i not in (None, "")]
    pad = " " * indent
    return "".join(f"\n{pad}- {scalar(item)}" for item in items)


def _money(amount) -> str | None:
    return format_money(amount) if amount is not None else None


def _minutes(minutes) -> str | None:
    return format_minutes(minutes) if minutes is not None else None


def _money_plain(amount) -> str:
    if amount is None:
        return "—"
    return f"¥{Decimal(amount):,}".replace(".00", "")


def _percent(value, empty: str = "—") -> str:
    return empty if value is None else f"{value:.1f}%"


def _signed(value, empty: str = "—") -> str:
    return empty if value is None else f"{value:+.1f}%"


# Line breaks of every kind (a heading or table row must stay one line) and other control characters.
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# HTML as entities; what makes a link, embed, code span, math, comment or tag, backslash-escaped.
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MARKDOWN = re.compile(r"([\\\[\]`$#]|%(?=%)|(?<=%)%)")  # `%%` opens a comment; `12.5%` stays as it is


def markdown_inline(value) -> str:
    """User text as inert Markdown on one line: it reads as itself and never becomes markup.

    A customer name or note lands in headings and tables: a newline would end the heading (or start a
    `---` line), `[[…]]` would link to another customer, `<script>` or `<img onerror>` would be HTML,
    `%%` would hide the rest of the note from view. Line breaks become spaces, other control and bidi
    characters go, `& < >` become entities and `\\ [ ] ` $ # %%` are backslash-escaped (Obsidian
    shows them as typed).
    """
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    text = _CONTROLS.sub("", _LINE_BREAKS.sub(" ", str(value)))
    return _MARKDOWN.sub(r"\\\1", text.translate(_HTML))


def _cell(value) -> str:
    """A Markdown table cell: inert text (see `markdown_inline`), no pipe to split the row, `-` when empty."""
    if value is None or value == "":
        return "-"
    return markdown_inline(value).replace("|", "／")


_OWN_LINK = re.compile(r"^\[\[[^\[\]|#^\r\n<>]+\]\]$")


def _wikilink(value) -> str:
    """A `[[…]]` link vaultcrm made from a file name stays a link; anything else is shown as inert text."""
    if value is None:
        return ""
    text = str(value)
    return text if _OWN_LINK.match(text) else markdown_inline(text)


def environment(override: str | None = None):
    """The sandboxed Jinja2 environment (jinja2 is imported here, by the first command that renders).

    Kept per state of the override folder: a long-running process (`watch`, its warm worker) picks up a
    template the user adds or removes there (Jinja itself reloads a template file that changed)."""
    try:
        state = os.stat(override).st_mtime_ns if override else None
    except OSError:
        state = None
    return _environment(override, state)


@lru_cache(maxsize=8)
def _environment(override: str | None, state: int | None):
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    loaders = [FileSystemLoader(str(templates_dir()))]
    if state is not None and Path(override).is_dir():
        loaders.insert(0, FileSystemLoader(override))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders), undefined=StrictUndefined, keep_trailing_newline=True,
        trim_blocks=False, lstrip_blocks=False, autoescape=False,
    )
    env.filters.update(v=_value, y=scalar, blist=_block_list, money=_money, money_plain=_money_plain,
                       minutes=_minutes, percent=_percent, signed=_signed, cell=_cell, md=markdown_inline,
                       wikilink=_wikilink)
    return env


def render(name: str, override_dir: Path | None = None, **context) -> str:
    """Render a template; a broken or unsafe user override is refused with a message naming its file."""
    from jinja2 import TemplateError
    from jinja2.sandbox import SecurityError

    env = environment(str(override_dir) if override_dir else None)
    try:
        return env.get_template(name).render(**context)
    except TemplateError as exc:
        user_file = Path(override_dir) / name if override_dir else None
        if user_file is None or not user_file.is_file():
            raise  # a shipped template is broken: a bug, reported as one
        if isinstance(exc, SecurityError):
            raise VaultCRMError(f"自定义模板 {user_file} 试图访问不允许的内容，为安全起见已停止，未写入任何笔记"
                                f"（{exc}）；请修改或删除这个模板") from exc
        raise VaultCRMError(f"自定义模板 {user_file} 有误，未写入任何笔记：{exc}；请修改或删除这个模板") from exc
