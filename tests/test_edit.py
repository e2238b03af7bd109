"""In-place frontmatter edits keep every byte the edit did not mean to change."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vaultcrm.vault.edit import EditError, EditVerificationError, edit_frontmatter, split_note, update_note
from vaultcrm.vault.writer import ConcurrentEditError, stamp
from vaultcrm.vault.yamlfmt import scalar

from conftest import SEED

SEED_TEXT = SEED.read_text(encoding="utf-8")


def load_fm(note: str):
    return yaml.load(split_note(note)[1], Loader=yaml.CSafeLoader)


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """Pairs of (old, new) lines that differ, for edits that keep the line count."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b), "line count changed"
    return [(x, y) for x, y in zip(a, b) if x != y]


def seed_notes(nl: str = "\n") -> dict[str, str]:
    """The seed's three record templates as notes: fences, frontmatter, a body."""
    blocks = re.findall(r"```yaml\n---\n(.*?)```", SEED_TEXT, re.S)
    notes = {b.split(":", 1)[0]: "---\n" + b + "---\n\n# 记录\n\n正文保持原样。\n" for b in blocks}
    return {k: v.replace("\n", nl) for k, v in notes.items()}


HAND_EDITED = """\
---
# 预约记录 — 由 vaultcrm 创建，可以手工修改
预约编号: APP-2026-007   # 不要改
预约信息:
  客户姓名: "张三"
  客户编号: "[[C-0001 张三]]"
  联系方式: '13800138000'
  预约日期: 2026-02-12
  预约时间: 14:00          # 手工写的，没有引号
  预约渠道: 微信

我的标签: [VIP, '老客户']
备注: >
  这是折叠的
  多行文本

预约状态:
  创建时间: '2026-02-11 10:00'
  当前状态: 待服务  # 状态
  状态更新:
  自定义: {a: 1}
---

# 张三 2月12日

---
这一行不是 frontmatter: 真的
当前状态: 待服务
"""


# -- split_note ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, parts", [
    ("---\na: 1\n---\nbody\n", ("---\n", "a: 1\n", "---\nbody\n")),
    ("\ufeff---\r\na: 1\r\n---\r\nbody", ("\ufeff---\r\n", "a: 1\r\n", "---\r\nbody")),
    ("---\n---\nbody", ("---\n", "", "---\nbody")),
    ("---\na: 1\n---", ("---\n", "a: 1\n", "---")),
    ("---\na: 1\nno closing fence\n", ("", "", "---\na: 1\nno closing fence\n")),
    ("# just markdown\n---\n", ("", "", "# just markdown\n---\n")),
    ("---\na: 1\n----\n---\n", ("---\n", "a: 1\n----\n", "---\n")),
])
def test_split_note(text, parts):
    assert split_note(text) == parts


@given(st.lists(st.sampled_from(["---", "\n", "\r\n", "\ufeff", "a: 1", " ", "x"]), max_size=30).map("".join))
def test_split_note_is_lossless(text):
    prefix, fm, suffix = split_note(text)
    assert prefix + fm + suffix == text
    assert fm == "" or prefix


# -- targeted edits -----------------------------------------------------------------------------

@pytest.mark.parametrize("nl, bom", [("\n", ""), ("\r\n", ""), ("\n", "\ufeff"), ("\r\n", "\ufeff")])
def test_status_change_keeps_everything_else(nl, bom):
    note = bom + HAND_EDITED.replace("\n", nl)
    out = edit_frontmatter(note, {("预约状态", "当前状态"): "已确认"})
    assert changed_lines(note, out) == [(f"  当前状态: 待服务  # 状态{nl}", f"  当前状态: 已确认  # 状态{nl}")]
    assert out.startswith(bom + "---" + nl)
    assert split_note(out)[2] == split_note(note)[2]


def test_multiple_scalar_edits_touch_only_their_lines():
    out = edit_frontmatter(HAND_EDITED, {
        ("预约信息", "预约时间"): dt.time(15, 30),
        ("预约信息", "客户编号"): "[[C-0002 李四]]",
        ("预约信息", "预约日期"): dt.date(2026, 2, 13),
        ("预约编号",): "APP-2026-008",
    })
    assert changed_lines(HAND_EDITED, out) == [
        ("预约编号: APP-2026-007   # 不要改\n", "预约编号: APP-2026-008   # 不要改\n"),
        ('  客户编号: "[[C-0001 张三]]"\n', '  客户编号: "[[C-0002 李四]]"\n'),
        ("  预约日期: 2026-02-12\n", "  预约日期: 2026-02-13\n"),
        ("  预约时间: 14:00          # 手工写的，没有引号\n", "  预约时间: '15:30'          # 手工写的，没有引号\n"),
    ]
    fm = load_fm(out)
    assert fm["预约信息"]["预约时间"] == "15:30" and fm["备注"] == "这是折叠的 多行文本\n"


