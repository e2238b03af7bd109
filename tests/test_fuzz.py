"""Hostile input: whatever bytes a note holds, reading it yields a record or diagnostics, never a crash.

Hypothesis drives the reader with random bytes, YAML-ish token soup and template-shaped notes with
arbitrary values, and every value normaliser with arbitrary YAML values. The named attacks (alias
bombs, Python tags, C-stack-deep nesting, huge files) are checked one by one, and a vault holding all
of them is run through every command: no traceback, no crash log.
Example counts per property are in EXAMPLES (the lead's reliability figures are their sum).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import subprocess
import sys
import textwrap
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from vaultcrm import values as v
from vaultcrm.core.config import Settings
from vaultcrm.core.store import render_record
from vaultcrm.diagnostics import Diagnostic
from vaultcrm.models import RECORD_TYPES, Record
from vaultcrm.models import fields as f
from vaultcrm.vault import bounds
from vaultcrm.vault.reader import parse_note, read_note

EXAMPLES = {"bytes": 400, "tokens": 500, "template": 100, "normaliser": 150}


def fuzz(kind: str) -> settings:
    return settings(max_examples=EXAMPLES[kind], deadline=None, suppress_health_check=list(HealthCheck))


def check_outcome(raw: bytes):
    """parse_note's contract: (record or None, note); a record's data is its dump; lines are real."""
    record, note = parse_note("fuzz.md", raw)
    assert record is None or isinstance(record, Record)
    assert all(isinstance(d, Diagnostic) and d.line >= 1 for d in note.diagnostics)
    if record is not None:
        assert note.data == record.model_dump()
    return record, note


# -- random bytes and YAML-ish soup -------------------------------------------------------------------

@fuzz("bytes")
@given(st.binary(max_size=3000))
def test_any_bytes_never_raise(raw):
    check_outcome(raw)
    check_outcome(b"---\n\xe9\xa2\x84\xe7\xba\xa6\xe7\xbc\x96\xe5\x8f\xb7: " + raw + b"\n---\n")


TOKENS = [
    "\n", "\r\n", "\r", " ", "  ", "\t", ":", ": ", "- ", "-", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b",
    "? ", "|", ">", "#", "'", '"', "\\", "%YAML 1.1", "---", "...", "\x00", "\ufeff", "\u2028", "\x85", "~",
    "!!python/object/apply:os.system ", "!!binary ", "!!set ", "!!omap ", "!foo ", "<<: ", "=",
    "预约编号", "服务编号", "跟进编号", "客户编号", "客户姓名", "预约信息", "服务信息", "预约状态", "健康档案",
    "预约日期", "预约时间", "服务时长", "预计费用", "当前状态", "状态更新", "套餐", "过敏史",
    "APP-2026-001", "SRV-2026-001", "FLW-2026-001", "C-0001", "2026-02-12", "2026-02-30", "2026年2月12日",
    "14:00", "'14:00'", "840", "¥198", "198元", "30分钟", "1e309", "-0", "0x1F", ".nan", "null", "yes",
    "电话", "已完成", "PENDING", "张三", "轻/中/重", "¥", "😀", "\U0010ffff", "\ud800",
]
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "utf-16"]


@fuzz("tokens")
@given(st.lists(st.sampled_from(TOKENS), max_size=80), st.sampled_from(ENCODINGS), st.booleans())
def test_yamlish_frontmatter_never_raises(tokens, encoding, closed):
    text = "---\n预约编号: APP-2026-001\n" + "".join(tokens) + ("\n---\n正文\n" if closed else "")
    check_outcome(text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace"))


# -- template-shaped notes with arbitrary values --------------------------------------------------

LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-10**30, 10**30), st.floats(), st.text(max_size=20),
    st.sampled_from(["¥", "分钟", "轻/中/重", "14:00", "25:61", "2026/2/12", "2026-02-30", "已完成", "NO_SHOW",
                     "wechat", "30min", "¥198.50", "★★★", "[[C-0001 张三]]", "yes", "0", " "]),
    # Years a studio writes (before 1000, yamlfmt writes '999-01-01 00:00', which no reader takes back).
    st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31)), st.datetimes(dt.datetime(1900, 1, 1)),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


def skeleton(model: type[BaseModel]) -> st.SearchStrategy:
    """A dict with the model's Chinese keys (nested sections too) and arbitrary leaf values."""
    parts = {}
    for name, info in model.model_fields.items():
        if name == "path":
            continue
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            parts[info.alias or name] = st.one_of(skeleton(ann), LEAF)
        elif getattr(ann, "__origin__", None) is list and isinstance(ann.__args__[0], type) \
                and issubclass(ann.__args__[0], BaseModel):
            parts[info.alias or name] = st.one_of(st.lists(skeleton(ann.__args__[0]), max_size=2), LEAF)
        else:
            parts[info.alias or name] = LEAF
    return st.fixed_dictionaries({}, optional=parts)


