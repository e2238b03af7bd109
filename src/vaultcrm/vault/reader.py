"""Read one note: bytes → frontmatter → YAML → record model, every problem turned into a Diagnostic.

The stages are separate functions so each can be tested and so that the loader can run them in worker
processes. Nothing here raises for bad input: a note that is not vaultcrm's is read past silently,
a note that is but cannot be read yields diagnostics with lines counted from the top of the file. A
frontmatter too large or too deep to parse at all is reported even without an ID key: nothing can tell
whether it was meant to be a record.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor

from ..diagnostics import Diagnostic, Severity, error, warning
from ..models import TYPE_BY_ID_KEY, Customer, Record
from ..values import PLACEHOLDERS
from . import bounds, fastyaml
from .checklist import read_checklist
from .lines import key_line
from .yaml_messages import explain

MAX_READ = 2 << 20  # a frontmatter lives at the top; huge bodies are not read past this
FIRST_READ = 64 << 10  # read(MAX_READ) would allocate 2 MB for every small note

_BOM = b"\xef\xbb\xbf"
_OPEN = re.compile(rb"---[ \t]*\r?\n")
_CLOSE = re.compile(rb"^(?:---|\.\.\.)[ \t]*\r?$", re.M)
_ID_KEY = re.compile(r"^[\"']?(预约编号|服务编号|跟进编号|客户编号|候补编号|请假编号)[\"']?[ \t]*:", re.M)
_ID_KEY_BYTES = re.compile("|".join(("预约编号", "服务编号", "跟进编号", "客户编号", "候补编号", "请假编号")).encode())

# What a record must carry to be useful; missing ones are warned about, not refused.
ESSENTIALS = {
    "APP": (("预约信息", "客户姓名"), ("预约信息", "预约日期"), ("预约信息", "预约时间"), ("服务信息", "服务项目")),
    "SRV": (("服务基本信息", "服务日期"), ("客户信息", "客户姓名"), ("服务信息", "服务项目")),
    "FLW": (("客户信息", "客户姓名"),),
    "CUS": (("客户姓名",),),
    "WL": (("客户",), ("服务项目",), ("日期",)),
    "LV": (("技师",), ("开始日期",)),
}

PYDANTIC_MESSAGES = {
    "missing": "缺少必填项",
    "string_type": "应为文字",
    "model_type": "应为嵌套的键值（下一级缩进）",
    "dict_type": "应为嵌套的键值（下一级缩进）",
    "list_type": "应为列表",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "bool_type": "应为 是/否",
    "bool_parsing": "应为 是/否",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
}


@dataclass
class ParsedNote:
    """What one file contributed: a record (as model data) or nothing, plus its diagnostics."""

    path: str
    kind: str | None = None
    data: dict | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Problem(Exception):
    def __init__(self, line: int, message: str):
        self.line, self.message = line, message


def _fences(raw: bytes) -> tuple[re.Match, re.Match] | None:
    start = 3 if raw.startswith(_BOM) else 0
    opening = _OPEN.match(raw, start)
    if not opening:
        return None
    # A frontmatter longer than the limit is refused anyway: never scan a 50 MB note for its fence.
    close = _CLOSE.search(raw, opening.end(), opening.end() + bounds.MAX_FRONTMATTER + 16)
    if close is None:
        if _ID_KEY_BYTES.search(raw, 0, 4096):
            raise _Problem(1, "frontmatter 缺少结束的 --- 行")
        return None
    return opening, close


def split_frontmatter(raw: bytes) -> tuple[bytes, int] | None:
    """(frontmatter bytes, the file line its first line is on); None when the note has none."""
    fences = _fences(raw)
    if fences is None:
        return None
    opening, close = fences
    return raw[opening.end():close.start()], 2


def split_body(raw: bytes) -> tuple[bytes, int]:
    """(the Markdown below the frontmatter, the file line it starts on); the whole note when it has none."""
    try:
        fences = _fences(raw)
    except _Problem:
        fences = None
    if fences is None:
        return raw, 1
    end = fences[1].end()
    end += 1 if raw[end:end + 1] == b"\n" else 0
    return raw[end:], raw.count(b"\n", 0, end) + 1


def decode(fm: bytes, first_line: int) -> str:
    try:
        return fm.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + fm.count(b"\n", 0, exc.start)
        try:
            fm.decode("gb18030")
            hint = "看起来是 GBK/GB18030（旧版 Windows 记事本常用），请在编辑器中以 UTF-8 编码另存"
        except UnicodeDecodeError:
            hint = "请在编辑器中以 UTF-8 编码另存"
        raise _Problem(line, f"文件不是 UTF-8 编码，{hint}") from None


def _legacy_encoded_record(fm: bytes) -> bool:
    """A record saved as GBK by an old editor: its ID key is not in UTF-8 bytes, but it is ours."""
    try:
        fm.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return bool(_ID_KEY.search(fm.decode("gb18030", "replace")))


def parse_yaml(text: str, first_line: int) -> object:
    """YAML through the template-shaped fast path, else libyaml; never constructs Python objects from tags."""
    try:
        bounds.check_text(text)
    except bounds.TooComplex as exc:
        raise _Problem(first_line, str(exc)) from None
    try:
        data = fastyaml.load(text.replace("\r\n", "\n") if "\r" in text else text)
    except yaml.reader.ReaderError as exc:  # NUL and other control characters: no mark, a byte offset
        line = first_line + text.encode("utf-8").count(b"\n", 0, exc.position)
        raise _Problem(line, f"含有不允许的控制字符（U+{exc.character:04X}），请删除") from None
    except yaml.YAMLError as exc:
        _refuse_if_deep(text, first_line)  # whichever parser's own limit refused it, one message
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = first_line + (mark.line if mark else 0)
        problem = explain(exc, first_line)
        lines = text.splitlines()
        if mark and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            problem = "不能用 Tab 缩进，请改用空格"
        elif "could not determine a constructor" in str(exc):
            problem = "不支持的 YAML 标签（如 !!python/object），请删除该标签"
        raise _Problem(line, f"YAML 语法错误：{problem}") from None
    except RecursionError:
        raise _Problem(first_line, "frontmatter 嵌套过深") from None
    except (ValueError, OverflowError):  # a bare 2026-02-30: YAML sees a date that does not exist
        data = _load_lenient(text, first_line)
    try:
        bounds.check_data(text, data)
    except bounds.TooComplex as exc:
        raise _Problem(first_line, str(exc)) from None
    return data


def _refuse_if_deep(text: str, first_line: int) -> None:
    try:
        bounds.refuse_if_deep(text)
    except bounds.TooComplex as exc:
        raise _Problem(first_line, str(exc)) from None


def _refuse_unreadable(fm: bytes, first_line: int) -> None:
    """A frontmatter without an ID key is read past, unless it is too large or deep to parse at all.

    Whether such a note is a record cannot be known without parsing it, so it is reported, not skipped.
    """
    if bounds.cheap(fm):
        return
    try:
        bounds.check_text(fm.decode("utf-8", "replace"))
    except bounds.TooComplex as exc:
        raise _Problem(first_line, str(exc)) from None


class _LenientLoader(yaml.CSafeLoader):
    """libyaml, except that an impossible date stays text, for the field's own check to report."""