@pytest.mark.parametrize("nl", ["\n", "\r\n"])
def test_append_to_empty_status_list(nl):
    note = HAND_EDITED.replace("\n", nl)
    entry = {"时间": dt.datetime(2026, 2, 12, 9, 30), "原状态": "待服务", "新状态": "已确认", "操作人": "前台"}
    out = edit_frontmatter(note, {("预约状态", "当前状态"): "已确认"}, append={("预约状态", "状态更新"): [entry]})
    lines = out.split(nl)
    at = lines.index("  状态更新:")
    assert lines[at + 1: at + 5] == ["    - 时间: '2026-02-12 09:30'", "      原状态: 待服务",
                                     "      新状态: 已确认", "      操作人: 前台"]
    assert lines[at + 5] == "  自定义: {a: 1}"
    assert "\n" not in out.replace("\r\n", "") if nl == "\r\n" else "\r" not in out
    assert load_fm(out)["预约状态"]["状态更新"] == [
        {"时间": "2026-02-12 09:30", "原状态": "待服务", "新状态": "已确认", "操作人": "前台"}]

    again = edit_frontmatter(out, {}, append={("预约状态", "状态更新"): ["第二条"]})
    assert again.split(nl)[at + 5] == "    - 第二条"
    assert [line for line in again.split(nl) if line != "    - 第二条"] == lines


def test_append_keeps_comment_on_the_key_line_and_replaces_empty_flow_list():
    note = "---\n状态更新:   # 每次变更追加\n标签: []\n其他: 1\n---\n"
    out = edit_frontmatter(note, {}, append={("状态更新",): ["a"], ("标签",): ["VIP"]})
    assert out == "---\n状态更新:   # 每次变更追加\n  - a\n标签:\n  - VIP\n其他: 1\n---\n"


def test_append_to_flow_list_keeps_its_quoting():
    out = edit_frontmatter(HAND_EDITED, {}, append={("我的标签",): ["回头客", "a, b"]})
    assert changed_lines(HAND_EDITED, out) == [
        ("我的标签: [VIP, '老客户']\n", "我的标签: [VIP, '老客户', 回头客, 'a, b']\n")]


def test_new_keys_go_to_the_end_of_their_mapping():
    out = edit_frontmatter(HAND_EDITED, {
        ("预约状态", "完成时间"): dt.datetime(2026, 2, 12, 15, 0),
        ("预约信息", "技师", "姓名"): "技师A",
        ("vaultcrm", "版本"): 1,
    })
    added = [line for line in out.splitlines() if line not in HAND_EDITED.splitlines()]
    assert added == ["  技师:", "    姓名: 技师A", "  完成时间: '2026-02-12 15:00'", "vaultcrm:", "  版本: 1"]
    lines = out.splitlines()
    assert lines.index("  技师:") == lines.index("  预约渠道: 微信") + 1
    assert lines.index("  完成时间: '2026-02-12 15:00'") == lines.index("  自定义: {a: 1}") + 1
    assert lines.index("vaultcrm:") == lines.index("  完成时间: '2026-02-12 15:00'") + 1


def test_set_inside_empty_mapping_key_and_flow_mapping():
    note = "---\n服务信息:\n特殊要求: {偏好技师: 技师A}\n---\n"
    out = edit_frontmatter(note, {("服务信息", "服务项目"): "耳穴调理", ("特殊要求", "力度要求"): "中"})
    assert out == "---\n服务信息:\n  服务项目: 耳穴调理\n特殊要求: {偏好技师: 技师A, 力度要求: 中}\n---\n"


