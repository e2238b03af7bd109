"""Blocks between vaultcrm's markers in a note that is otherwise the user's (the dashboard).

Only the text between `<!-- vaultcrm:NAME 开始 -->` and `<!-- vaultcrm:NAME 结束 -->` is ever
rewritten; everything around it stays byte-identical.
"""

from __future__ import annotations

import re


def markers(name: str) -> tuple[str, str]:
    return f"<!-- vaultcrm:{name} 开始 -->", f"<!-- vaultcrm:{name} 结束 -->"


def replace_block(text: str, name: str, content: str) -> str:
    """The note with block `name` holding `content`; a note without the markers gets them appended."""
    start, end = markers(name)
    newline = "\r\n" if "\r\n" in text else "\n"
    body = content.strip("\r\n").replace("\r\n", "\n").replace("\n", newline)
    inner = f"{newline}{body}{newline}" if body else newline
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _m: start + inner + end, text, count=1)
    tail = "" if text.endswith(newline) or not text else newline
    return f"{text}{tail}{newline}{start}{inner}{end}{newline}"


def read_block(text: str, name: str) -> str | None:
    start, end = markers(name)
    m = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, re.S)
    return m[1].strip("\r\n") if m else None
