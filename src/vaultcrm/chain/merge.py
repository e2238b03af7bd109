"""Three-way merge of two versions of a note, field by field: what `sync`'s git merge driver decides.

Two stores that edited different fields of one profile both keep their edit; list fields (`标签`,
`状态更新`, …) become the union of both sides, in time order when their items start with a time; a
field both changed to different values takes the later edit, and the merge reports it. The result
is never a text with conflict markers.

The result is spliced into "our" version with `vault/edit.py`, so comments, key order, quoting and
keys nobody touched stay as they were. Values are read with YAML 1.1 minus base-60 numbers, so an
Obsidian-rewritten `14:00` is the text "14:00" here (not 840) and is written back as `'14:00'`.
The Markdown body: one side's change is taken; when both changed it, a line merge is tried, and if
the same lines changed on both sides the later body is kept with the other version below it under a
labelled heading — nothing is lost, and the merge says so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor

from ..vault.blocks import read_block, replace_block
from ..vault.edit import EditError, edit_frontmatter, split_note

MISSING = object()
OTHER_VERSION_HEADING = "## 同步合并时保留的另一版本"


class NoteLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser, as the readers use
    """YAML 1.1 as the readers use it, but `14:00` stays text: no base-60 integers or floats."""


def _int_or_text(loader, node):
    return node.value if ":" in node.value else SafeConstructor.construct_yaml_int(loader, node)


def _float_or_text(loader, node):
    return node.value if ":" in node.value else SafeConstructor.construct_yaml_float(loader, node)


NoteLoader.add_constructor("tag:yaml.org,2002:int", _int_or_text)
NoteLoader.add_constructor("tag:yaml.org,2002:float", _float_or_text)


@dataclass(frozen=True)
class FieldConflict:
    field: str  # key path, dotted: 健康档案.过敏史
    ours: object
    theirs: object
    kept: str  # "ours" or "theirs": the later edit


@dataclass
class MergeResult:
    text: str
    conflicts: list[FieldConflict] = field(default_factory=list)
    body_kept_both: bool = False  # both sides rewrote the same body lines: the other version sits below

    @property
    def clean(self) -> bool:
        return not self.conflicts and not self.body_kept_both


_TIMED = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2})")


def _time_key(item: object) -> str | None:
    m = _TIMED.match(item) if isinstance(item, str) else None
    if not m:
        return None
    date, _, clock = m[1].replace("T", " ").partition(" ")
    y, mo, d = date.split("-")
    h, mi = clock.split(":")
    return f"{y}-{int(mo):02d}-{int(d):02d} {int(h):02d}:{mi}"


def _union(base: list, ours: list, theirs: list) -> list:
    """Both sides' additions, neither side's removals; timed entries in time order."""
    removed = [x for x in base if x not in ours or x not in theirs]
    merged = [x for x in ours if x not in removed]
    merged += [x for x in theirs if x not in merged and x not in removed]
    keys = [_time_key(x) for x in merged]
    if merged and all(keys):
        merged = [x for _, x in sorted(zip(keys, merged), key=lambda pair: pair[0])]
    return merged


def _merge(base, ours, theirs, path: tuple, later: str, conflicts: list[FieldConflict]):
    if ours == theirs:
        return ours
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    if isinstance(ours, dict) and isinstance(theirs, dict):
        base = base if isinstance(base, dict) else {}
        merged = {}
        for key in [*ours, *(k for k in theirs if k not in ours)]:
            value = _merge(base.get(key, MISSING), ours.get(key, MISSING), theirs.get(key, MISSING),
                           (*path, key), later, conflicts)
            if value is not MISSING:
                merged[key] = value
        return merged
    if isinstance(ours, list) and isinstance(theirs, list):
        base = base if isinstance(base, list) else []
        if len(base) == len(ours) == len(theirs) and all(isinstance(x, dict) for x in (*base, *ours, *theirs)):
            return [_merge(b, o, t, (*path, str(i)), later, conflicts) for i, (b, o, t) in enumerate(zip(base, ours, theirs))]
        return _union(base, ours, theirs)
    if ours is MISSING or theirs is MISSING:  # deleted on one side, changed on the other: the change stays
        return theirs if ours is MISSING else ours
    conflicts.append(FieldConflict(".".join(map(str, path)), ours, theirs, later))
    return ours if later == "ours" else theirs


def merge_data(base: dict, ours: dict, theirs: dict, later: str = "theirs") -> tuple[dict, list[FieldConflict]]:
    """The merged frontmatter data and the fields both sides changed differently (pure; no text)."""
    conflicts: list[FieldConflict] = []
    merged = _merge(base, ours, theirs, (), later, conflicts)
    return (merged if isinstance(merged, dict) else {}), conflicts


def _changes(current: dict, wanted: dict, path: tuple = ()) -> dict[tuple, object]:
    """Key path → value that turns `current` into `wanted`; a removed key is emptied (read as unfilled)."""
    out: dict[tuple, object] = {}
    for key, value in wanted.items():
        have = current.get(key, MISSING)
        if have == value and type(have) is type(value):
            continue
        if isinstance(have, dict) and isinstance(value, dict) and have:
            out.update(_changes(have, value, (*path, key)))
        else:
            out[(*path, key)] = value
    for key in current:
        if key not in wanted and current[key] is not None:
            out[(*path, key)] = None
    return out


def _load(frontmatter: str) -> dict | None:
    try:
        data = yaml.load(frontmatter, Loader=NoteLoader)
    except (yaml.YAMLError, ValueError):
        return None
    if data is None:
        return {}
    return data if isinstance(data, dict) else None


def _parts(text: str) -> tuple[str, str, str, str] | None:
    """(opening fence, frontmatter, closing fence line, body), or None for a note without frontmatter."""
    prefix, fm, suffix = split_note(text)
    if not prefix:
        return None
    fence, newline, body = suffix.partition("\n")
    return prefix, fm, fence + newline, body


LineMerge = Callable[[str, str, str], "str | None"]


_BLOCK_START = re.compile(r"<!-- vaultcrm:(\S+) 开始 -->")


def _settle_blocks(base: str, ours: str, theirs: str, later: str) -> tuple[str, str, str]:
    """vaultcrm's own blocks (the dashboard's 服务日志, its statistics) are regenerated data that every
    store rewrites: the later side's block stands in all three versions, so they never compete as text
    (and the next `stats` rebuilds them from the merged notes anyway)."""
    for name in dict.fromkeys(_BLOCK_START.findall(ours)):
        mine, other = read_block(ours, name), read_block(theirs, name)
        if mine is None or other is None:
            continue
        content = mine if later == "ours" else other
        ours, theirs = replace_block(ours, name, content), replace_block(theirs, name, content)
        if read_block(base, name) is not None:
            base = replace_block(base, name, content)
    return base, ours, theirs


def merge_body(base: str, ours: str, theirs: str, later: str, other_label: str,
               merge_lines: LineMerge | None = None) -> tuple[str, bool]:
    """(body, kept both): one side's change, a clean line merge, or the later body plus the other below."""
    base, ours, theirs = _settle_blocks(base, ours, theirs, later)
    if ours == theirs or theirs == base:
        return ours, False
    if ours == base:
        return theirs, False
    if merge_lines is not None:
        merged = merge_lines(base, ours, theirs)
        if merged is not None:
            return merged, False
    first, second = (ours, theirs) if later == "ours" else (theirs, ours)
    if second.strip() and second.strip() in first:  # already contained (a repeated merge)
        return first, False
    return first.rstrip("\n") + f"\n\n{OTHER_VERSION_HEADING}（{other_label}）\n\n" + second.strip("\n") + "\n", True