def test_set_to_none_and_to_a_list_and_back():
    note = "---\n跟进目的: 服务效果确认 # 目的\n下一个: 1\n---\n"
    as_list = edit_frontmatter(note, {("跟进目的",): ["服务效果确认", "客户感受了解"]})
    assert as_list == "---\n跟进目的: # 目的\n  - 服务效果确认\n  - 客户感受了解\n下一个: 1\n---\n"
    assert edit_frontmatter(as_list, {("跟进目的",): "已完成"}) == "---\n跟进目的: 已完成 # 目的\n下一个: 1\n---\n"
    assert edit_frontmatter(note, {("跟进目的",): None}) == "---\n跟进目的: # 目的\n下一个: 1\n---\n"
    assert edit_frontmatter(as_list, {("跟进目的",): ["后续服务建议"]}) == \
        "---\n跟进目的: # 目的\n  - 后续服务建议\n下一个: 1\n---\n"
    assert edit_frontmatter(as_list, {("跟进目的",): None}) == "---\n跟进目的: # 目的\n下一个: 1\n---\n"


def test_follows_the_documents_own_indentation():
    note = "---\n预约状态:\n    当前状态: 待服务\n    状态更新:\n标签:\n- a\n---\n"
    out = edit_frontmatter(note, {("新", "键"): 1}, append={("预约状态", "状态更新"): ["x"], ("标签",): ["b"]})
    assert out == "---\n预约状态:\n    当前状态: 待服务\n    状态更新:\n    - x\n标签:\n- a\n- b\n新:\n    键: 1\n---\n"


def test_block_scalars_stay_intact_around_inserts():
    note = "---\n记录: |\n  第一行\n  第二行\n\n保留: |+\n  尾部空行\n\n---\n"
    out = edit_frontmatter(note, {("新",): "x"})
    assert load_fm(out) == {"记录": "第一行\n第二行\n", "保留": "尾部空行\n\n", "新": "x"}
    out = edit_frontmatter(note, {("记录",): "一行"})
    assert out == "---\n记录: 一行\n\n保留: |+\n  尾部空行\n\n---\n"


def test_empty_frontmatter_gets_keys():
    assert edit_frontmatter("---\n---\nbody", {("a", "b"): "14:00"}) == "---\na:\n  b: '14:00'\n---\nbody"


# -- refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("note, changes, append", [
    ("# no frontmatter\n", {("a",): 1}, {}),
    ("---\na: [unclosed\n---\n", {("a",): 1}, {}),
    ("---\n- a\n---\n", {("a",): 1}, {}),
    ("---\n预约信息: 张三\n---\n", {("预约信息", "客户姓名"): "李四"}, {}),
    ("---\n跟进目的: 一行文字\n---\n", {}, {("跟进目的",): ["x"]}),
    ("---\na: &x 1\nb: *x\n---\n", {("b",): 2}, {}),
])
def test_impossible_edits_raise(note, changes, append):
    with pytest.raises(EditError):
        edit_frontmatter(note, changes, append=append)


def test_verification_catches_collateral_damage():
    # Changing an anchored value would silently change (here: break) its alias elsewhere.
    with pytest.raises(EditVerificationError):
        edit_frontmatter("---\na: &x 1\nb: *x\n---\n", {("a",): 2})


# -- the seed templates -------------------------------------------------------------------------

@pytest.mark.parametrize("nl", ["\n", "\r\n"])
def test_seed_templates_round_trip_byte_identical(nl):
    notes = seed_notes(nl)
    assert set(notes) == {"预约编号", "服务编号", "跟进编号"}
    dashboard = SEED_TEXT.replace("\n", nl)
    for note in [*notes.values(), dashboard]:
        assert edit_frontmatter(note, {}) == note
        _, fm, _ = split_note(note)
        first = fm.split(nl, 1)[0]
        key, value = first.split(": ", 1) if ": " in first else (first.rstrip(":"), None)
        assert edit_frontmatter(note, {(key,): yaml.safe_load(value) if value else None}) == note


@pytest.mark.parametrize("kind, path, value, line", [
    ("预约编号", ("预约状态", "当前状态"), "已确认", "  当前状态: 已确认"),
    ("预约编号", ("预约信息", "客户姓名"), "张三", "  客户姓名: 张三"),
    ("预约编号", ("预约信息", "预约时间"), dt.time(9, 0), "  预约时间: '09:00'"),
    ("服务编号", ("服务详情", "服务后评估", "注意事项"), "多喝水", "    注意事项: 多喝水"),
    ("服务编号", ("客户反馈", "满意度"), "满意", "  满意度: 满意"),
    ("跟进编号", ("跟进内容", "跟进记录", "客户反馈"), "好转", "    客户反馈: 好转"),
    ("跟进编号", ("后续计划", "负责人"), "前台", "  负责人: 前台"),
])
def test_seed_template_edits_change_one_line(kind, path, value, line):
    note = seed_notes()[kind]
    out = edit_frontmatter(note, {path: value})
    [(old, new)] = changed_lines(note, out)
    assert new == line + "\n"
    assert old.split(":")[0] == new.split(":")[0]


