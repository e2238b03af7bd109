"""Chinese for the text click and typer write themselves: usage errors, help boilerplate, metavars.

typer ≥ 0.20 runs on its own copy of click (`typer._click`), which formats its messages with plain
f-strings; click itself and older typers wrap the same English in `gettext`. Both end in the same two
places, so the translation sits there, once, for either flavour: every help and usage text passes through
`HelpFormatter.getvalue` (patched by `install`), and every usage error reaches `cli.main`, which prints
it with `show_error`. The catalogue below is the single list of what click and typer say in English.
Nothing here touches the environment, so child processes are not affected.
"""

from __future__ import annotations

import re
import sys
from typing import IO, Any

from rich.cells import cell_len

# --- help and usage text -------------------------------------------------------------------------

#: Whole phrases of click's and typer's help pages (gettext message ids and what the vendored copy writes).
HELP_PHRASES: dict[str, str] = {
    "Show this message and exit.": "显示此帮助并退出。",
    "[OPTIONS]": "[选项]",
    "COMMAND [ARGS]...": "命令 [参数]...",
    "[ARGS]...": "[参数]...",
    "(dynamic)": "（动态）",
}

#: Section headings (`Options:` …), at the start of a line.
HEADINGS: dict[str, str] = {"Usage": "用法", "Options": "选项", "Commands": "命令", "Arguments": "参数"}

#: Type names inside metavars such as `<str>` or `<list[str]>`.
TYPE_NAMES: dict[str, str] = {"str": "文本", "int": "整数", "float": "数字", "Decimal": "金额", "bool": "是/否",
                              "path": "路径", "file": "文件", "directory": "目录", "datetime": "日期时间",
                              "date": "日期", "range": "范围"}

#: Arguments whose metavar is their Python name; shown (and named in errors) in Chinese instead.
ARGUMENT_NAMES: dict[str, str] = {"query": "客户", "customer_id": "客户编号", "archive": "备份文件",
                                  "file": "文件", "kind": "类别", "STATE": "状态", "path": "库路径"}

_HEADING = re.compile(r"^(\s*)(" + "|".join(HEADINGS) + r"):(?:\n| )", re.MULTILINE)
_TAGS = [(re.compile(r"\[default: (.*?)\]"), r"[默认：\1]"), (re.compile(r"\[required\]"), "[必填]"),
         (re.compile(r"\[env var: (.*?)\]"), r"[环境变量：\1]"),
         (re.compile(r"\[(\S+)<=x<=(\S+)\]"), r"[\1～\2]"), (re.compile(r"\[x>=(\S+)\]"), r"[≥\1]"),
         (re.compile(r"\[x<=(\S+)\]"), r"[≤\1]")]
_METAVAR = re.compile(r"<([A-Za-z_][\w\[\]|, ]*)>")
_ARGUMENT = re.compile(r"([{\[])(" + "|".join(map(re.escape, ARGUMENT_NAMES)) + r")([}\]])")
_ARGUMENT_TERM = re.compile(r"^(" + "|".join(map(re.escape, ARGUMENT_NAMES)) + r")(?= <|$)")
_ROW = re.compile(r"^( +)(\S(?:.*?\S)?)( {2,})(\S.*)$")


def _type_label(label: str) -> str:
    list_of = re.fullmatch(r"list\[(.*)\]", label)
    if list_of:
        return _type_label(list_of.group(1)) + "…"
    return "|".join("".join(TYPE_NAMES.get(word, word) for word in part.split()) for part in label.split("|"))


def _translate_terms(text: str) -> str:
    text = _METAVAR.sub(lambda m: f"<{_type_label(m.group(1))}>", text)
    return _ARGUMENT.sub(lambda m: m.group(1) + ARGUMENT_NAMES[m.group(2)] + m.group(3), text)


def _translate_block(lines: list[str]) -> list[str]:
    """A definition list (`  --time <str>  help`): terms translated, the help column realigned."""
    rows = [_ROW.match(line) for line in lines]
    starts = {len(r.group(1)) + len(r.group(2)) + len(r.group(3)) for r in rows if r and len(r.group(1)) == 2}
    if len(starts) != 1:
        return [_translate_terms(line) for line in lines]
    start = starts.pop()
    terms = {i: _ARGUMENT_TERM.sub(lambda m: ARGUMENT_NAMES[m.group(1)], _translate_terms(r.group(2)))
             for i, r in enumerate(rows) if r and len(r.group(1)) == 2}
    new_start = max(start, *(2 + cell_len(t) + 2 for t in terms.values()))
    out = []
    for i, line in enumerate(lines):
        if i in terms:
            term = terms[i]
            out.append("  " + term + " " * (new_start - 2 - cell_len(term)) + _translate_terms(rows[i].group(4)))
        elif line.startswith(" " * start):
            out.append(" " * (new_start - start) + _translate_terms(line))
        else:
            out.append(_translate_terms(line))
    return out


