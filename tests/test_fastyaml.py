"""The fast frontmatter parser must agree exactly with libyaml (CSafeLoader), or step aside."""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultcrm.vault import fastyaml
from vaultcrm.vault.fastyaml import Unsupported, load, parse

from conftest import SEED  # noqa: E402
UNSUP = object()


def libyaml(text):
    return yaml.load(text, Loader=yaml.CSafeLoader)


def fast(text):
    try:
        return parse(text)
    except Unsupported:
        return UNSUP


def assert_same(got, want, path="$"):
    """Equal values of identical types, recursively, with the same key order."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} {got!r} != {type(want).__name__} {want!r}"
    if isinstance(want, dict):
        assert list(got) == list(want), path
        for (kg, vg), (kw, vw) in zip(got.items(), want.items()):
            assert_same(kg, kw, f"{path}.key")
            assert_same(vg, vw, f"{path}.{kw}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got), path
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"
        if isinstance(want, dt.datetime):
            assert got.tzinfo == want.tzinfo, path


def check_differential(text):
    """If libyaml fails, the fast path refuses (and load() fails alike); else it agrees or refuses."""
    try:
        want = libyaml(text)
    except Exception as exc:  # YAMLError, or ValueError for an impossible date
        assert fast(text) is UNSUP, f"fast path accepted invalid YAML: {text!r}"
        with pytest.raises(type(exc)):
            load(text)
        return UNSUP
    got = fast(text)
    if got is not UNSUP:
        assert_same(got, want)
    assert_same(load(text), want)
    return got


def seed_blocks():
    blocks = re.findall(r"```yaml\n(.*?)```", SEED.read_text(encoding="utf-8"), re.S)
    return [b.split("\n", 1)[1] if b.startswith("---\n") else b for b in blocks]


FILLED = [
    """预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
  客户编号: "[[C-0001 张三]]"
  联系方式: '13800138000'
  预约日期: 2026-02-12
  预约时间: '14:00'
  预约渠道: 电话
  房间: 房间A  # 默认房间

服务信息:
  服务项目: 耳穴调理
  服务时长: 30分钟
  预计费用: ¥198
  技师安排: 技师A
  材料:
    - 艾草
    - 精油

特殊要求:
  偏好技师: 技师A
  力度要求: 中
  其他需求: 对精油过敏, 需要提前告知

预约状态:
  创建时间: '2026-02-11 10:00'
  创建人: 前台
  当前状态: 已确认
  状态更新:
    - '2026-02-11 10:00 创建 → 待服务 (前台)'
    - '2026-02-12 09:30 待服务 → 已确认 (前台)'
""",
    """服务编号: SRV-2026-001
预约编号: APP-2026-001
服务基本信息:
  服务日期: 2026-02-11
  服务时间: '14:00-14:30'
  服务时长: 30分钟
  服务地点: 房间A
客户信息:
  客户姓名: 张三
  客户编号: "[[C-0001 张三]]"
  联系方式: 13800138000
服务信息:
  服务项目: 耳穴调理
  服务技师: 技师A
  服务费用: ¥198
服务详情:
  服务前评估:
    客户状态: 疲劳, 睡眠一般
    健康关注: 颈椎
    注意事项:
  服务过程:
    主要操作: 耳穴压豆
    客户反应: 良好
    调整内容:
  服务后评估:
    即时效果: 放松
    客户感受: 舒适
    注意事项: 多喝温水
客户反馈:
  效果评价: 4
  满意度: 满意
  建议意见: ''
后续安排:
  下次预约: 2026-02-18
  后续建议: 每周一次
  跟进事项:
  - 新客户首次回访
""",
    """跟进编号: FLW-2026-001
跟进状态: 待跟进
计划日期: 2026-02-14
跟进基本信息:
  跟进日期: 2026-02-14
  跟进方式: 电话
  跟进人: 前台
  服务编号: SRV-2026-001
客户信息:
  客户姓名: 张三
  客户编号: "[[C-0001 张三]]"
  联系方式: '13800138000'
跟进内容:
  跟进目的:
    - 服务效果确认
    - 客户感受了解
  跟进记录:
    客户反馈: 颈椎明显轻松
    效果评估: 良好
    客户满意度: 满意
  跟进结果:
    客户意向: 继续
    下次预约: '2026-02-21 14:00'
    需要跟进: no
