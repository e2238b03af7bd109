"""The field-wise merge itself (chain/merge.py), without git: what the merge driver writes for a note."""

from __future__ import annotations

from vaultcrm.chain.merge import OTHER_VERSION_HEADING, merge_notes

BASE = """---
客户编号: C-0001
客户姓名: 张三
# 前台手写的注释
偏好设置:
  偏好时段: 14:00
健康档案:
  健康关注: 腰
标签:
  - 老客
状态更新:
  - 2026-11-20 10:00 已确认
---

## 备注
第一行
"""


def edited(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_times_stay_text_and_untouched_lines_stay_as_written():
    ours = edited(BASE, ("健康关注: 腰", "健康关注: 腰、肩"))
    theirs = edited(BASE, ("客户姓名: 张三", "客户姓名: 张三丰"))
    result = merge_notes(BASE, ours, theirs)
    assert result.clean
    assert "客户姓名: 张三丰" in result.text and "健康关注: 腰、肩" in result.text
    assert "偏好时段: 14:00" in result.text  # not 840: no base-60 numbers
    assert "# 前台手写的注释" in result.text
    assert result.text.endswith("## 备注\n第一行\n")
    moved = merge_notes(BASE, edited(BASE, ("偏好时段: 14:00", "偏好时段: 15:30")), theirs)
    assert "15:30" in moved.text and "930" not in moved.text and "客户姓名: 张三丰" in moved.text


def test_lists_become_the_union_in_time_order_and_a_true_conflict_takes_the_later_edit():
    ours = edited(BASE, ("  - 2026-11-20 10:00 已确认", "  - 2026-11-20 10:00 已确认\n  - 2026-11-21 09:30 服务中"),
                  ("  - 老客", "  - 老客\n  - 肩颈"), ("健康关注: 腰", "健康关注: 腰痛"))
    theirs = edited(BASE, ("  - 2026-11-20 10:00 已确认", "  - 2026-11-20 10:00 已确认\n  - 2026-11-20 18:00 改期"),
                    ("  - 老客", "  - 老客\n  - 会员"), ("健康关注: 腰", "健康关注: 颈椎"))
    result = merge_notes(BASE, ours, theirs, later="theirs")
    body = result.text
    assert body.index("2026-11-20 10:00 已确认") < body.index("2026-11-20 18:00 改期") < body.index("2026-11-21 09:30 服务中")
    assert "- 肩颈" in body and "- 会员" in body and "- 老客" in body
    assert "健康关注: 颈椎" in body and "腰痛" not in body
    assert [(c.field, c.kept) for c in result.conflicts] == [("健康档案.健康关注", "theirs")]


def test_both_bodies_changed_keeps_the_later_and_the_other_below_without_markers():
    ours = edited(BASE, ("第一行", "我方改的第一行"))
    theirs = edited(BASE, ("第一行", "对方改的第一行"))
    result = merge_notes(BASE, ours, theirs, later="ours", other_label="较早的一次编辑")
    assert result.body_kept_both and "<<<<<<<" not in result.text
    assert result.text.index("我方改的第一行") < result.text.index(OTHER_VERSION_HEADING) < result.text.index("对方改的第一行")


def test_a_side_whose_yaml_is_broken_competes_as_a_whole_note_and_nothing_is_lost():
    ours = edited(BASE, ("客户姓名: 张三", "客户姓名: [张三"))
    theirs = edited(BASE, ("健康关注: 腰", "健康关注: 颈"))
    result = merge_notes(BASE, ours, theirs, later="theirs")
    assert "<<<<<<<" not in result.text
    assert "健康关注: 颈" in result.text and "客户姓名: [张三" in result.text
