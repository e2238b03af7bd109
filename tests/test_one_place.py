"""One customer, one place: overlapping appointments of a customer, starts already past, early 未到店."""

from __future__ import annotations

import pytest
from booking_data import CONFIG, app_note, customer_note

APP1 = "预约/APP-2026-001.md"
AT = ("--at", "2026-02-11 10:00")
THU = ("--date", "2026-02-12")


def notes(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


@pytest.fixture
def studio(vault):
    """张三 has 全身推拿 14:00–15:00 with 李师傅 on Thursday 2026-02-12."""
    return vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
                  "客户/C-0002 李四.md": customer_note("C-0002", "李四", "13900139000"),
                  APP1: app_note("APP-2026-001", room="房间A")}, config=CONFIG)


def test_the_same_book_typed_twice_is_refused_the_second_time(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000")}, config=CONFIG)
    args = ("book", "-c", "张三", *THU, "-t", "14:00", "-s", "全身推拿", *AT)
    assert cli(root, *args).exit_code == 0
    before = notes(root)
    again = cli(root, *args)
    assert again.exit_code == 1
    assert ("无法预约 2026-02-12 14:00–15:00 全身推拿：客户 张三 同一时间已有预约 APP-2026-001 "
            "2026-02-12 14:00–15:00（全身推拿，李师傅，房间A）") in again.stderr
    assert "如确需安排，可加 --force" in again.stderr
    assert notes(root) == before


def test_force_books_the_overlap_and_says_so(studio, cli):
    result = cli(studio, "book", "-c", "张三", *THU, "-t", "14:30", "-s", "艾灸调理", "--technician", "张技师", "--force",
                 *AT)
    assert result.exit_code == 0, result.output
    assert "注意（--force）：客户 张三 同一时间已有预约 APP-2026-001" in result.stdout
    assert (studio / "预约/APP-2026-002.md").is_file()


@pytest.mark.parametrize("time,ok", [("15:00", True), ("13:15", True), ("14:59", False), ("13:16", False)])
def test_touching_appointments_of_one_customer_are_fine(studio, cli, time, ok):
    """艾灸调理 takes 45 minutes: 13:15–14:00 and 15:00–15:45 touch 14:00–15:00."""
    result = cli(studio, "book", "-c", "张三", *THU, "-t", time, "-s", "艾灸调理", "--technician", "张技师", *AT)
    assert result.exit_code == (0 if ok else 1), result.output
    if not ok:
        assert "客户 张三 同一时间已有预约 APP-2026-001" in result.stderr
        assert not (studio / "预约/APP-2026-002.md").exists()


@pytest.mark.parametrize("time,ok", [("15:10", True), ("15:09", False), ("12:50", True), ("12:51", False)])
def test_exactly_the_buffer_for_the_same_customer_and_technician(studio, cli, time, ok):
    result = cli(studio, "book", "-c", "张三", *THU, "-t", time, "-s", "全身推拿", "--technician", "李师傅", *AT)
    assert result.exit_code == (0 if ok else 1), result.output
    if not ok:
        assert "（同一技师的两个预约之间需间隔 10 分钟）" in result.stderr


def test_another_customer_at_the_same_time_is_no_concern_of_this_rule(studio, cli):
    result = cli(studio, "book", "-c", "李四", *THU, "-t", "14:00", "-s", "全身推拿", *AT)
    assert result.exit_code == 0, result.output
    assert "王师傅" in result.stdout


@pytest.mark.parametrize("status", ["已取消", "未到店", "已完成"])
def test_only_active_appointments_of_the_customer_count(vault, cli, status):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
                  APP1: app_note("APP-2026-001", status=status)}, config=CONFIG)
    result = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "艾灸调理", *AT)
    assert result.exit_code == 0, result.output


def test_the_customer_is_matched_by_phone_and_name_too(vault, cli):
    """A hand-made appointment without 客户编号 still belongs to the profile with its phone."""
    note = app_note("APP-2026-001", customer_id="")
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"), APP1: note}, config=CONFIG)
    result = cli(root, "book", "-c", "C-0001", *THU, "-t", "14:30", "-s", "艾灸调理", *AT)
    assert result.exit_code == 1 and "同一时间已有预约 APP-2026-001" in result.stderr


def test_the_suggested_times_keep_clear_of_the_customers_own(studio, cli):
    result = cli(studio, "book", "-c", "张三", *THU, "-t", "14:30", "-s", "艾灸调理", "--technician", "张技师", *AT)
    assert result.exit_code == 1
    assert "张技师 2026-02-12 最近的空闲时间：12:50、13:00、13:10、15:00、15:10、15:20" in result.stderr