@pytest.mark.parametrize("fields", [
    {"预约编号": "APP-2026-001", "预约信息": {"疗程序号": "2/8"}},  # written by hand without its 系列编号
    {"预约编号": "APP-2026-001", "预约信息": {"使用套餐": "十次卡"}},
    {"服务编号": "SRV-2026-001", "服务信息": {"原价": 198, "活动": "[[CMP-2026-001]]"}},  # no 优惠券 beside them
], ids=["series-position-alone", "package-alone", "price-and-campaign-without-coupon"])
def test_keys_written_only_when_set_survive_a_rewrite_on_their_own(fields):
    """Found by the fuzz below: a key the template writes only when set is kept without its neighbours."""
    text = "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False) + "---\n"
    record, note = check_outcome(text.encode("utf-8"))
    assert record is not None, note.diagnostics
    written = render_record(Settings(), Path("/nonexistent-vault"), record)
    again, note2 = parse_note(record.path or "fuzz.md", written.encode("utf-8"))
    assert again is not None, note2.diagnostics
    assert again.model_dump() == record.model_dump()


@fuzz("template")
@pytest.mark.parametrize("model", RECORD_TYPES, ids=lambda m: m.kind)
@given(data=st.data())
def test_template_shaped_notes_load_or_explain_and_rewrite_stably(model, data):
    fields = data.draw(skeleton(model))
    fields.pop("积分记录", None)  # kept by `customer points`, which appends to it; no template writes it
    ids = {"APP": "APP-2026-001", "SRV": "SRV-2026-001", "FLW": "FLW-2026-001", "CUS": "C-0001", "WL": "WL-2026-001",
           "LV": "LV-2026-001"}
    fields = {model.id_key: ids[model.kind], **({"客户姓名": "张三"} if model.kind == "CUS" else {}), **fields}
    text = "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False) + "---\n"
    record, note = check_outcome(text.encode("utf-8"))
    if record is None:
        assert note.diagnostics, "a record note that does not load must say why"
        return
    # What loads, vaultcrm can write back out; that text reads back as the same record.
    written = render_record(Settings(), Path("/nonexistent-vault"), record)
    again, note2 = parse_note(record.path or "fuzz.md", written.encode("utf-8"))
    assert again is not None, note2.diagnostics
    assert again.model_dump() == record.model_dump()


# -- every value normaliser: a value or ValueError, and stable ------------------------------------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-10**40, 10**40), st.floats(), st.decimals(),
    st.text(), st.text(alphabet="0123456789:-/.年月日点时分 T¥元分钟minh★☆星+,", max_size=25),
    st.dates(), st.times(), st.datetimes(), st.datetimes(timezones=st.timezones()),
    st.times(timezones=st.timezones()), st.sampled_from(sorted(v.PLACEHOLDERS)),
)
ANYTHING = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)

