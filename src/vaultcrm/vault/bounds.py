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
libyaml's own limits differ between versions (the libyaml in PyYAML 6.0.4 stops at 1,000 levels with
"exceeded maximum nesting depth" before yielding a single event): when a parser refuses a text, a
rough bound of its depth, counted here without any parser, decides whether it is reported as too deep,
so the message is the same whichever layer refused it.
"""

from __future__ import annotations

import re

import yaml

MAX_FRONTMATTER = 1 << 20  # bytes of frontmatter text
MAX_DEPTH = 64  # nested mappings / lists; the templates use three
MAX_NODES = 20_000  # values reachable, aliases expanded
C_SAFE_DEPTH = 1000  # libyaml composes this deep without trouble (it crashes beyond ~20,000)
_START = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_END = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_BRACKETS = re.compile(r"[\[\]{}]")
_BLOCK_INDENT = re.compile(r"^(?:[ ]|[-?](?=[ ]|$))*", re.M)


class TooComplex(ValueError):
    """The frontmatter is too large, too deep or expands too far to be read safely."""


def _openers(text: str) -> int:
    """An upper bound of the nesting a single line can open (flow `[{`, compact `- -`, `? ?`)."""
    return text.count("[") + text.count("{") + text.count("-") + text.count("?")


def _too_deep() -> TooComplex:
    return TooComplex(f"frontmatter 嵌套过深（超过 {MAX_DEPTH} 层），已拒绝读取")


def cheap(fm: bytes) -> bool:
    """True for a frontmatter (as bytes) too small and flat for check_text to refuse: most notes."""
    return len(fm) <= C_SAFE_DEPTH or (
        len(fm) <= MAX_FRONTMATTER and fm.count(b"\n") <= C_SAFE_DEPTH
        and fm.count(b"[") + fm.count(b"{") + fm.count(b"-") + fm.count(b"?") <= C_SAFE_DEPTH)


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
        refuse_if_deep(text)  # libyaml may stop at its own limit before yielding the events that tell
        return  # the real parse reports the syntax error with its line


def rough_depth(text: str) -> int:
    """An upper bound of the nesting, without a parser: flow brackets still open plus block indentation.

    Brackets inside quotes or comments count too, so it is only used for a text a parser has refused.
    """
    flow = deepest = 0
    for match in _BRACKETS.finditer(text):
        flow = flow + 1 if match.group() in "[{" else max(flow - 1, 0)
        deepest = max(deepest, flow)
    block = max((m.end() - m.start() for m in _BLOCK_INDENT.finditer(text)), default=0)
    return deepest + block + 1  # a block collection at column c is at most c + 1 deep


def refuse_if_deep(text: str) -> None:
    """For a text some parser refused: raise TooComplex when it may be nested deeper than MAX_DEPTH."""
    if _openers(text) > MAX_DEPTH or text.count("\n") > MAX_DEPTH:
        if rough_depth(text) > MAX_DEPTH:
            raise _too_deep()


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