def test_multiline_plain_scalar_of_the_followup_template_survives_edits():
    note = seed_notes()["跟进编号"]
    out = edit_frontmatter(note, {("跟进内容", "跟进结果", "客户意向"): "续卡"},
                           append={("跟进内容", "跟进记录", "客户满意度"): ["满意"]})
    assert "  跟进目的:\n    服务效果确认\n    客户感受了解\n    后续服务建议\n\n  跟进记录:" in out
    assert load_fm(out)["跟进内容"]["跟进目的"] == "服务效果确认 客户感受了解 后续服务建议"


# -- notes as Obsidian rewrites them ------------------------------------------------------------

OBSIDIAN = """\
---
预约编号: APP-2026-003
预约信息:
  客户姓名: 王五
  客户编号: "[[C-0003 王五]]"
  联系方式: 13800138000
  预约日期: 2026-02-12
  预约时间: 14:00
  预约渠道: 电话
预约状态:
  创建时间: 2026-02-11 10:00
  当前状态: 待服务
  状态更新: []
tags:
  - 预约
---
正文
"""


def test_edits_on_obsidian_rewritten_notes():
    out = edit_frontmatter(OBSIDIAN, {("预约状态", "当前状态"): "已取消", ("预约信息", "联系方式"): "13800138000"},
                           append={("预约状态", "状态更新"): ["2026-02-12 12:00 待服务 → 已取消"], ("tags",): ["取消"]})
    expected = OBSIDIAN.replace("  当前状态: 待服务", "  当前状态: 已取消") \
        .replace("  联系方式: 13800138000", "  联系方式: '13800138000'") \
        .replace("  状态更新: []", "  状态更新:\n    - '2026-02-12 12:00 待服务 → 已取消'") \
        .replace("  - 预约\n", "  - 预约\n  - 取消\n")
    assert out == expected
    fm = load_fm(out)
    assert fm["预约信息"]["预约时间"] == 840  # untouched: still what PyYAML made of Obsidian's bare 14:00


# -- property: a random hand-written note keeps every line but the edited one --------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12)
_KEY = st.text(st.sampled_from(list("客户备注标签来源甲乙丙abcXYZ_")), min_size=1, max_size=5)
_VALUE_TEXT = st.one_of(
    _TEXT.map(scalar),
    _TEXT.map(lambda t: json.dumps(t, ensure_ascii=False)),
    st.integers(-10**6, 10**6).map(str),
    st.dates().map(str),
    st.just(""),
)
_NEW_VALUE = st.one_of(_TEXT, st.integers(), st.dates(), st.times().map(lambda t: t.replace(microsecond=0)),
                       st.none(), st.booleans(), _TEXT.map(lambda t: f"[[{t}]]"),
                       st.sampled_from(["14:00", "yes", "13800138000", "2026-02-12", "~", "- a", "#x", "a: b"]))
_COMMENT = st.one_of(st.none(), _TEXT.map(lambda t: "# " + t))


def _entry(indent: int):
    pad = " " * indent
    keyval = st.tuples(_KEY, _VALUE_TEXT, _COMMENT).map(
        lambda t: (t[0], f"{pad}{t[0]}:{' ' + t[1] if t[1] else ''}{'  ' + t[2] if t[2] else ''}"))
    comment = _TEXT.map(lambda t: (None, f"{pad}# {t}"))
    return st.one_of(keyval, keyval, comment, st.just((None, "")))


@st.composite
def hand_written_notes(draw):
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    top = draw(st.lists(_entry(0), max_size=8, unique_by=lambda e: e[0] or object()))
    inner = draw(st.lists(_entry(2), max_size=5, unique_by=lambda e: e[0] or object()))
    status_comment = draw(_COMMENT)
    status_line = "  当前状态: 待服务" + (f"  {status_comment}" if status_comment else "")
    inner.insert(draw(st.integers(0, len(inner))), ("当前状态", status_line))
    block = [("预约状态", "预约状态:"), *inner]
    at = draw(st.integers(0, len(top)))
    lines = [line for _, line in top[:at] + block + top[at:]]
    body = draw(st.lists(st.one_of(_TEXT, st.sampled_from(["---", "当前状态: 待服务", ""])), max_size=6))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    note = bom + "---" + nl + "".join(line + nl for line in lines) + "---" + nl + nl.join(body)
    return note, nl, status_line