NORMALISERS = {
    "parse_date": v.parse_date, "parse_time": v.parse_time, "parse_datetime": v.parse_datetime,
    "parse_datetime(tz)": functools.partial(v.parse_datetime, tz=ZoneInfo("Asia/Shanghai")),
    "parse_phone": v.parse_phone, "parse_money": v.parse_money, "parse_minutes": v.parse_minutes,
    "parse_list": v.parse_list, "parse_text": v.parse_text, "parse_bool": v.parse_bool, "parse_stars": v.parse_stars,
    **{f"{e.__name__}.parse": e.parse for e in (v.AppointmentStatus, v.Channel, v.Strength, v.Satisfaction,
                                                v.FollowUpStatus, v.WaitlistStatus)},
    "fields._text": f._text, "fields.parse_time_range": f.parse_time_range,
}


@pytest.mark.parametrize("fn", NORMALISERS.values(), ids=NORMALISERS.keys())
@fuzz("normaliser")
@given(value=ANYTHING)
def test_normalisers_return_or_raise_value_error_and_are_idempotent(fn, value):
    try:
        once = fn(value)
    except ValueError:
        return
    twice = fn(once)
    assert type(twice) is type(once) and twice == once and str(twice) == str(once)
    if isinstance(once, Decimal):  # and its written form reads back as itself
        assert v.parse_money(v.format_money(once)) == once and "E" not in v.format_money(once)


@pytest.mark.parametrize("value", [-1.4e295, 1e300, Decimal("1e400000"), float("nan"), float("inf")])
def test_absurd_amounts_are_value_errors(value):
    with pytest.raises(ValueError):
        v.parse_money(value)


def test_timestamp_without_local_time_is_a_value_error():
    with pytest.raises(ValueError):
        v.parse_datetime(dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))), ZoneInfo("Asia/Shanghai"))


def test_placeholder_in_a_folded_list_is_not_an_item():
    assert v.parse_list("¥ 腰背") == v.parse_list(v.parse_list("¥ 腰背")) == ["腰背"]


# -- named attacks ------------------------------------------------------------------------------

def bomb(levels: int = 9, mapping: bool = False) -> str:
    lines = ["预约编号: APP-2026-001", "l0: &l0 " + ("{a: x, b: x, c: x}" if mapping else "[x, x, x, x, x, x, x, x, x]")]
    for i in range(1, levels + 1):
        refs = ", ".join(f"k{j}: *l{i - 1}" for j in range(9)) if mapping else ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} " + ("{" + refs + "}" if mapping else f"[{refs}]"))
    return "---\n" + "\n".join(lines) + "\n---\n"


@pytest.mark.parametrize("mapping", [False, True], ids=["lists", "mappings"])
def test_billion_laughs_is_bounded_in_time_and_memory(mapping):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        record, note = check_outcome(bomb(mapping=mapping).encode())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 20 << 20
    assert record is None and "别名" in note.diagnostics[0].message


TAGS = [
    "!!python/object/apply:os.system ['touch {m}']",
    "!!python/object/new:os.system ['touch {m}']",
    "!!python/object/apply:subprocess.call [['touch', '{m}']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {m}']",
    "&x !!python/object/apply:os.system ['touch {m}']",
]


@pytest.mark.parametrize("tag", TAGS)
def test_python_tags_are_never_executed(tmp_path, cli, vault, tag):
    marker = tmp_path / "pwned"
    evil = tag.format(m=marker)
    root = vault({"预约/APP-2026-001.md": f"---\n预约编号: APP-2026-001\n预约信息:\n  客户姓名: {evil}\n---\n",
                  "客户/C-0001.md": f"---\n客户编号: C-0001\n客户姓名: 张三\n标签: {evil}\n---\n"})
    record, note = check_outcome((root / "预约/APP-2026-001.md").read_bytes())
    result = cli(root, "check")
    assert not marker.exists()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "预约/APP-2026-001.md:4: 错误" in result.stdout and "标签" in result.stdout