def _timestamp_or_text(loader: _LenientLoader, node: yaml.ScalarNode) -> object:
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_LenientLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def _load_lenient(text: str, first_line: int) -> object:
    """The note read again with impossible dates as text; any other unbuildable value is an error."""
    try:
        return yaml.load(text, Loader=_LenientLoader)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        raise _Problem(first_line, f"YAML 中有无法读取的值：{exc}") from None


def classify(data: dict) -> type[Record] | None:
    for key, model in TYPE_BY_ID_KEY.items():
        if key in data:
            if model is Customer and "客户姓名" not in data:
                continue
            return model
    return None


_PLACEHOLDER_LINE = re.compile(
    r":[ \t]*['\"]?(?:" + "|".join(re.escape(p) for p in sorted(PLACEHOLDERS, key=len, reverse=True))
    + r")['\"]?[ \t]*(?:#.*)?$",
    re.M)


def placeholder_paths(data: dict, prefix: tuple = ()) -> list[tuple[tuple, str]]:
    """Key paths still holding a raw-template placeholder such as `¥` or `轻/中/重`."""
    found = []
    for key, value in data.items():
        path = prefix + (key,)
        if isinstance(value, dict):
            found.extend(placeholder_paths(value, path))
        elif isinstance(value, str) and value.strip() in PLACEHOLDERS:
            found.append((path, value.strip()))
    return found


def _get(data: dict, path: tuple) -> object:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _set_none(data: dict, loc: tuple) -> bool:
    """Blank out the value at a pydantic error location so the rest of the record still loads."""
    *parents, last = loc
    node = data
    for part in parents:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    if isinstance(node, dict) and last in node and node[last] is not None:
        node[last] = None
        return True
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        del node[last]
        return True
    return False


