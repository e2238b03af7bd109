"""Edit a note's frontmatter in place, changing nothing but the values a command means to change.

Why splicing instead of load-modify-dump: a round-trip dump re-renders every line, and even ruamel's
round-trip mode folds the template's multi-line plain scalar (`跟进目的:` with one item a line) into
one line and re-indents by its own settings. So each edit is applied to the text: the parser
(PyYAML's composer, whose node marks are exact character offsets, also for empty values) tells where
a value starts and ends, and only that span is replaced, or new lines are inserted after the last
line of the parent mapping or list. Every other byte — comments, blank lines, quoting, unknown keys,
CRLF, BOM, the body — is untouched by construction. Flow collections (`[a, b]`, `{x: 1}`) are the one
place where a span is re-rendered as a whole: ruamel's round-trip mode edits the fragment and keeps
the quoting of its untouched items.

Afterwards the new frontmatter is parsed again with the same loader the readers use, and compared with
what the edit should have produced; any other difference raises EditVerificationError.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Mapping
from types import MappingProxyType

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .writer import ConcurrentEditError, FileStamp, read_stamped, write_atomic
from .yamlfmt import scalar

__all__ = ["EditError", "EditVerificationError", "edit_frontmatter", "split_note", "update_note"]

KeyPath = tuple[str, ...]
_EMPTY: Mapping = MappingProxyType({})
_OPEN = re.compile(r"\A\ufeff?---[ \t]*(\r\n|\n)")
_CLOSE = re.compile(r"^---[ \t]*(?:\r\n|\n|\Z)", re.M)
_NULL_TAG = "tag:yaml.org,2002:null"


class EditError(ValueError):
    """The edit cannot be made (no frontmatter, invalid YAML, a path through a non-mapping…)."""


class EditVerificationError(EditError):
    """The edited text would not read back as intended; nothing must be written."""


def split_note(text: str) -> tuple[str, str, str]:
    """(opening fence incl. BOM and newline, frontmatter, closing fence + body); joined they are `text`.

    A note without a complete frontmatter block comes back as ("", "", text).
    """
    opening = _OPEN.match(text)
    closing = _CLOSE.search(text, opening.end()) if opening else None
    if not closing:
        return "", "", text
    return text[: opening.end()], text[opening.end(): closing.start()], text[closing.start():]


def _is_coll(value: object) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def _inline(value: object) -> str:
    """Text for a value that fits after `key: ` on one line (empty collections included)."""
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, (list, tuple)) and not value:
        return "[]"
    return scalar(value)


def _key_lines(key: object, value: object, indent: int, mi: int, so: int) -> list[str]:
    head = " " * indent + (scalar(key) or "''") + ":"
    if _is_coll(value) and value:
        return [head, *_block_lines(value, indent + (mi if isinstance(value, Mapping) else so), mi, so)]
    text = _inline(value)
    return [head + (" " + text if text else "")]


def _block_lines(value: Mapping | list, indent: int, mi: int, so: int) -> list[str]:
    """Block-style lines for a non-empty collection; `mi`/`so` are the document's own indentation."""
    if isinstance(value, Mapping):
        return [line for k, v in value.items() for line in _key_lines(k, v, indent, mi, so)]
    lines = []
    for item in value:
        if _is_coll(item) and item:
            sub = _block_lines(item, indent + 2, mi, so)
            lines += [" " * indent + "- " + sub[0][indent + 2:], *sub[1:]]
        else:
            text = _inline(item)
            lines.append(" " * indent + "-" + (" " + text if text else ""))
    return lines


def _as_yaml(value: object) -> str:
    return "\n".join(_block_lines(value, 0, 2, 2)) if _is_coll(value) and value else _inline(value)


