"""`vaultcrm stats` with nothing changed since its last finished run renders nothing (stats/freshness.py),
and every kind of change still brings the derived notes up to date."""

from __future__ import annotations

import os
import shutil

import pytest
from stats_data import GOLDEN

import vaultcrm.stats.refresh as refresh
from vaultcrm.core.render import templates_dir

AT = ("--at", "2026-02-12 18:00")
DAILY = "统计/日报/2026-02-12.md"
MONTHLY = "统计/月报/2026-02.md"
DIGEST = ".vaultcrm/stats-digest"


@pytest.fixture
def golden(vault, cli):
    root = vault(GOLDEN)
    first = cli(root, "stats", *AT)
    assert first.exit_code == 0 and "有变化" in first.stdout, first.output
    return root


@pytest.fixture
def renders(monkeypatch):
    """How many times `stats` rendered the statistics notes."""
    calls = []
    real = refresh.update_statistics

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(refresh, "update_statistics", counted)
    return calls


def test_nothing_changed_renders_nothing(golden, cli, renders):
    result = cli(golden, "stats", *AT)
    assert result.exit_code == 0 and "统计笔记已是最新，无需改动" in result.stdout
    assert renders == []
    assert "客户档案" not in result.stdout


def test_a_same_size_edit_with_its_mtime_restored_is_counted(golden, cli, renders):
    """A sync tool may restore the mtime of a same-size edit: the ctime still moves."""
    path = golden / "服务记录/SRV-2026-001.md"
    before = os.stat(path)
    text = path.read_text(encoding="utf-8")
    edited = text.replace("服务时长: 50分钟", "服务时长: 40分钟")
    assert edited != text and len(edited.encode()) == before.st_size
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "| 平均服务时长 | 48分钟 |" in (golden / MONTHLY).read_text(encoding="utf-8")
    result = cli(golden, "stats", *AT)
    assert result.exit_code == 0 and renders == [1]
    assert f"已更新 {MONTHLY}" in result.stdout
    assert "| 平均服务时长 | 46分钟 |" in (golden / MONTHLY).read_text(encoding="utf-8")


def test_a_derived_note_edited_or_deleted_by_hand_is_written_again(golden, cli, renders):
    note = golden / DAILY
    made = note.read_text(encoding="utf-8")
    note.write_text(made.replace("实际服务数 | 3", "实际服务数 | 30"), encoding="utf-8")
    assert note.read_text(encoding="utf-8") != made
    assert cli(golden, "stats", *AT).exit_code == 0
    assert note.read_text(encoding="utf-8") == made
    (golden / MONTHLY).unlink()
    result = cli(golden, "stats", *AT)
    assert f"已更新 {MONTHLY}" in result.stdout and (golden / MONTHLY).exists()
    assert len(renders) == 2
    assert "已是最新" in cli(golden, "stats", *AT).stdout and len(renders) == 2


def test_another_day_settings_or_template_is_a_change(golden, cli, renders):
    assert cli(golden, "stats", "--at", "2026-02-13 09:00").exit_code == 0  # the dashboard's 今日 moves
    assert len(renders) == 1
    config = golden / "vaultcrm.yaml"
    old = config.read_text(encoding="utf-8") if config.exists() else ""
    config.write_text(old + "\n缓冲时间: 15分钟\n", encoding="utf-8")
    assert cli(golden, "stats", "--at", "2026-02-13 09:00").exit_code == 0
    assert len(renders) == 2
    override = golden / ".vaultcrm/templates"
    override.mkdir(parents=True)
    shutil.copy(templates_dir() / "daily_stats.md.j2", override / "daily_stats.md.j2")
    with open(override / "daily_stats.md.j2", "a", encoding="utf-8") as fh:
        fh.write("\n本店自定义页脚\n")
    result = cli(golden, "stats", "--at", "2026-02-13 09:00")
    assert result.exit_code == 0 and len(renders) == 3
    assert "本店自定义页脚" in (golden / DAILY).read_text(encoding="utf-8")


def test_a_note_edited_during_a_run_is_seen_by_the_next(golden, cli, monkeypatch):
    """The digest keeps the stamps the run loaded, so an edit made meanwhile is not taken as counted."""
    real = refresh.update_statistics
    path = golden / "服务记录/SRV-2026-001.md"
    (golden / "预约/APP-2026-001.md").write_text(
        (golden / "预约/APP-2026-001.md").read_text(encoding="utf-8"), encoding="utf-8")  # something to do

    def edit_meanwhile(vault, **kwargs):
        written = real(vault, **kwargs)
        path.write_text(path.read_text(encoding="utf-8").replace("服务时长: 50分钟", "服务时长: 40分钟"),
                        encoding="utf-8")
        return written

    monkeypatch.setattr(refresh, "update_statistics", edit_meanwhile)
    assert cli(golden, "stats", *AT).exit_code == 0
    assert "| 平均服务时长 | 48分钟 |" in (golden / MONTHLY).read_text(encoding="utf-8")
    monkeypatch.setattr(refresh, "update_statistics", real)
    result = cli(golden, "stats", *AT)
    assert f"已更新 {MONTHLY}" in result.stdout
    assert "| 平均服务时长 | 46分钟 |" in (golden / MONTHLY).read_text(encoding="utf-8")


def test_a_planted_digest_is_not_trusted(golden, cli, renders, tmp_path):
    """A symlink out of the vault is neither read nor written through; junk only means a full run."""
    outside = tmp_path / "elsewhere.txt"
    digest = golden / DIGEST
    outside.write_bytes(digest.read_bytes())
    digest.unlink()
    digest.symlink_to(outside)
    (golden / DAILY).unlink()
    assert cli(golden, "stats", *AT).exit_code == 0 and len(renders) == 1
    assert (golden / DAILY).exists() and not digest.is_symlink()
    assert outside.read_bytes() != digest.read_bytes()  # the new digest went into the vault, not through the link
    digest.write_bytes(b"\x00not a digest" * 100)
    assert cli(golden, "stats", *AT).exit_code == 0 and len(renders) == 2
    assert "已是最新" in cli(golden, "stats", *AT).stdout and len(renders) == 2


def test_a_run_that_left_a_profile_unwritten_leaves_no_digest(golden, cli, renders, monkeypatch):
    """A profile open in Obsidian is skipped and named; the next run tries it again."""
    from vaultcrm.core import store
    from vaultcrm.errors import ConcurrentChangeError

    profile = golden / "客户/C-0001 张三.md"
    text = profile.read_text(encoding="utf-8")
    assert "积分: 198\n" in text
    profile.write_text(text.replace("积分: 198\n", "积分: 5\n"), encoding="utf-8")  # what the rules set, undone

    def busy(*args, **kwargs):
        raise ConcurrentChangeError("busy")

    monkeypatch.setattr("vaultcrm.customers.profiles.update_record", busy)
    result = cli(golden, "stats", *AT)
    assert result.exit_code == 0 and "客户档案 C-0001 未更新" in result.stdout, result.output
    assert not (golden / DIGEST).exists()
    monkeypatch.setattr("vaultcrm.customers.profiles.update_record", store.update_record)
    again = cli(golden, "stats", *AT)
    assert "客户档案的标签、会员等级或积分已更新：1 位" in again.stdout, again.output
    assert "积分: 198\n" in profile.read_text(encoding="utf-8")
    assert (golden / DIGEST).exists() and len(renders) == 2
