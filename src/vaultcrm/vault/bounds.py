"""Limits that keep a hostile or broken frontmatter from exhausting time, memory or the C stack.

A note is text anyone can edit or sync in, so reading one must cost at most a bounded amount of work:
- size: a frontmatter is a few hundred bytes; a megabyte of it is not a record but an accident or an
  attack, and is refused before any parser sees it;
- nesting: libyaml composes nested collections recursively in C, so `[[[[…` twenty thousand deep
  crashes the whole process (a segfault, which no `except` can catch), and Python code that walks the
  result recurses as well. The event stream, which libyaml produces without recursion, tells the depth
  first; it is only consulted when the text has enough openers to be that deep at all;
- aliases: `&a [*b, *b, …]` "billion laughs" expand exponentially when walked. libyaml shares the
  aliased objects, so the parsed data is small, but counting every node as if expanded, with a budget,
  stops whatever walks it later (validation, `str()` of a list) from blowing up.
Both checks are skipped for the ordinary note, which cannot be deep or large: loading a vault parses
tens of thousands of them, and walking each one again would cost a third of the parse.
"""

from __future__ import annotations

import yaml

MAX_FRONTMATTER = 1 << 20  # bytes of frontmatter text
MAX_DEPTH = 64  # nested mappings / lists; the templates use three
MAX_NODES = 20_000  # values reachable, aliases expanded
C_SAFE_DEPTH = 1000  # libyaml composes this deep without trouble (it crashes beyond ~20,000)
_START = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_END = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class TooComplex(ValueError):
    """The frontmatter is too large, too deep or expands too far to be read safely."""


def _openers(text: str) -> int:
    """An upper bound of the nesting a single line can open (flow `[{`, compact `- -`, `? ?`)."""
    return text.count("[") + text.count("{") + text.count("-") + text.count("?")


def _too_deep() -> TooComplex:
    return TooComplex(f"frontmatter 嵌套过深（超过 {MAX_DEPTH} 层），已拒绝读取")


def check_text(text: str) -> None:
    """Refuse, before parsing, a frontmatter whose parse could exhaust memory or the C stack."""
    if len(text) > MAX_FRONTMATTER:
        raise TooComplex(f"frontmatter 过大（超过 {MAX_FRONTMATTER >> 20} MB），已拒绝读取")
    if _openers(text) <= C_SAFE_DEPTH and text.count("\n") <= C_SAFE_DEPTH:
        return
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, _START):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep()
            elif isinstance(event, _END):
                depth -= 1
    except yaml.YAMLError:
        return  # the real parse reports the syntax error with its line


def check_data(text: str, data: object) -> None:
    """Refuse parsed data that is deeper or (aliases expanded) larger than any real note."""
    if "*" not in text and _openers(text) <= MAX_DEPTH and text.count("\n") <= MAX_DEPTH:
        return  # no aliases, and too few lines and openers to nest deeply
    budget = MAX_NODES
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise TooComplex("frontmatter 过大或包含过多别名引用（&/*），已拒绝读取")
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= MAX_DEPTH:
            raise _too_deep()
        stack.extend((child, depth + 1) for child in children)
