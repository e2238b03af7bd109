"""A fast, exact parser for the template-shaped YAML frontmatter of vaultcrm notes.

Reading a whole vault means parsing tens of thousands of small frontmatters, and libyaml
(`yaml.CSafeLoader`) costs ~100-160 µs per template note, mostly in per-event Python overhead.
`parse()` handles only the simple block subset the templates use (nested block mappings, block
sequences of scalars or of mappings, plain and one-line quoted scalars, multi-line plain scalars,
comments) in one pass over the lines, and returns exactly what `yaml.load(text,
Loader=yaml.CSafeLoader)` would: YAML 1.1 resolution is done by the loader's own resolver and
constructors. The moment it meets anything else it raises `Unsupported`; `load()` then falls back
to libyaml, which also produces the real error for invalid YAML. Exactness beats coverage: every
doubtful construct is Unsupported.
"""

from __future__ import annotations

import datetime as dt
import re

import yaml
from yaml.nodes import ScalarNode

__all__ = ["Unsupported", "parse", "load"]


class Unsupported(Exception):
    """The text is outside the fast subset (or invalid): use libyaml instead."""


# Characters that may not start a plain scalar here. libyaml accepts `-x`, `?x`, `:x`, but the
# fast path only takes the `-x` form (negative numbers) in values, and none of them in keys.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# Anything libyaml would reject or treat specially: tabs, CR, NEL/LS/PS line breaks, BOM,
# non-printable characters, surrogates. (Document markers are checked apart.)
_REJECT = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_MAX_KEY = 250  # libyaml forgets a simple key after 1024 characters; stay well below
_STR = "tag:yaml.org,2002:str"
# Resolve and construct with CSafeLoader's own tables (custom resolvers must be added before import).
_LOADER = yaml.CSafeLoader("")
_FIRST = frozenset(k for k in _LOADER.yaml_implicit_resolvers if k)  # chars that may not be str
_BUILD = {
    tag: _LOADER.yaml_constructors[tag]
    for tag in ("tag:yaml.org,2002:" + name for name in ("null", "bool", "int", "float", "timestamp"))
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")  # the date-only YAML 1.1 timestamp
_CACHE: dict[str, object] = {}  # plain scalar -> value, for scalars that need resolving
_KEYS: set[str] = set()  # keys known to be valid plain str keys
_MISS = object()


def _resolve(s: str) -> object:
    """The value of the plain scalar `s` (first char in _FIRST), as SafeConstructor builds it."""
    value = _CACHE.get(s, _MISS)
    if value is not _MISS:
        return value
    # Cheap exact shortcuts for the usual unique values (phones, counts, dates), left uncached.
    if s.isdigit() and s.isascii() and len(s) < 19 and (s[0] != "0" or len(s) == 1):
        return int(s)  # what the int resolver and construct_yaml_int make of plain decimals
    if len(s) == 10 and _DATE.match(s):
        try:
            return dt.date(int(s[:4]), int(s[5:7]), int(s[8:]))
        except ValueError:
            raise Unsupported(s) from None
    tag = _LOADER.resolve(ScalarNode, s, (True, False))
    if tag == _STR:
        value = s
    elif tag in _BUILD:
        try:
            value = _BUILD[tag](_LOADER, ScalarNode(tag, s))
        except Exception:  # e.g. 2026-02-30: let libyaml's loader raise its own error
            raise Unsupported(s) from None
    else:  # merge `<<`, value `=`: no safe constructor
        raise Unsupported(s)
    if len(_CACHE) > 20000:
        _CACHE.clear()
    _CACHE[s] = value
    return value


def _quoted(s: str) -> str:
    """The value of a one-line quoted scalar `s` that fills the rest of its line."""
    if s[0] == "'":
        end = s.find("'", 1)
        while end > 0 and s[end + 1 : end + 2] == "'":
            end = s.find("'", end + 2)
        if end < 0:
            raise Unsupported(s)
        value = s[1:end].replace("''", "'")
    else:
        end = s.find('"', 1)
        if end < 0:
            raise Unsupported(s)
        value = s[1:end]
        if "\\" in value:
            raise Unsupported(s)
    tail = s[end + 1 :]
    if tail and (tail[0] != " " or tail.lstrip(" ")[:1] not in ("", "#")):
        raise Unsupported(s)
    return value


def _starts_mapping(s: str) -> bool:
    """Whether the line content `s` (not a comment, quote or `- `) is `key:` or `key: value`."""
    cut = s.find(" #")
    if cut >= 0:
        s = s[:cut].rstrip(" ")
    return ": " in s or s[-1] == ":"


def _plain(s: str) -> tuple[object, str, bool]:
    """(value, text, may_continue) of the plain scalar starting `s` (the rest of a line)."""
    c = s[0]
    if c in _INDICATORS and (c != "-" or len(s) == 1 or s[1] == " "):
        raise Unsupported(s)
    cut = s.find(" #")
    if cut >= 0:
        s = s[:cut]
    s = s.rstrip(" ")
    if ": " in s or s[-1] == ":":
        raise Unsupported(s)
    return (_resolve(s) if c in _FIRST else s), s, cut < 0


def parse(text: str) -> object:
    """Parse a frontmatter exactly as CSafeLoader would; raise Unsupported outside the subset."""
    if type(text) is not str:
        raise Unsupported("not a str")
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # a lone CR is caught by _REJECT
    if _REJECT.search(text) or text.startswith(("---", "...")) or "\n---" in text or "\n..." in text:
        raise Unsupported("character or document marker")
    # The document is the value of the key "" of a virtual mapping at indent -1.
    top: dict | list = {"": None}
    top_ind = -1
    top_seq = False
    stack: list = []  # enclosing (indent, container, is_sequence) frames
    pending = ""  # key of `top` whose value is still empty (`key:` so far), or None
    # The last plain scalar, which following more-indented lines continue (folded).
    cont_obj = None
    cont_key = cont_ind = cont_text = cont_parts = None
    blanks = 0
    for line in text.split("\n"):
        t = line.lstrip(" ")
        if not t:
            blanks += 1
            continue
        ind = len(line) - len(t)
        if cont_obj is not None:
            if ind > cont_ind and t[0] != "#":  # a continuation line of a multi-line plain scalar
                if t[0] in _INDICATORS:
                    raise Unsupported(t)
                cut = t.find(" #")
                if cut >= 0:
                    t = t[:cut]
                t = t.rstrip(" ")
                if ": " in t or t[-1] == ":":
                    raise Unsupported(t)
                if cont_parts is None:
                    cont_parts = [cont_text]
                cont_parts.append("\n" * blanks if blanks else " ")
                cont_parts.append(t)
                blanks = 0
                if cut < 0:
                    continue
                t = "#"  # a comment ends the scalar; nothing is left of this line
            if cont_parts is not None:
                s = "".join(cont_parts)
                cont_obj[cont_key] = _resolve(s) if s[0] in _FIRST else s
            cont_obj = cont_parts = None
        c = t[0]
        if c == "#":
            continue
        item = c == "-" and (len(t) == 1 or t[1] == " ")
        if pending is not None:
            if ind > top_ind or (item and ind == top_ind):
                if item:
                    new: dict | list = []
                elif _starts_mapping(t):
                    new = {}
                else:  # a plain scalar on the lines after `key:`
                    top[pending], cont_text, more = _plain(t)
                    if more:
                        cont_obj, cont_key, cont_ind, blanks = top, pending, top_ind, 0
                    pending = None
                    continue
                top[pending] = new
                stack.append((top_ind, top, top_seq))
                top, top_ind, top_seq = new, ind, item
            pending = None
        if ind != top_ind:
            while ind < top_ind:
                if len(stack) == 1:
                    raise Unsupported("dedent below the document")
                top_ind, top, top_seq = stack.pop()
            if ind != top_ind:
                raise Unsupported("indentation")
        if top_seq:
            if item:
                rest = t[2:].lstrip(" ")
                if not rest or rest[0] == "#":
                    top.append(None)
                    continue
                if rest[0] == "'" or rest[0] == '"':
                    top.append(_quoted(rest))
                    continue
                if not _starts_mapping(rest):
                    value, cont_text, more = _plain(rest)
                    top.append(value)
                    if more:
                        cont_obj, cont_key, cont_ind, blanks = top, len(top) - 1, top_ind, 0
                    continue
                # `- key: value` starts a mapping whose further keys line up under `key`
                new = {}
                top.append(new)
                stack.append((top_ind, top, True))
                ind += len(t) - len(rest)
                top, top_ind, top_seq, t = new, ind, False, rest
            else:
                if stack[-1][0] != ind:  # only an indentless sequence ends where its mapping goes on
                    raise Unsupported("sequence")
                top_ind, top, top_seq = stack.pop()
        elif item:
            raise Unsupported("sequence")
        # key: value
        sep = t.find(": ")
        if sep < 0:
            if t[-1] != ":":
                raise Unsupported(t)
            key = t[:-1]
            rest = ""
        else:
            key = t[:sep]
            rest = t[sep + 2 :].lstrip(" ")
        if key not in _KEYS:
            if (
                not key
                or key[0] in _INDICATORS
                or key[-1] in " :"
                or " #" in key
                or len(key) > _MAX_KEY
                or (key[0] in _FIRST and type(_resolve(key)) is not str)
            ):
                raise Unsupported(key)
            if len(_KEYS) > 5000:
                _KEYS.clear()
            _KEYS.add(key)
        if not rest:
            top[key] = None
            pending = key
            continue
        c = rest[0]
        if c in _INDICATORS:
            if c == "#":
                top[key] = None
                pending = key
                continue
            if c == "'" or c == '"':
                top[key] = _quoted(rest)
                continue
            if c != "-" or len(rest) == 1 or rest[1] == " ":
                raise Unsupported(rest)
        # a plain scalar (inline copy of _plain)
        cut = rest.find(" #")
        if cut >= 0:
            rest = rest[:cut].rstrip(" ")
        elif rest[-1] == " ":
            rest = rest.rstrip(" ")
        if ": " in rest or rest[-1] == ":":
            raise Unsupported(rest)
        top[key] = _resolve(rest) if c in _FIRST else rest
        if cut < 0:
            cont_obj, cont_key, cont_ind, cont_text, blanks = top, key, top_ind, rest, 0
    if cont_parts is not None:
        s = "".join(cont_parts)
        cont_obj[cont_key] = _resolve(s) if s[0] in _FIRST else s
    return (stack[0][1] if stack else top)[""]


def load(text: str) -> object:
    """parse(), or libyaml (and its errors) when the text is outside the fast subset."""
    try:
        return parse(text)
    except Unsupported:
        return yaml.load(text, Loader=yaml.CSafeLoader)