def translate_help(text: str) -> str:
    """A help page or usage line, click's English replaced; the commands' own Chinese is left alone."""
    text = _HEADING.sub(lambda m: f"{m.group(1)}{HEADINGS[m.group(2)]}：" + ("\n" if m.group(0).endswith("\n") else ""),
                        text)
    for english, chinese in HELP_PHRASES.items():
        text = text.replace(english, chinese)
    for pattern, chinese in _TAGS:
        text = pattern.sub(chinese, text)
    lines, out, block = text.split("\n"), [], []
    for line in [*lines, ""]:
        if line.startswith("  ") and line.strip():
            block.append(line)
            continue
        out.extend(_translate_block(block))
        block = []
        out.append(_translate_terms(line))
    return "\n".join(out[:-1])


# --- usage errors --------------------------------------------------------------------------------

def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text) or [text]


def _names(items) -> str:
    return "、".join(f"「{ARGUMENT_NAMES.get(x, x)}」" for x in items)


def _did_you_mean(candidates: list[str]) -> str:
    return f"，是不是要用{'或'.join(f'「{c}」' for c in candidates)}？" if candidates else "。"


#: Messages about a value (inside "Invalid value for …"): pydantic's (typer ≥ 0.20) and click's own.
VALUE_MESSAGES: list[tuple[str, str]] = [
    (r"Input should be a valid integer.*", "应为整数"),
    (r"Input should be a valid (?:number|decimal).*", "应为数字"),
    (r"Input should be a valid boolean.*", "应为 是/否（true/false）"),
    (r"Input should be a valid date.*", "应为日期，如 2026-03-01"),
    (r"Input should be a valid datetime.*", "应为日期时间，如 2026-03-01 14:00"),
    (r"Input should be greater than or equal to (\S+)", r"应不小于 \1"),
    (r"Input should be greater than (\S+)", r"应大于 \1"),
    (r"Input should be less than or equal to (\S+)", r"应不大于 \1"),
    (r"Input should be less than (\S+)", r"应小于 \1"),
    (r"Input should be (.+)", r"应为 \1"),
    (r"'(.*)' is not a valid integer( range)?\.", r"「\1」不是整数"),
    (r"'(.*)' is not a valid float( range)?\.", r"「\1」不是数字"),
    (r"'(.*)' is not a valid boolean\.", r"「\1」不是 是/否（true/false）"),
    (r"'(.*)' is not one of (.*)\.", r"「\1」不在可选值中：\2"),
    (r"'(.*)' is not '(.*)'\.", r"「\1」不是「\2」"),
    (r"(.*) is not in the range (.*)\.", r"\1 超出范围 \2"),
    (r"(?:Path|File|Directory) '(.*)' does not exist\.", r"「\1」不存在"),
    (r"(?:File|Path) '(.*)' is a directory\.", r"「\1」是目录，不是文件"),
    (r"Directory '(.*)' is a file\.", r"「\1」是文件，不是目录"),
    (r"(?:File|Path|Directory) '(.*)' is not (?:readable|writable)\.", r"「\1」没有读写权限"),
    (r"Value (.*) is not a valid (\w+)\.", r"\1 不是有效的值"),
    (r"Value must be an iterable\.", "应为多个值"),
]
_VALUE_MESSAGES = [(re.compile(p, re.DOTALL), c) for p, c in VALUE_MESSAGES]
_ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,.]+[A-Za-z]{2,}")


def _value_message(message: str) -> str:
    message = message.strip()
    for pattern, chinese in _VALUE_MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return match.expand(chinese)
    # Ours are Chinese already; an English sentence we do not know is not shown half-translated.
    return "无法识别的取值" if _ENGLISH.search(message) else message


def _hint(hint: str) -> str:
    return " / ".join(f"「{ARGUMENT_NAMES.get(x, x)}」" for x in _quoted(hint))


