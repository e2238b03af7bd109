"""libyaml's English problem texts, explained in Chinese for the person who will fix the note in Obsidian.

libyaml (CSafeLoader) and PyYAML's pure-Python parser word the same problems differently
(`did not find expected ',' or ']'` / `expected ',' or ']', but got …`); each entry below matches both.
The explanation says what is wrong and how to write it instead; where the parser names the line a
construct began on (an unclosed bracket or quote), that line is named too. Unknown texts get a general
explanation rather than English.
"""

from __future__ import annotations

import re

import yaml

#: (pattern over the parser's `problem`, explanation; `{start}` is the line the construct began on).
EXPLANATIONS: list[tuple[str, str]] = [
    (r"found undefined alias.*",
     "以 * 开头的值在 YAML 中表示引用另一个值（别名），这里引用的名称不存在；如果是普通文字，请加引号，如 '*加急'"),
    (r"found duplicate anchor.*|second occurrence", "同一个锚点名（& 开头）用了两次；如果是普通文字，请加引号"),
    (r"did not find expected alphabetic or numeric character|expected alphabetic or numeric character.*",
     "以 & 或 * 开头的值在 YAML 中表示锚点或引用（别名）；如果是普通文字，请加引号，如 '*加急'"),
    (r"(?:did not find expected|expected) ',' or '\]'.*",
     "方括号列表没有正确结束：{start}的「[」缺少对应的「]」，或列表项之间缺少逗号；如果是普通文字，请给整个值加引号"),
    (r"(?:did not find expected|expected) ',' or '\}'.*",
     "花括号没有正确结束：{start}的「{{」缺少对应的「}}」，或项之间缺少逗号；如果是普通文字，请给整个值加引号"),
    (r"mapping values are not allowed (?:here|in this context)",
     "这一行多了一个冒号「: 」，或缩进与上一行不一致：值里含有「: 」时请给整个值加引号，如 '备注: 加钟'"),
    (r"could not find expected ':'|found unexpected ':'.*",
     "缺少冒号：{start}应写成「字段: 值」（冒号后有空格）；也可能是值换行了却没有加引号"),
    (r"found character '?.?'? ?that cannot start any token",
     "值以 YAML 的保留字符（如 @ ` %）开头，请给这个值加引号"),
    (r"found unexpected end of stream",
     "引号没有闭合：{start}开始的引号缺少结束的引号"),
    (r"found unknown escape character.*",
     "双引号里的反斜杠 \\ 后面是无法识别的转义字符：请改用单引号，或把 \\ 写成 \\\\"),
    (r"did not find expected '-' indicator|expected <block end>, but found '-'|"
     r"block sequence entries are not allowed.*",
     "列表项「- 」的缩进不对：同一个列表的各项要对齐，列表要写在字段的下一行并缩进"),
    (r"did not find expected key|expected <block end>, but found.*",
     "缩进不一致：这一行没有和上面同一层的字段对齐"),
    (r"found a tab character.*", "不能用 Tab 缩进，请改用空格"),
    (r"did not find (?:the )?expected '>'.*|while scanning a tag.*|found unknown tag.*",
     "以 ! 开头的值在 YAML 中表示类型标签；如果是普通文字，请加引号"),
    (r"did not find expected comment or line break|expected a comment or a line break.*",
     "块文本标记「|」或「>」后面不能紧跟文字，请换行后再写内容"),
    (r"did not find expected <document start>|expected '<document start>'.*",
     "frontmatter 的结尾有多余的内容（例如多出的括号），请删除"),
    (r"but found another document|expected a single document.*",
     "frontmatter 里出现了第二个 ---，请删除多余的分隔线"),
    (r"found incompatible YAML document|found duplicate YAML directive|found unknown directive.*|"
     r"while scanning a directive.*",
     "以 % 开头的行在 YAML 中是指令；如果是普通文字，请加引号"),
    (r"found unexpected document (?:separator|indicator)",
     "引号中的文字里出现了 --- 或 ...，请改写或把整段文字换成「|」块文本"),
    (r"exceeded maximum nesting depth.*", "嵌套过深：括号或缩进的层数太多，请检查这一段是否写错"),
    (r"could not determine a constructor.*", "不支持的 YAML 标签（如 !!python/object），请删除该标签"),
]
_EXPLANATIONS = [(re.compile(pattern, re.DOTALL), text) for pattern, text in EXPLANATIONS]
GENERAL = "无法解析，请检查这一行附近的冒号、引号、括号和缩进"


def explain(exc: yaml.YAMLError, first_line: int) -> str:
    """The Chinese explanation of a YAML error; `first_line` is the file line the frontmatter starts on."""
    problem = str(getattr(exc, "problem", None) or str(exc).splitlines()[0]).strip()
    context_mark = getattr(exc, "context_mark", None)
    problem_mark = getattr(exc, "problem_mark", None)
    if context_mark is not None and (problem_mark is None or context_mark.line != problem_mark.line):
        start = f"第 {first_line + context_mark.line} 行"
    else:
        start = "这一行"
    for pattern, text in _EXPLANATIONS:
        if pattern.fullmatch(problem):
            return text.format(start=start)
    return GENERAL


__all__ = ["EXPLANATIONS", "explain"]