@settings(max_examples=150, deadline=None)
@given(hand_written_notes(), _NEW_VALUE)
def test_random_note_keeps_every_other_line(note_nl_line, value):
    note, nl, status_line = note_nl_line
    try:
        load_fm(note)
    except yaml.YAMLError:
        assume(False)  # the generator can write values YAML refuses (e.g. a bare `- x`)
    out = edit_frontmatter(note, {("预约状态", "当前状态"): value})
    before, after = note.split(nl), out.split(nl)
    assert len(before) == len(after)
    diff = [(b, a) for b, a in zip(before, after) if b != a]
    assert all(b == status_line for b, _ in diff) and len(diff) <= 1
    assert load_fm(out)["预约状态"]["当前状态"] == yaml.load(scalar(value), Loader=yaml.CSafeLoader)


@settings(max_examples=100, deadline=None)
@given(hand_written_notes(), st.lists(st.one_of(_TEXT, st.dictionaries(_KEY, _TEXT, min_size=1)), min_size=1,
                                      max_size=3))
def test_random_note_append_only_inserts(note_nl_line, items):
    note, nl, _ = note_nl_line
    try:
        load_fm(note)
    except yaml.YAMLError:
        assume(False)
    out = edit_frontmatter(note, {("预约状态", "完成时间"): "2026-02-12 15:00"}, append={("预约状态", "记录"): items})
    before, after = note.split(nl), out.split(nl)
    kept = iter(after)
    assert all(line in kept for line in before)  # `before` is a subsequence of `after`
    assert load_fm(out)["预约状态"]["记录"] == [yaml.load(json.dumps(i, ensure_ascii=False), Loader=yaml.CSafeLoader)
                                                for i in items]


# -- update_note --------------------------------------------------------------------------------

def test_update_note_writes_refuses_stale_and_skips_no_ops(tmp_path):
    path = tmp_path / "APP-2026-007.md"
    path.write_bytes(HAND_EDITED.encode())
    seen = stamp(path)
    assert update_note(path, {("预约状态", "当前状态"): "已确认"}, expect=seen) is True
    assert load_fm(path.read_text(encoding="utf-8"))["预约状态"]["当前状态"] == "已确认"

    now = stamp(path)
    os.utime(path, ns=(1, 1))
    assert update_note(path, {("预约状态", "当前状态"): "已确认"}, expect=now) is False
    assert path.stat().st_mtime_ns == 1

    with pytest.raises(ConcurrentEditError):
        update_note(path, {("预约状态", "当前状态"): "已完成"}, expect=seen)
    assert "已完成" not in path.read_text(encoding="utf-8")


# -- property: any edit either verifies or is refused up front ----------------------------------

_NESTED_VALUE = st.recursive(_NEW_VALUE, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "键", "b c"]), inner, max_size=3)),
    max_leaves=6)
_TRICKY = "---\nk: |\n  lit\n\n保留: |+\n  x\n\n# end\n列表:\n- x\n- y:\n    z: 1\n  # c\nb: \"multi\n  line\"\n---\n"


def _key_paths(note: str) -> list[tuple[str, ...]]:
    def walk(d, prefix):
        for k, v in d.items():
            yield (*prefix, str(k))
            if isinstance(v, dict):
                yield from walk(v, (*prefix, str(k)))
    return list(walk(load_fm(note) or {}, ()))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_single_edit_verifies_or_is_refused_cleanly(data):
    notes = [HAND_EDITED, OBSIDIAN, _TRICKY, *seed_notes().values()]
    note = data.draw(st.sampled_from(notes))
    paths = _key_paths(note)
    path = data.draw(st.one_of(st.sampled_from(paths), st.sampled_from(paths).map(lambda p: (*p, "新")),
                               st.just(("全新", "x"))))
    value = data.draw(_NESTED_VALUE)
    as_append = data.draw(st.booleans())
    try:
        if as_append:
            out = edit_frontmatter(note, {}, append={path: [value]})
        else:
            out = edit_frontmatter(note, {path: value})
    except EditVerificationError:  # a splice that damaged the note: always a bug
        raise
    except EditError as exc:  # refused before touching anything: only genuine type conflicts
        assert "is not a list" in str(exc) or "is not a mapping" in str(exc)
        return
    assert split_note(out)[0] == split_note(note)[0] and split_note(out)[2] == split_note(note)[2]