#: Whole usage-error messages of click and typer (gettext message ids and the vendored f-strings).
MESSAGES: list[tuple[str, Any]] = [
    (r"No such command '(.*)'\.(?: Did you mean (.*)\?)?",
     lambda m: f"没有命令「{m.group(1)}」" + _did_you_mean(_quoted(m.group(2)) if m.group(2) else [])),
    (r"No such option: (\S+)(?: \(Possible options: (.*)\)| Did you mean (\S+)\?)?",
     lambda m: f"没有选项「{m.group(1)}」" + _did_you_mean((m.group(2) or m.group(3) or "").split(", ")
                                                        if (m.group(2) or m.group(3)) else [])),
    (r"Missing (argument|option|parameter)(?: (.+?))?\.(?: (?:Choose from:)?\s*(.*))?",
     lambda m: f"缺少{ {'argument': '参数', 'option': '选项', 'parameter': '参数'}[m.group(1)]}"
               + (_hint(m.group(2)) if m.group(2) else "") + "。"
               + (f"可选：{m.group(3).strip()}" if m.group(3) else "")),
    (r"Invalid value for (.+?): (.*)", lambda m: f"{_hint(m.group(1))}的取值无效：{_value_message(m.group(2))}"),
    (r"Invalid value: (.*)", lambda m: f"取值无效：{_value_message(m.group(1))}"),
    (r"Option '(.*)' requires an argument\.", lambda m: f"选项「{m.group(1)}」后面缺少取值。"),
    (r"Option '(.*)' requires (\d+) arguments\.", lambda m: f"选项「{m.group(1)}」后面需要 {m.group(2)} 个取值。"),
    (r"Option '(.*)' does not take a value\.", lambda m: f"选项「{m.group(1)}」不接受取值。"),
    (r"Got unexpected extra arguments?(?:\(s\))? \((.*)\)", lambda m: f"多余的参数：「{m.group(1)}」"),
    (r"Argument '(.*)' takes (\d+) values\.", lambda m: f"参数「{m.group(1)}」需要 {m.group(2)} 个取值。"),
    (r"Missing command\.", lambda m: "缺少子命令。"),
    (r"Could not open file '(.*)': (.*)", lambda m: f"无法打开文件「{m.group(1)}」：{m.group(2)}"),
]
_MESSAGES = [(re.compile(p, re.DOTALL), render) for p, render in MESSAGES]


def translate_message(message: str) -> str:
    """One click/typer error message in Chinese (already-Chinese messages of our own pass unchanged)."""
    for pattern, render in _MESSAGES:
        match = pattern.fullmatch(message.strip())
        if match:
            return render(match)
    return _value_message(message)


def _error_message(exc: Any) -> str:
    option = getattr(exc, "option_name", None)
    if type(exc).__name__ == "NoSuchOption" and option and exc.message.startswith("No such option"):
        return f"没有选项「{option}」" + _did_you_mean(sorted(exc.possibilities or []))
    return translate_message(exc.format_message())


def show_error(exc: Any, file: IO[str] | None = None) -> None:
    """Print a click/typer usage error as click would, in Chinese: usage line, help hint, message."""
    file = file if file is not None else sys.stderr
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group run bare: its help, already in Chinese
        print(exc.format_message(), file=file)
        return
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        print(ctx.get_usage(), file=file)
        if ctx.command.get_help_option(ctx) is not None:
            print(f"运行「{ctx.command_path} {ctx.help_option_names[0]}」查看帮助。", file=file)
        print(file=file)
    print(f"错误：{_error_message(exc)}", file=file)


# --- installation ---------------------------------------------------------------------------------

def _formatters() -> list[type]:
    found = []
    for name in ("typer._click.formatting", "click.formatting"):
        if name == "click.formatting" and "click" not in sys.modules:
            continue  # typer ≥ 0.20 formats with its own copy; an older typer has imported click already
        try:
            module = __import__(name, fromlist=["HelpFormatter"])
        except ImportError:
            continue
        found.append(module.HelpFormatter)
    return found


def install() -> None:
    """Translate every help and usage text click and typer render in this process (idempotent)."""
    for formatter in _formatters():
        original = formatter.getvalue
        if getattr(original, "_vaultcrm_chinese", False):
            continue

        def getvalue(self, _original=original) -> str:
            return translate_help(_original(self))

        getvalue._vaultcrm_chinese = True  # type: ignore[attr-defined]
        formatter.getvalue = getvalue


__all__ = ["install", "show_error", "translate_help", "translate_message"]
