"""The reader: records found by their ID key anywhere, problems as diagnostics with file lines."""

import re
import time

import pytest
from conftest import SEED

from vaultcrm.core.loader import load_vault
from vaultcrm.diagnostics import Severity
from vaultcrm.models import Appointment, FollowUp, ServiceRecord
from vaultcrm.vault.reader import parse_note

APP = """---
预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  联系方式: '13800138000'
  预约日期: 2026-02-12
  预约时间: '14:00'
  预约渠道: 电话
服务信息:
  服务项目: 耳穴调理
  服务时长: 30分钟
  预计费用: ¥198
  技师安排: 技师A
预约状态:
  当前状态: 待服务
---
body
"""


def parse(text: str | bytes):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return parse_note("n.md", raw)


def seed_blocks() -> list[str]:
    return re.findall(r"```yaml\n(---\n.*?)```", SEED.read_text(encoding="utf-8"), re.S)


def test_seed_templates_load_with_warnings_only():
    kinds = []
    for block in seed_blocks():
        record, note = parse(block + "---\n")
        assert record is not None, note.diagnostics
        assert note.diagnostics and all(d.severity is Severity.WARNING for d in note.diagnostics)
        kinds.append(record.kind)
    assert kinds == ["APP", "SRV", "FLW"]


def test_seed_placeholders_are_named_with_their_lines():
    record, note = parse(seed_blocks()[0] + "---\n")
    messages = {d.message: d.line for d in note.diagnostics}
    assert messages["服务信息.预计费用 未填写（仍是模板占位「¥」）"] == 14
    assert messages["特殊要求.力度要求 未填写（仍是模板占位「轻/中/重」）"] == 19
    assert record.info.time.strftime("%H:%M") == "14:00"  # bare 14:00 in the seed, 840 to PyYAML


def test_seed_followup_purposes_read_as_a_list():
    record, _ = parse(seed_blocks()[2] + "---\n")
    assert isinstance(record, FollowUp)
    assert record.content.purposes == ["服务效果确认", "客户感受了解", "后续服务建议"]


def test_obsidian_rewrite_reads_identically():
    """Obsidian's Properties panel drops quotes and comments: every value must survive."""
    rewritten = (APP.replace("'13800138000'", "13800138000").replace("'14:00'", "14:00")
                 .replace("¥198", "198"))
    original, _ = parse(APP)
    again, note = parse(rewritten)
    assert again == original
    assert not note.diagnostics


@pytest.mark.parametrize("transform", [
    lambda t: t.replace("\n", "\r\n"),
    lambda t: "\ufeff" + t,
    lambda t: t.replace("---\nbody", "...\nbody"),
])
def test_bom_crlf_and_end_marker(transform):
    record, note = parse(transform(APP))
    assert isinstance(record, Appointment) and record.info.customer_name == "张三", note.diagnostics


def test_foreign_notes_are_read_past_silently():
    for text in ["# just a note\n", "---\ntitle: 日记\n---\n", "---\n- a\n- b\n---\n", "---\n[broken\n---\n", "", "---\n"]:
        record, note = parse(text)
        assert record is None and note.diagnostics == [], text


def test_missing_closing_fence_is_reported():
    _, note = parse(APP.replace("---\nbody", "body"))
    assert [(d.line, d.message) for d in note.diagnostics] == [(1, "frontmatter 缺少结束的 --- 行")]


def test_tab_indentation_points_at_the_line():
    _, note = parse(APP.replace("  客户姓名: 张三", "\t客户姓名: 张三"))
    assert note.diagnostics[0].line == 4
    assert "Tab" in note.diagnostics[0].message


def test_gbk_file_gets_a_hint():
    _, note = parse(APP.replace("¥198", "198元").encode("gbk"))
    assert note.diagnostics[0].severity is Severity.ERROR
    assert "UTF-8" in note.diagnostics[0].message and "GBK" in note.diagnostics[0].message


def test_bad_value_is_reported_and_the_rest_kept():
    record, note = parse(APP.replace("预约日期: 2026-02-12", "预约日期: 下周二"))
    assert record is not None and record.info.date is None and record.info.customer_name == "张三"
    assert [(d.line, d.severity) for d in note.diagnostics] == [(7, Severity.ERROR)]
    assert "预约信息.预约日期" in note.diagnostics[0].message


def test_bad_id_drops_the_record():
    record, note = parse(APP.replace("APP-2026-001", "APP-26-1"))
    assert record is None and note.diagnostics[0].line == 2


def test_non_mapping_section_is_an_error_with_its_line():
    record, note = parse(APP.replace("服务信息:\n  服务项目: 耳穴调理", "服务信息: 耳穴调理\n  服务项目: 耳穴调理"))
    assert record is None or note.diagnostics
    assert note.diagnostics[0].severity is Severity.ERROR


def test_python_tags_are_never_constructed(tmp_path):
    marker = tmp_path / "pwned"
    evil = APP.replace("  客户姓名: 张三", f"  客户姓名: !!python/object/apply:os.system ['touch {marker}']")
    record, note = parse(evil)
    assert not marker.exists()
    assert note.diagnostics and "标签" in note.diagnostics[0].message


def test_alias_bomb_is_bounded():
    lines = ["预约编号: APP-2026-001", 'a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = "a" if i == 1 else f"a{i - 1}"
        lines.append(f"a{i}: &a{i} [{','.join(['*' + prev] * 9)}]")
    started = time.perf_counter()
    record, note = parse("---\n" + "\n".join(lines) + "\n---\n")
    assert time.perf_counter() - started < 2
    assert "别名" in note.diagnostics[0].message


def test_huge_body_is_not_read_past_the_frontmatter():
    record, note = parse(APP + "正文" * 5_000_000)
    assert record is not None and not note.diagnostics


def test_records_are_found_anywhere_and_problems_are_counted_from_the_top(vault):
    root = vault({
        "随手记/深/处/x.md": APP,
        "服务记录/y.md": "---\n服务编号: SRV-2026-001\n服务基本信息:\n  服务日期: 2026-02-12\n客户信息:\n"
                        "  客户姓名: 张三\n服务信息:\n  服务项目: 推拿\n---\n",
        ".trash/z.md": APP.replace("001", "002"),
        ".obsidian/w.md": APP.replace("001", "003"),
        "bad.md": APP.replace("APP-2026-001", "APP-2026-004").replace("  预约渠道: 电话", "  预约渠道: 飞鸽传书"),
    })
    loaded = load_vault(root)
    assert sorted(loaded.index.appointments) == ["APP-2026-001", "APP-2026-004"]
    assert isinstance(loaded.index.services["SRV-2026-001"], ServiceRecord)
    assert [str(d) for d in loaded.diagnostics] == [
        "bad.md:9: 错误：预约信息.预约渠道：无法识别的预约渠道「飞鸽传书」，可选：电话、微信、到店、在线"]


def test_impossible_date_is_a_diagnostic_not_a_crash():
    record, note = parse(APP.replace("预约日期: 2026-02-12", "预约日期: 2026-02-30"))
    assert record is not None and record.info.date is None
    assert [(d.line, d.severity) for d in note.diagnostics] == [(7, Severity.ERROR)]
    assert "2026-02-30" in note.diagnostics[0].message