def validate(model: type[Record], data: dict, path: str, text: str, first_line: int,
             bad: set[tuple] | None = None) -> tuple[Record | None, list[Diagnostic]]:
    """Validate into the model; a bad field is reported (its path added to `bad`) and blanked."""
    problems: list[Diagnostic] = []
    bad = set() if bad is None else bad
    data = dict(data, path=path)
    for _ in range(8):
        try:
            record = model.model_validate(data)
            break
        except ValidationError as exc:
            progressed = False
            for err in exc.errors():
                loc = tuple(err["loc"])
                message = PYDANTIC_MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
                problems.append(error(path, key_line(text, loc, first_line), f"{'.'.join(map(str, loc))}：{message}"))
                bad.add(loc)
                if loc and loc[0] == model.id_key:
                    return None, problems
                progressed |= _set_none(data, loc)
            if not progressed:
                return None, problems
    else:  # pragma: no cover - bounded retries
        return None, problems
    if not isinstance(record.record_id, str) or not model.id_pattern.match(record.record_id):
        problems.append(error(path, key_line(text, (model.id_key,), first_line),
                              f"{model.id_key}「{record.record_id}」格式不对，应如 {_example_id(model)}"))
        return None, problems
    return record, problems


def _example_id(model: type[Record]) -> str:
    return {"APP": "APP-2026-001", "SRV": "SRV-2026-001", "FLW": "FLW-2026-001", "CUS": "C-0001",
            "WL": "WL-2026-001", "LV": "LV-2026-001"}[model.kind]


def parse_note(path: str, raw: bytes) -> tuple[Record | None, ParsedNote]:
    """All stages for one file's bytes."""
    result = ParsedNote(path)
    try:
        split = split_frontmatter(raw)
        if split is None:
            return None, result
        fm, first_line = split
        if not _ID_KEY_BYTES.search(fm) and not _legacy_encoded_record(fm):
            _refuse_unreadable(fm, first_line)
            return None, result  # not vaultcrm's note: read past silently
        text = decode(fm, first_line)
        if not _ID_KEY.search(text):
            _refuse_unreadable(fm, first_line)
            return None, result
        data = parse_yaml(text, first_line)
    except _Problem as problem:
        result.kind = "?"
        result.diagnostics.append(error(path, problem.line, problem.message))
        return None, result
    if not isinstance(data, dict):
        result.kind = "?"
        result.diagnostics.append(error(path, first_line, "frontmatter 应为键值映射（key: value）"))
        return None, result
    model = classify(data)
    if model is None:
        return None, result
    result.kind = model.kind
    if model.body_checklists:
        data = _with_checklists(model, data, raw)
    bad: set[tuple] = set()
    record, problems = validate(model, data, path, text, first_line, bad)
    result.diagnostics.extend(problems)
    result.diagnostics.extend(_warnings(model, data, path, text, first_line, bad))
    if record is not None:
        result.data = record.model_dump()
    return record, result


def _with_checklists(model: type[Record], data: dict, raw: bytes) -> dict:
    """The frontmatter data with the body's task lists in place of any key of the same name."""
    body = split_body(raw)[0].decode("utf-8", "replace")
    return {**data, **{alias: read_checklist(body, heading) for alias, heading in model.body_checklists.items()}}


def _warnings(model: type[Record], data: dict, path: str, text: str, first_line: int,
              reported: set[tuple]) -> list[Diagnostic]:
    found = []
    placeholders = placeholder_paths(data) if _PLACEHOLDER_LINE.search(text) else []
    for key_path, value in placeholders:
        found.append(warning(path, key_line(text, key_path, first_line), f"{'.'.join(key_path)} 未填写（仍是模板占位「{value}」）"))
    flagged = {p for p, _ in placeholders} | reported
    for key_path in ESSENTIALS[model.kind]:
        if key_path not in flagged and _get(data, key_path) in (None, ""):
            found.append(warning(path, key_line(text, key_path, first_line), f"{'.'.join(key_path)} 未填写"))
    return found


def read_note(root, path: str) -> tuple[Record | None, ParsedNote]:
    """Read a file of the vault (relative `path`) and parse it."""
    try:
        with open(os.path.join(root, path), "rb") as fh:
            raw = fh.read(FIRST_READ)
            if len(raw) == FIRST_READ:  # a long note: read on, up to the limit
                raw += fh.read(MAX_READ - FIRST_READ)
    except OSError as exc:
        return None, ParsedNote(path, "?", None, [Diagnostic(path, 1, Severity.ERROR, f"无法读取文件：{exc.strerror}")])
    return parse_note(path, raw)