def test_old_windows_gbk_note_is_reported_with_a_hint_by_check(cli, vault):
    gbk = "---\n预约编号: APP-2026-001\n预约信息:\n  客户姓名: 张三\n  预约日期: 2026-02-12\n---\n".encode("gbk")
    root = vault({"预约/APP-2026-001.md": gbk})
    result = cli(root, "check")
    assert result.exit_code == 1
    line = next(l for l in result.stdout.splitlines() if l.startswith("预约/APP-2026-001.md:"))
    assert "UTF-8" in line and "GBK" in line


DEEP = {
    "flow lists": "a: " + "[" * 100_000 + "]" * 100_000,
    "flow mappings": "a: " + "{a: " * 100_000 + "}" * 100_000,
    "compact sequences": "a:\n" + "- " * 100_000 + "x",
    "block mappings": "".join(" " * i + f"k{i}:\n" for i in range(1200)),
    "deep but small": "a: " + "[" * 70 + "]" * 70,
}
DEEP_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from vaultcrm.vault.reader import parse_note
    started = time.perf_counter()
    record, note = parse_note("deep.md", ("---\\n预约编号: APP-2026-001\\n" + sys.stdin.read() + "\\n---\\n").encode())
    print(json.dumps([record is None, [(d.line, d.severity.value, d.message) for d in note.diagnostics],
                      time.perf_counter() - started]))