# -- a start already past ---------------------------------------------------------------------------
@pytest.mark.parametrize("now,ok", [("2026-02-12 14:00", True), ("2026-02-12 13:59", True), ("2026-02-12 14:01", False),
                                    ("2026-02-13 09:00", False)])
def test_a_start_already_past_needs_force(vault, cli, now, ok):
    root = vault({}, config=CONFIG)
    args = ("book", "-c", "王五", *THU, "-t", "14:00", "-s", "拔罐", "--at", now)
    result = cli(root, *args)
    assert result.exit_code == (0 if ok else 1), result.output
    if not ok:
        assert f"开始时间 2026-02-12 14:00 已经过去（现在 {now}；到店后补登请用 vaultcrm log）" in result.stderr
        assert not (root / "预约").exists()
        forced = cli(root, *args, "--force")
        assert forced.exit_code == 0, forced.output
        assert "注意（--force）：开始时间 2026-02-12 14:00 已经过去" in forced.stdout


def test_suggestions_for_a_past_start_lie_ahead(vault, cli):
    root = vault({}, config=CONFIG)
    result = cli(root, "book", "-c", "王五", *THU, "-t", "14:00", "-s", "拔罐", "--technician", "李师傅",
                 "--at", "2026-02-12 14:25")
    assert result.exit_code == 1
    assert "李师傅 2026-02-12 最近的空闲时间：14:30、14:40、14:50" in result.stderr


def test_reschedule_into_the_past_or_onto_the_customers_own_needs_force(studio, cli):
    other = app_note("APP-2026-002", service="艾灸调理", minutes=45, technician="张技师", time="16:00")
    (studio / "预约/APP-2026-002.md").write_text(other, encoding="utf-8")
    before = notes(studio)
    overlap = cli(studio, "reschedule", "APP-2026-002", *THU, "-t", "14:30", *AT)
    assert overlap.exit_code == 1 and "客户 张三 同一时间已有预约 APP-2026-001" in overlap.stderr
    past = cli(studio, "reschedule", "APP-2026-002", *THU, "-t", "10:00", "--at", "2026-02-12 11:00")
    assert past.exit_code == 1 and "开始时间 2026-02-12 10:00 已经过去" in past.stderr
    assert notes(studio) == before
    moved = cli(studio, "reschedule", "APP-2026-002", *THU, "-t", "15:00", *AT)  # touching its own: fine
    assert moved.exit_code == 0, moved.output
    forced = cli(studio, "reschedule", "APP-2026-002", *THU, "-t", "14:30", "--force", *AT)
    assert forced.exit_code == 0, forced.output
    assert "强制" in (studio / "预约/APP-2026-002.md").read_text(encoding="utf-8")


def test_an_appointment_moved_within_its_own_time_does_not_clash_with_itself(studio, cli):
    result = cli(studio, "reschedule", "APP-2026-001", *THU, "-t", "14:30", *AT)
    assert result.exit_code == 0, result.output


# -- 未到店 only after the start ----------------------------------------------------------------------
@pytest.mark.parametrize("now,ok", [("2026-02-12 13:59", False), ("2026-02-12 14:00", True), ("2026-02-12 18:00", True)])
def test_no_show_is_refused_before_the_start(studio, cli, now, ok):
    before = (studio / APP1).read_bytes()
    result = cli(studio, "status", "APP-2026-001", "未到店", "--at", now)
    assert result.exit_code == (0 if ok else 1), result.output
    if ok:
        assert "  当前状态: 未到店\n" in (studio / APP1).read_text(encoding="utf-8")
    else:
        assert result.stderr.strip() == ("APP-2026-001 的开始时间 2026-02-12 14:00 还没到（现在 2026-02-12 13:59），"
                                         "不能标记为「未到店」；确需更改请加 --force")
        assert (studio / APP1).read_bytes() == before


def test_an_early_no_show_may_be_forced_and_is_recorded_as_forced(studio, cli):
    result = cli(studio, "status", "APP-2026-001", "no_show", "--force", "--by", "小李", "--at", "2026-02-12 09:00")
    assert result.exit_code == 0, result.output
    assert "    - '2026-02-12 09:00 待服务 → 未到店（小李，强制）'\n" in (studio / APP1).read_text(encoding="utf-8")


def test_other_statuses_may_change_before_the_start(studio, cli):
    assert cli(studio, "status", "APP-2026-001", "已取消", *AT).exit_code == 0