def _reread(value: object) -> object:
    """What the readers will get back for `value` once we have written it."""
    try:
        return yaml.load(_as_yaml(value), Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise EditVerificationError(f"{value!r} cannot be written as YAML that reads back: {exc}") from None


def _same(a: object, b: object) -> bool:
    """Equal and of the same types throughout (1, 1.0 and True are not the same value to write)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _ruamel() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    rt.allow_duplicate_keys = True
    return rt


def _to_ruamel(value: object) -> object:
    """A ruamel object that dumps as yamlfmt.scalar() writes (quote style carried by its type)."""
    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _to_ruamel(v)
        return out
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_to_ruamel(v) for v in value)
    text = scalar(value)
    return _ruamel().load(text) if text else None


def _is_null(node: object) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG and node.style is None


def _nest(keys: KeyPath, value: object) -> object:
    for key in reversed(keys):
        value = {key: value}
    return value


class _Doc:
    """The frontmatter text plus splice operations located by a fresh parse for every edit."""

    def __init__(self, text: str, nl: str) -> None:
        self.text, self.nl = text, nl
        self.mi, self.so = 2, 2
        self._detect_indents(self._compose())

    def _compose(self):
        try:
            return yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise EditError(f"frontmatter is not valid YAML: {exc}") from None

    def _detect_indents(self, node, found=None) -> None:
        """Take mapping indent and list offset from the first nested examples in the document."""
        found = found if found is not None else {}
        if isinstance(node, MappingNode) and not node.flow_style:
            for key, value in node.value:
                col = key.start_mark.column
                if isinstance(value, MappingNode) and not value.flow_style and "mi" not in found:
                    found["mi"] = value.value[0][0].start_mark.column - col
                if isinstance(value, SequenceNode) and not value.flow_style and "so" not in found:
                    found["so"] = value.start_mark.column - col
                self._detect_indents(value, found)
        if found.get("mi", 0) > 0:
            self.mi = found["mi"]
        if found.get("so", -1) >= 0:
            self.so = found["so"]

    # -- positions -----------------------------------------------------------------------------
    def _eol(self, pos: int) -> int:
        """Start of the line after the one holding `pos` (or `pos` itself at a line start)."""
        if pos > 0 and self.text[pos - 1] == "\n":
            return pos
        nxt = self.text.find("\n", pos)
        return len(self.text) if nxt < 0 else nxt + 1

    def _content_end(self, node) -> int:
        """Where the node's own text ends: before trailing comments, blank lines and dedents."""
        if isinstance(node, ScalarNode):
            if node.style in ("|", ">"):
                header = self.text[node.start_mark.index: self._eol(node.start_mark.index)]
                if "+" not in header.split("#")[0]:  # clip/strip: trailing newlines are not content
                    return len(self.text[: node.end_mark.index].rstrip(" \t\r\n"))
            return node.end_mark.index
        if node.flow_style or not node.value:
            return node.end_mark.index
        last = node.value[-1]
        if isinstance(last, tuple):
            return max(last[0].end_mark.index, self._content_end(last[1]))
        return max(node.start_mark.index, self._content_end(last))

    def _after_colon(self, key) -> int:
        pos = key.end_mark.index
        while pos < len(self.text) and self.text[pos] in " \t":
            pos += 1
        if self.text[pos: pos + 1] != ":":
            raise EditError(f"unsupported key syntax at line {key.start_mark.line + 1}")
        return pos + 1

    # -- splicing ------------------------------------------------------------------------------
    def _splice(self, start: int, end: int, new: str) -> None:
        self.text = self.text[:start] + new + self.text[end:]

    def _insert_lines(self, pos: int, lines: list[str]) -> None:
        block = "".join(line + self.nl for line in lines)
        if pos == len(self.text) and self.text and not self.text.endswith("\n"):
            block = self.nl + block
        self._splice(pos, pos, block)

    def apply(self, path: KeyPath, op: str, payload: object) -> None:
        if op == "set" and self._holds(path, payload):
            return None  # already so: keep the text as the user wrote it (quotes, spacing)
        node = self._compose()
        if node is None:
            return self._insert_lines(len(self.text), self._new_key_lines(path, op, payload, 0))
        for i, key in enumerate(path):
            where = ".".join(path[:i]) or "frontmatter"
            if not isinstance(node, MappingNode):
                raise EditError(f"{where} is not a mapping, cannot set {'.'.join(path)}")
            if node.flow_style:
                return self._flow(node, path[i:], op, payload)
            pairs = [p for p in node.value if isinstance(p[0], ScalarNode) and p[0].value == key]
            if not pairs:
                indent = node.value[0][0].start_mark.column
                lines = self._new_key_lines(path[i:], op, payload, indent)
                return self._insert_lines(self._eol(self._content_end(node)), lines)
            knode, vnode = pairs[-1]  # duplicate keys: the last wins, as for every YAML loader
            if vnode.start_mark.index < knode.end_mark.index:
                raise EditError(f"{'.'.join(path[: i + 1])} is an alias; edit the anchor instead")
            if i == len(path) - 1:
                return self._at_value(knode, vnode, op, payload)
            if _is_null(vnode):
                return self._set_value(knode, vnode, _nest(path[i + 1:], self._final(op, payload)))
            node = vnode
        return None

    def _holds(self, path: KeyPath, value: object) -> bool:
        try:
            current = yaml.load(self.text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError as exc:  # only an earlier splice of this edit can have caused it
            raise EditVerificationError(f"edited frontmatter does not parse: {exc}") from None
        for key in path:
            if not isinstance(current, dict) or key not in current:
                return False
            current = current[key]
        return _same(current, _reread(value))

    @staticmethod
    def _final(op: str, payload: object) -> object:
        return list(payload) if op == "append" else payload

    def _new_key_lines(self, keys: KeyPath, op: str, payload: object, indent: int) -> list[str]:
        value = _nest(keys[1:], self._final(op, payload))
        return _key_lines(keys[0], value, indent, self.mi, self.so)

    def _at_value(self, knode, vnode, op: str, payload: object) -> None:
        empty_flow = isinstance(vnode, SequenceNode) and vnode.flow_style and not vnode.value
        if op == "set" or _is_null(vnode) or empty_flow:  # `[]` has nothing to keep: go block style
            return self._set_value(knode, vnode, self._final(op, payload))
        if not isinstance(vnode, SequenceNode):
            raise EditError(f"{knode.value} is not a list, cannot append to it")
        if vnode.flow_style:
            return self._flow(vnode, (), op, payload)
        lines = _block_lines(list(payload), vnode.start_mark.column, self.mi, self.so)
        return self._insert_lines(self._eol(self._content_end(vnode)), lines)

    def _set_value(self, knode, vnode, value: object) -> None:
        colon = self._after_colon(knode)
        end = self._content_end(vnode)
        empty = _is_null(vnode) and vnode.start_mark.index == colon  # `key:` with nothing after it
        same_line = empty or vnode.start_mark.line == knode.start_mark.line
        # An old value below `key:` goes, but what followed `key:` on its own line (a comment) stays.
        tail = "" if same_line else self.text[colon: self._eol(colon)].rstrip("\r\n")
        if _is_coll(value) and value:
            # The block goes on the lines after the key line (and after the rest of the old value's
            # last line, e.g. its trailing comment).
            indent = knode.start_mark.column + (self.mi if isinstance(value, Mapping) else self.so)
            eol = self._eol(end)
            rest = self.text[end:eol]
            rest = rest if rest.endswith("\n") else rest + self.nl
            block = "".join(line + self.nl for line in _block_lines(value, indent, self.mi, self.so))
            return self._splice(colon, eol, tail + rest + block)
        text = _inline(value)
        eaten = self.nl if end > colon and self.text[end - 1] == "\n" else ""  # `|+` ends past its newline
        if text and same_line and not empty:  # keep the spacing after `:`
            return self._splice(vnode.start_mark.index, end, text + eaten)
        return self._splice(colon, end, (" " + text if text else "") + tail + eaten)

    def _flow(self, node, rel: KeyPath, op: str, payload: object) -> None:
        """Edit a flow collection as a fragment with ruamel, which keeps its items' quoting."""
        start, end = node.start_mark.index, node.end_mark.index
        rt = _ruamel()
        data = rt.load(self.text[start:end])
        data.fa.set_flow_style()  # ruamel forgets the style of an empty `[]` / `{}`
        target = data
        for i, key in enumerate(rel):
            if not isinstance(target, dict):
                raise EditError(f"{'.'.join(rel[:i])} is not a mapping, cannot set {'.'.join(rel)}")
            if i == len(rel) - 1:
                break
            if target.get(key) is None:
                target[key] = CommentedMap()
            target = target[key]
        if op == "set":
            target[rel[-1]] = _to_ruamel(payload)
        else:
            if rel and target.get(rel[-1]) is None:
                target[rel[-1]] = CommentedSeq()
            seq = target[rel[-1]] if rel else target
            if not isinstance(seq, list):
                raise EditError(f"{'.'.join(rel) or 'value'} is not a list, cannot append to it")
            seq.extend(_to_ruamel(item) for item in payload)
        out = io.StringIO()
        rt.dump(data, out)
        self._splice(start, end, out.getvalue().rstrip("\r\n"))


def _diff(a: object, b: object, path: KeyPath = ()) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in {**a, **b} for d in _diff(a.get(k, "<missing>"), b.get(k, "<missing>"), (*path, str(k)))]
    return [] if a == b else [f"{'.'.join(path) or '<root>'}: expected {a!r}, got {b!r}"]


def _verify(before: dict, new_fm: str, changes: Mapping, append: Mapping) -> None:
    """Re-read the result as the readers do and compare it with the intended result, path by path."""
    try:
        after = yaml.load(new_fm, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise EditVerificationError(f"edited frontmatter does not parse: {exc}") from None
    expected = copy.deepcopy(before)
    steps = [(p, False, _reread(v)) for p, v in changes.items()]
    steps += [(p, True, [_reread(x) for x in items]) for p, items in append.items() if items]
    for path, extend, value in steps:
        parent = expected
        for key in path[:-1]:
            if parent.get(key) is None:
                parent[key] = {}
            parent = parent[key]
            if not isinstance(parent, dict):
                raise EditVerificationError(f"{'.'.join(path)}: a parent is not a mapping")
        parent[path[-1]] = (parent.get(path[-1]) or []) + value if extend else value
    after = after if after is not None else {}
    problems = [] if _same(expected, after) else _diff(expected, after) or ["value types differ"]
    if problems:
        raise EditVerificationError("edit changed more or less than asked: " + "; ".join(problems[:5]))


def _norm(paths: Mapping) -> dict[KeyPath, object]:
    out = {}
    for path, value in paths.items():
        path = (path,) if isinstance(path, str) else tuple(path)
        if not path:
            raise EditError("empty key path")
        out[path] = value
    return out


def edit_frontmatter(text: str, changes: Mapping[KeyPath, object], *,
                     append: Mapping[KeyPath, list] = _EMPTY) -> str:
    """Set `changes` (key path → value) and extend the lists in `append`; return the whole new note."""
    changes, append = _norm(changes), _norm(append)
    prefix, fm, suffix = split_note(text)
    if not prefix:
        raise EditError("note has no frontmatter")
    try:
        before = yaml.load(fm, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise EditError(f"frontmatter is not valid YAML: {exc}") from None
    before = {} if before is None else before
    if not isinstance(before, dict):
        raise EditError("frontmatter is not a mapping")
    doc = _Doc(fm, "\r\n" if prefix.endswith("\r\n") else "\n")
    for path, value in changes.items():
        doc.apply(path, "set", value)
    for path, items in append.items():
        if items:
            doc.apply(path, "append", list(items))
    if doc.text == fm:
        return text
    _verify(before, doc.text, changes, append)
    return prefix + doc.text + suffix


def update_note(path, changes: Mapping[KeyPath, object], *, append: Mapping[KeyPath, list] = _EMPTY,
                expect: FileStamp) -> bool:
    """Edit the note at `path` if it still is what the caller read (`expect`); False if unchanged."""
    data, current = read_stamped(path)
    if (current.size, current.digest) != (expect.size, expect.digest):
        raise ConcurrentEditError(f"{path} changed since it was read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditError(f"{path} is not UTF-8: {exc}") from None
    new = edit_frontmatter(text, changes, append=append)
    if new == text:
        return False
    return write_atomic(path, new.encode("utf-8"), expect=expect)