""")
CHINESE = re.compile("[\u4e00-\u9fff]")


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_is_refused_without_crashing_the_process(body):
    # In a child process: libyaml used to overflow the C stack here, a segfault no `except` can catch.
    proc = subprocess.run([sys.executable, "-c", DEEP_SCRIPT], input=body, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-500:]
    import json

    rejected, diagnostics, seconds = json.loads(proc.stdout)
    # Whichever layer refuses it (our bounds, the fast parser, libyaml's own limit): one error, on the
    # frontmatter's first line, in Chinese, the same with every PyYAML/libyaml version.
    assert rejected and len(diagnostics) == 1, diagnostics
    line, severity, message = diagnostics[0]
    assert (line, severity) == (2, "error") and CHINESE.search(message) and "nesting" not in message, message
    assert seconds < 2


@pytest.mark.parametrize("where", ["no ID key", "ID key after it", "ID key before it"])
def test_a_note_too_deep_to_parse_is_reported_by_check_with_or_without_an_id(tmp_path, where):
    deep = "a: " + "[" * 2000 + "]" * 2000 + "\n"
    fm = {"no ID key": deep, "ID key after it": deep + "预约编号: APP-2026-001\n",
          "ID key before it": "预约编号: APP-2026-001\n" + deep}[where]
    root = tmp_path / "库"
    (root / "预约").mkdir(parents=True)
    (root / "预约" / "深.md").write_text("---\n" + fm + "---\n正文\n", encoding="utf-8")
    (root / "随手记.md").write_text("---\ntags: [日记]\n---\n今天\n", encoding="utf-8")  # an ordinary note
    proc = run_cli("--vault", str(root), "check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    import json

    found = json.loads(proc.stdout)
    assert [(d["path"], d["line"], d["severity"]) for d in found] == [("预约/深.md", 2, "error")], found
    assert CHINESE.search(found[0]["message"])
    assert not (root / ".vaultcrm" / "logs" / "crash.log").exists()


def test_rough_depth_bounds_what_a_parser_would_find():
    for text, depth in [("a: b\n", 1), ("a: [[1]]\n", 3), ("a:\n  b:\n    - - c\n", 3)]:
        assert bounds.rough_depth(text) >= depth
    with pytest.raises(bounds.TooComplex):
        bounds.refuse_if_deep("a: " + "{" * 70)
    bounds.refuse_if_deep("a: [1, 2\n")  # a syntax error, not a deep note: left to the parser's message


def test_non_mapping_frontmatter_and_nul_bytes_are_errors_with_lines():
    _, note = check_outcome('---\n"预约编号: APP-2026-001"\n---\n'.encode())
    assert [(d.line, d.message) for d in note.diagnostics] == [(2, "frontmatter 应为键值映射（key: value）")]
    _, note = check_outcome("---\n预约编号: APP-2026-001\n预约信息:\n  客户姓名: 张\x00三\n---\n".encode())
    assert [(d.line, d.message) for d in note.diagnostics] == [(4, "含有不允许的控制字符（U+0000），请删除")]
    record, note = check_outcome("---\n预约编号: APP-2026-001\n---\n正文\x00里有 NUL\n".encode())
    assert record is not None and record.id == "APP-2026-001"


FIFTY_MB = 50 << 20


@pytest.mark.parametrize("shape", ["body", "unclosed", "frontmatter"])
def test_fifty_megabyte_notes_are_read_in_bounded_time(shape):
    head = "---\n预约编号: APP-2026-001\n预约信息:\n  客户姓名: 张三\n".encode()
    raw = {"body": head + b"---\n" + b"x" * FIFTY_MB,
           "unclosed": head + b"y" * FIFTY_MB,
           "frontmatter": head + b"a: b\n" * (FIFTY_MB // 5) + b"---\n"}[shape]
    started = time.perf_counter()
    record, note = check_outcome(raw)
    assert time.perf_counter() - started < 2
    if shape == "body":
        assert record is not None and record.info.customer_name == "张三"
    else:
        assert record is None and note.diagnostics[0].severity.value == "error"


def test_fifty_megabyte_file_in_a_vault_is_checked_quickly(cli, vault):
    root = vault({"预约/APP-2026-002.md": "---\n预约编号: APP-2026-002\n预约信息:\n  客户姓名: 李四\n---\n"})
    with open(root / "预约" / "APP-2026-001.md", "wb") as fh:
        fh.write("---\n预约编号: APP-2026-001\n".encode())
        fh.write(b"z" * FIFTY_MB)
    record, note = read_note(root, "预约/APP-2026-001.md")
    assert "缺少结束" in note.diagnostics[0].message
    result = cli(root, "check")
    assert result.exit_code == 1 and "预约/APP-2026-001.md:1: 错误" in result.stdout
    assert "预约 1" in result.stdout  # the other note still counts


def test_bounds_skip_ordinary_notes():
    """The guards cost nothing for the template-sized note (they are on every load's hot path)."""
    ordinary = "预约编号: APP-2026-001\n" + "k: [a, b]\n" * 20
    assert bounds._openers(ordinary) <= bounds.MAX_DEPTH and ordinary.count("\n") <= bounds.MAX_DEPTH
    bounds.check_text(ordinary)
    bounds.check_data(ordinary, {"k": ["a", "b"]})


# -- a vault of every hostile note, through every command ---------------------------------------

HOSTILE = {
    "预约/bomb.md": bomb(),
    "预约/tag.md": "---\n预约编号: APP-2026-010\n预约信息:\n  客户姓名: !!python/object/apply:os.system ['true']\n---\n",
    "预约/gbk.md": "---\n预约编号: APP-2026-011\n预约信息:\n  客户姓名: 王五\n---\n".encode("gbk"),
    "预约/deep.md": "---\n预约编号: APP-2026-012\na: " + "[" * 5000 + "]" * 5000 + "\n---\n",
    "预约/nul.md": "---\n预约编号: APP-2026-013\n预约信息:\n  客户姓名: a\x00b\n---\n",
    "预约/list.md": '---\n"预约编号: APP-2026-014"\n---\n',
    "预约/tabs.md": "---\n预约编号: APP-2026-015\n预约信息:\n\t客户姓名: 张三\n---\n",
    "预约/open.md": "---\n预约编号: APP-2026-016\n预约信息:\n  客户姓名: 张三\n",
    "预约/crlf-bom.md": "\ufeff---\r\n预约编号: APP-2026-017\r\n预约信息:\r\n  客户姓名: 张三\r\n  客户编号: C-0001\r\n"
                       "  预约日期: 2026-02-12\r\n  预约时间: '10:00'\r\n服务信息:\r\n  服务项目: 全身推拿\r\n---\r\n",
    "预约/values.md": "---\n预约编号: APP-2026-018\n预约信息:\n  客户姓名: 张三\n  预约日期: 2026-02-30\n"
                     "  预约时间: 99:99\n  预约渠道: 飞鸽传书\n服务信息:\n  服务时长: -5分钟\n  预计费用: 1e999\n---\n",
    "服务记录/SRV-2026-001.md": "---\n服务编号: SRV-2026-001\n服务基本信息: [1, 2]\n客户信息: ~\n---\n",
    "客户/C-0001 张三.md": "---\n客户编号: C-0001\n客户姓名: 张三\n联系方式: 13800138000\n健康档案: {过敏史: *x}\n---\n",
    "客户/C-0002 李四.md": "---\n客户编号: C-0002\n客户姓名: 李四\n套餐: [{名称: [1]}, 5, ~]\n积分: 很多\n---\n",
    "随手记/empty.md": b"",
    "随手记/deep-no-id.md": "---\na: " + "[" * 2000 + "]" * 2000 + "\n---\n",
    "随手记/binary.md": bytes(range(256)) * 4,
}

COMMANDS = [
    ["check"], ["check", "--format", "json"], ["stats", "--at", "2026-02-12 18:00"],
    ["stats", "--date", "2026-02-12", "--format", "json"], ["stats", "--month", "2026-02", "--format", "json"],
    ["book", "--customer", "张三", "--date", "2026-02-13", "--time", "10:00", "--service", "全身推拿",
     "--at", "2026-02-12 10:00"],
    ["status", "APP-2026-017", "已确认"], ["log", "APP-2026-017", "--at", "2026-02-12 11:00"],
    ["follow", "list", "--at", "2026-02-12 10:00"], ["remind", "--at", "2026-02-12 08:00"],
    ["customer", "list"], ["customer", "show", "C-0001"], ["customer", "tag", "--at", "2026-02-12"],
    ["report", "services", "--at", "2026-02-12 10:00"], ["export", "csv"],
    ["backup", "--at", "2026-02-12 10:00"], ["backup", "list"], ["customer", "forget", "C-0002"],
    ["purge", "--at", "2030-01-01 10:00"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_hostile_vault_never_shows_a_traceback(cli, vault, args):
    root = vault(HOSTILE)
    result = cli(root, *args)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "意外错误" not in result.output, result.output
    assert not (root / ".vaultcrm" / "logs" / "crash.log").exists(), result.output


def test_hostile_vault_check_names_every_bad_note(cli, vault):
    root = vault(HOSTILE)
    out = cli(root, "check").stdout
    for path in ["预约/bomb.md:2", "预约/tag.md:4", "预约/gbk.md", "预约/deep.md:2", "预约/nul.md:4", "预约/list.md:2",
                 "预约/tabs.md:4", "预约/open.md:1", "预约/values.md:6", "服务记录/SRV-2026-001.md:3",
                 "随手记/deep-no-id.md:2"]:
        assert path in out, path
    assert "预约/crlf-bom.md:2: 错误" not in out and "crlf-bom.md:1: 错误" not in out  # BOM and CRLF are fine


def test_unexpected_error_is_one_line_and_a_crash_log(cli, vault, monkeypatch):
    import vaultcrm.core.loader as loader

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(loader, "load_vault", broken)
    root = vault({})
    result = cli(root, "check")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "意外错误" in lines[0] and "injected failure" in lines[0]
    log = root / ".vaultcrm" / "logs" / "crash.log"
    assert str(log) in lines[0]
    assert "Traceback" not in result.output
    assert "RuntimeError: injected failure" in log.read_text(encoding="utf-8")


def test_subprocess_with_hostile_vault_exits_cleanly(vault):
    root = vault(HOSTILE)
    for args in (["check"], ["stats", "--date", "2026-02-12"]):
        proc = run_cli("--vault", str(root), *args)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stdout + proc.stderr