后续计划:
  跟进事项: 新客户首次回访
  跟进时间: 14:00
  负责人: 前台
""",
    """客户编号: C-0076
客户姓名: 梁子涵
联系方式: '13642415371'
生日: 1985-12-12
健康档案:
  过敏史:
  健康关注: 偏头痛
标签:
授权同意:
  健康数据: true
  同意日期: 2026-10-10
套餐:
  - 名称: 肩颈理疗10次卡
    服务项目: 全身推拿
    总次数: 10
    总金额: ¥1680
    余额:
    开始日期: 2026-10-10
  -   名称: 足疗卡
      剩余次数: 0
      记录:
      - '2026-10-11 10:00'
""",
]


def test_seed_templates_parse_like_libyaml():
    blocks = seed_blocks()
    assert len(blocks) == 3
    for block in blocks:
        got = parse(block)  # must be covered: no Unsupported
        assert_same(got, libyaml(block))
    assert parse(blocks[0])["预约信息"]["预约时间"] == 840
    assert parse(blocks[2])["跟进内容"]["跟进目的"] == "服务效果确认 客户感受了解 后续服务建议"


def test_seed_frontmatter_and_filled_notes():
    front = SEED.read_text(encoding="utf-8").split("---\n")[1]
    assert parse(front)["tags"] == [None, None, None]  # `- #para/...` is a comment
    for text in [front, *FILLED]:
        assert_same(parse(text), libyaml(text))
        assert_same(parse(text.replace("\n", "\r\n")), libyaml(text))
    assert parse(FILLED[0])["预约信息"]["预约时间"] == "14:00"
    assert parse(FILLED[2])["后续计划"]["跟进时间"] == 840


@pytest.mark.parametrize(
    "text",
    [
        "a: b\n  - c", "a: b\n  # c\n  d", "a: b\n\n\n  c\n", "k:\n- a\n b", "k:\n  - a\n- b", "a: b[c], {d}",
        "a:: b", "a : b", "a: 'x'#c", "- #x\n- #y", "...", "a: b\n...\n", "--- a", "k:\n    a\n  b", "-\n  a",
        "a: :x", "a: -#", "a: -", "a: - x", "a\nb", "a: x\n  b # c\n  d", "a: 2026-02-30", "a: =", "a: <<",
        "<<: a", "a: \u3000b\u3000", "a:\xa0b", "a: b\u3000#c", "k: b\n  'c'", "x" * 1100 + ": 1", "a: 1\n  0",
        "a: '''q'''", "a: 'it''s' # c", 'a: "x\\ty"', "a: 'x", "a: 'x'\n  y", "a:\tb", "a: b\rc: d", "a: \ufeffb",
        "\ufeffa: b", "a: b\x85c", "a: b\u2028c", "a: \x7f", "a: .nan", "a: .inf", "a: 0o17", "a: 0b101",
        "a: 190:20:30", "a: 1_000.5", "a: 2026-02-11 10:00:00", "a: 2026-02-11t10:00:00Z", "- a\n- b", "  a: 1\nb: 2",
        "a:\n  b: 1\n c: 2", "a: 1\n  b: 2", "a:\n  - 1\n  b: 2", "a:\n- 1\nb:\n- 2\n- - 3", "a: b #c: d", "a: b:",
        "a: 0", "a: 00", "a: 007", "a: 09", "a: " + "1" * 30, "a: 2026-1-5", "a: 9999-12-31", "a: 0000-01-01",
        "- a: 1\n  b:\n  - x\n  c: 2\n- d: 3", "k:\n- a: 1\n b: 2", "k:\n- a: 1\n   b: 2", "- a: b\n  c", "- a: b\n   c",
        "- a:\n    b: 1\n  c: 2", "- a: 1\n- - b", "-   a: 1\n    b: 2\nc: 3", "k:\n  - a: 1\n  b: 2",
        "yes: 1", "1: a", "null: a", "a#b: c", "a #b: c", "a:b", "a:b: c", "a: @x", "a: %x", "a: `x`", "%YAML 1.1\n---\na: 1",
    ],
)
def test_known_edges(text):
    check_differential(text)


# --- differential fuzzing -------------------------------------------------------------------

KEYS = ["客户姓名", "预约时间", "服务项目", "状态更新", "a", "name", "Phone", "跟进目的", "备注", "x_y", "a b"]
ODD_KEYS = ["yes", "1", "14:00", "a:b", "<<", "=", "~", "null", "2026-02-12", "-k", "?k", "k ", "'q'", "#k", "k:"]
TRICKY = [
    "14:00", "09:00", "9:00", "1:30:00", "2026-02-12", "2026/2/12", "2026-02-11 10:00", "2026-02-11 10:00:00",
    "2026-02-11T10:00:00+08:00", "¥198", "198元", "30分钟", "0123", "0x1F", "1_000", "1e3", "1.0e+3", ".5", "yes",
    "No", "on", "OFF", "~", "null", "true", "'quoted: x'", '"dq"', '"a\\"b"', "张三 # comment", "a#b", "-1", "+1", "- x",
    "[[C-0001 张三]]", '"[[C-0001 张三]]"', "'[[C-0001 张三]]'", ": x", "a: b", "%x", "@x", "`x", "! x", "&a", "*a",
    "'it''s'", "''", '""', "'a' b", "'a", "x'", "a:b", "b:", "-", "-x", "?x", ":x", "|", ">", "{a: 1}", "[1, 2]",
    ".nan", ".Inf", "-.inf", "0.", "1_0:30", "=", "<<", "2026-02-30", "13800138000", "耳穴调理, 艾灸", "a [b]",
    "'x' # c", "x #", "#x", "\u3000全角", "a\xa0b", "x\ty", "NULL", "Yes", "y", "n", "0o17", "0b11", "+.5", "1_",
]
SAFE = [
    "'14:00'", "'09:30'", "2026-02-12", "'2026-02-11 10:00'", "'13800138000'", "13800138000", '"[[C-0001 张三]]"',
    "¥198", "30分钟", "电话", "待服务", "轻/中/重", "非常满意/满意/一般/不满意", "APP-2026-001", "技师A", "14:00",
    "房间A # 默认", "yes", "3", "'it''s'", "服务效果确认, 客户感受了解", "~", "''",
]
SAFE_PLAIN = ["服务效果确认", "客户感受了解", "¥198", "30分钟", "APP-2026-001", "2026-02-12", "a#b", "x:y", "3", "yes"]
TEXT = st.text(st.sampled_from(list("ab张三¥元 :#-'\"[]{},.&*!|>%@`?~01925+_\u3000\xa0eE/TZy")), min_size=1, max_size=12)
JUNK = [
    "- x", "foo", "? x", "---", "...", "%YAML 1.1", "&a b: c", "a: *x", "a: [1, 2]", "a: |", "  x", "a: >-", "!!str a: b",
    "a: 'b", "'c", "a:", ":", "- - x", "\t- x", "a: b\r", "- a: b",
]


def weighted(*choices):
    pool = [st.sampled_from(c) if isinstance(c, list) else c for c, n in choices for _ in range(n)]
    return st.integers(0, len(pool) - 1).flatmap(lambda i: pool[i])


@st.composite
def documents(draw, safe=False):
    # Mostly sane documents with a few tricky parts, so that both paths get exercised often.
    scalar = st.sampled_from(SAFE) if safe else weighted((SAFE, 10), (TRICKY, 5), (TEXT, 1))
    plain = st.sampled_from(SAFE_PLAIN) if safe else weighted((SAFE_PLAIN, 6), (TRICKY, 3), (TEXT, 1))
    key = st.sampled_from(KEYS) if safe else weighted((KEYS, 16), (ODD_KEYS, 1), (TEXT, 1))
    out = []

    def sp(n):
        return " " * n

    def extras(ind):
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(["", sp(draw(st.integers(0, 6)))])))
        if draw(st.integers(0, 6)) == 0:
            out.append(sp(draw(st.integers(0, ind + 2))) + "# " + draw(st.sampled_from(["注释", "x: y", "- z"])))

    def comment():
        return draw(st.sampled_from(["", "", "", " # 注释", "  #x: y", " #", "   "]))

    def mapping(ind, depth):
        for _ in range(draw(st.integers(1, 5))):
            extras(ind)
            head = sp(ind) + draw(key) + ":"
            kinds = ["scalar"] * 4 + ["empty", "map", "seq", "multi", "seqmap"] if depth < 3 else ["scalar", "empty"]
            kind = draw(st.sampled_from(kinds))
            if kind == "scalar":
                out.append(head + sp(draw(st.integers(1, 2))) + draw(scalar) + comment())
            elif kind == "empty":
                out.append(head + comment())
            elif kind == "map":
                out.append(head + comment())
                mapping(ind + draw(st.integers(1, 4)), depth + 1)
            elif kind == "seq":
                out.append(head + comment())
                seq_ind = ind + draw(st.sampled_from([0, 0, 2, 1, 3]))
                for _ in range(draw(st.integers(1, 4))):
                    extras(seq_ind)
                    if draw(st.integers(0, 5)) == 0:  # an item continued on the next line
                        out.append(sp(seq_ind) + "- " + draw(plain))
                        out.append(sp(seq_ind + draw(st.integers(1, 3))) + draw(plain))
                    else:
                        item = draw(st.sampled_from(["-", "- # c", "-  " + draw(scalar)] + ["- " + draw(scalar)] * 4))
                        out.append(sp(seq_ind) + item + comment())
            elif kind == "seqmap":  # a sequence of mappings: `- key: value` then keys under `key`
                out.append(head + comment())
                seq_ind = ind + draw(st.sampled_from([0, 0, 2, 1]))
                for _ in range(draw(st.integers(1, 3))):
                    col = seq_ind + draw(st.sampled_from([2, 2, 3, 4]))
                    start = len(out)
                    mapping(col, depth + 1)
                    lines = [i for i in range(start, len(out)) if out[i].strip(" ")[:1] not in ("", "#")]
                    if lines:
                        out[lines[0]] = sp(seq_ind) + "-" + out[lines[0]][seq_ind + 1 :]
            else:  # multi-line plain scalar, first part on the key line or on the next one
                out.append(head + (" " + draw(plain) if draw(st.booleans()) else ""))
                for _ in range(draw(st.integers(1, 3))):
                    if draw(st.integers(0, 3)) == 0:
                        out.append(sp(draw(st.integers(0, 3))))
                    out.append(sp(ind + draw(st.integers(1, 4))) + draw(plain) + ("" if safe else comment()))

    mapping(draw(st.sampled_from([0, 0, 0, 1, 2])), 0)
    if not safe:
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # break the shape: junk lines, shifted lines
            at = draw(st.integers(0, len(out)))
            if draw(st.booleans()):
                out.insert(at, sp(draw(st.integers(0, 4))) + draw(st.sampled_from(JUNK)))
            elif at < len(out):
                out[at] = sp(draw(st.integers(1, 3))) + out[at] if draw(st.booleans()) else out[at].lstrip(" ")
    text = "\n".join(out) + draw(st.sampled_from(["\n", "", "\n\n"]))
    return text.replace("\n", "\r\n") if draw(st.integers(0, 9)) == 0 else text


FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(documents())
def test_differential_tricky_documents(text):
    check_differential(text)


@settings(FUZZ, max_examples=300)
@given(documents(safe=True))
def test_template_shapes_are_covered(text):
    want = libyaml(text)
    assert_same(parse(text), want)  # no Unsupported for template-shaped notes


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text("0123456789-:._+eE ", min_size=1, max_size=20), st.dates().map(str), st.integers().map(str)))
def test_numbers_and_dates_resolve_like_libyaml(scalar):
    fastyaml._CACHE.clear()  # exercise the uncached shortcuts too
    check_differential(f"a: {scalar}\nb:\n  - {scalar}\n")


def test_load_falls_back_for_unsupported_yaml():
    assert load("a: [1, 2]\nb: &x {c: 1}\nd: *x") == {"a": [1, 2], "b": {"c": 1}, "d": {"c": 1}}
    with pytest.raises(yaml.YAMLError):
        load("a: b: c")
    with pytest.raises(Unsupported):
        parse("a: |\n  x")


def test_scalar_cache_is_bounded():
    for i in range(25000):
        parse(f"a: {i}")
    assert len(fastyaml._CACHE) <= 20001