def merge_notes(base: str | None, ours: str, theirs: str, *, later: str = "theirs",
                other_label: str = "另一门店", merge_lines: LineMerge | None = None) -> MergeResult:
    """Merge two versions of a note given their common ancestor (None: both added it)."""
    base_text = base if base is not None else ""
    p_ours, p_theirs = _parts(ours), _parts(theirs)
    p_base = _parts(base_text) if base is not None else ("", "", "", "")
    if p_ours is None or p_theirs is None or p_base is None:
        body, both = merge_body(base_text, ours, theirs, later, other_label, merge_lines)
        return MergeResult(body, [], both)
    d_base, d_ours, d_theirs = _load(p_base[1]), _load(p_ours[1]), _load(p_theirs[1])
    if d_ours is None or d_theirs is None or d_base is None:  # a side's YAML is broken: whole notes compete
        body, both = merge_body(base_text, ours, theirs, later, other_label, merge_lines)
        return MergeResult(body, [FieldConflict("（属性区无法解析）", "", "", later)] if both else [], both)
    merged, conflicts = merge_data(d_base, d_ours, d_theirs, later)
    try:
        text = edit_frontmatter(ours, _changes(d_ours, merged)) if merged != d_ours else ours
    except (EditError, ValueError):  # cannot splice it in: the later side's whole frontmatter
        text = ours if later == "ours" else p_theirs[0] + p_theirs[1] + p_ours[2] + p_ours[3]
        conflicts.append(FieldConflict("（整个属性区）", "", "", later))
    p_text = _parts(text)
    body, both = merge_body(p_base[3], p_ours[3], p_theirs[3], later, other_label, merge_lines)
    return MergeResult(p_text[0] + p_text[1] + p_text[2] + body, conflicts, both)


def show(value: object) -> str:
    """A value as a conflict report shows it."""
    if value is MISSING or value is None:
        return "（空）"
    if isinstance(value, list):
        return "、".join(map(show, value)) or "（空）"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


__all__ = ["FieldConflict", "MergeResult", "OTHER_VERSION_HEADING", "merge_body", "merge_data", "merge_notes", "show"]
