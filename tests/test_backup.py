"""`vaultcrm backup`, `backup list` and `restore`: dated archives, daily retention, careful restores."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from vaultcrm.cli import options as options_cli
from vaultcrm.privacy import backup as core
from vaultcrm.privacy.backup import apply_restore, plan_restore

APP = """---
预约编号: {id}
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  预约日期: 2026-02-12
  预约时间: '10:00'
服务信息:
  服务项目: 全身推拿
预约状态:
  当前状态: 待服务
---

# {id} 张三
"""
PROFILE = "---\n客户编号: C-0001\n客户姓名: 张三\n联系方式: '13800138000'\n---\n\n# C-0001 张三\n"
FILES = {
    "预约/APP-2026-001.md": APP.format(id="APP-2026-001"),
    "预约/APP-2026-002.md": APP.format(id="APP-2026-002"),
    "客户/C-0001 张三.md": PROFILE,
    "随手记/想法.md": "今天很忙\n",
    ".obsidian/app.json.md": "not ours",
    ".trash/old.md": "deleted",
    ".vaultcrm/cache/x.md": "cache",
}
CONFIG = "店名: 测试馆\n"


def members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def backups(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".vaultcrm" / "backups").iterdir())


def test_backup_holds_every_note_and_the_config_and_nothing_else(cli, vault):
    root = vault(FILES, config=CONFIG)
    result = cli(root, "backup", "--at", "2026-02-12 10:30")
    assert result.exit_code == 0, result.output
    assert "已备份 5 个文件 → .vaultcrm/backups/vaultcrm-2026-02-12-103000.zip" in result.stdout
    archive = root / ".vaultcrm" / "backups" / "vaultcrm-2026-02-12-103000.zip"
    assert members(archive) == {rel: (root / rel).read_bytes() for rel in
                                ("预约/APP-2026-001.md", "预约/APP-2026-002.md", "客户/C-0001 张三.md", "随手记/想法.md",
                                 "vaultcrm.yaml")}
    assert backups(root) == ["vaultcrm-2026-02-12-103000.zip"]  # no temp file left


def test_one_backup_per_day_for_the_last_seven_days(cli, vault):
    root = vault(FILES)
    for day in range(1, 11):
        for hour in (9, 18):
            assert cli(root, "backup", "--at", f"2026-02-{day:02d} {hour}:00").exit_code == 0
    assert backups(root) == [f"vaultcrm-2026-02-{day:02d}-180000.zip" for day in range(4, 11)]
    result = cli(root, "backup", "--keep", "2", "--at", "2026-02-11 08:00")
    assert backups(root) == ["vaultcrm-2026-02-10-180000.zip", "vaultcrm-2026-02-11-080000.zip"]
    assert "已删除过期备份 vaultcrm-2026-02-09-180000.zip" in result.stdout


def test_a_second_backup_in_the_same_second_gets_its_own_name_and_wins(vault):
    root = vault(FILES)
    import datetime as dt

    now = dt.datetime(2026, 2, 12, 10, 0)
    first = core.create_backup(root, now, keep=7)
    second = core.create_backup(root, now, keep=7)
    assert second.archive.name == "vaultcrm-2026-02-12-100000-2.zip"
    assert second.pruned == [first.archive]  # one a day: the later one stays


def test_keep_must_be_positive(cli, vault):
    result = cli(vault(FILES), "backup", "--keep", "0")
    assert result.exit_code == 1 and "--keep" in result.stderr


def test_backup_list_newest_first(cli, vault):
    root = vault(FILES)
    assert cli(root, "backup", "list").stdout.startswith("还没有备份")
    for at in ("2026-02-10 09:00", "2026-02-12 09:00", "2026-02-11 09:00"):
        cli(root, "backup", "--at", at)
    out = cli(root, "backup", "list").stdout
    names = [line.split()[0] for line in out.splitlines() if "vaultcrm-2026" in line]
    assert names == ["vaultcrm-2026-02-12-090000.zip", "vaultcrm-2026-02-11-090000.zip",
                     "vaultcrm-2026-02-10-090000.zip"]
    assert "日常备份" in out


@pytest.fixture
def damaged(cli, vault):
    """A vault backed up, then damaged: one note edited, one deleted, one added since."""
    root = vault(FILES, config=CONFIG)
    assert cli(root, "backup", "--at", "2026-02-12 10:00").exit_code == 0
    (root / "预约/APP-2026-001.md").write_text("---\n预约编号: APP-2026-001\n---\n被误删了一半", encoding="utf-8")
    (root / "客户/C-0001 张三.md").unlink()
    (root / "预约/APP-2026-003.md").write_text(APP.format(id="APP-2026-003"), encoding="utf-8")
    return root


def test_restore_without_yes_only_previews(cli, damaged):
    before = {p: p.read_bytes() for p in damaged.rglob("*.md")}
    result = cli(damaged, "restore", "vaultcrm-2026-02-12-100000.zip")
    assert result.exit_code == 1
    assert "将覆盖 1 个：\n  预约/APP-2026-001.md" in result.stdout
    assert "将新增 1 个：\n  客户/C-0001 张三.md" in result.stdout
    assert "内容相同、不变 3 个；库中另有 1 个笔记不在备份中，保持不动" in result.stdout
    assert "未恢复（仅预览）" in result.stderr and "--yes" in result.stderr
    assert {p: p.read_bytes() for p in damaged.rglob("*.md")} == before
    assert backups(damaged) == ["vaultcrm-2026-02-12-100000.zip"]


def test_restore_brings_files_back_after_a_safety_backup(cli, damaged):
    damaged_app = (damaged / "预约/APP-2026-001.md").read_bytes()
    result = cli(damaged, "restore", "vaultcrm-2026-02-12-100000.zip", "--yes", "--at", "2026-02-12 11:00")
    assert result.exit_code == 0, result.output
    assert "已先备份当前状态 → .vaultcrm/backups/vaultcrm-2026-02-12-110000-before-restore.zip" in result.stdout
    assert "已恢复 2 个文件" in result.stdout
    assert (damaged / "预约/APP-2026-001.md").read_text(encoding="utf-8") == FILES["预约/APP-2026-001.md"]
    assert (damaged / "客户/C-0001 张三.md").read_text(encoding="utf-8") == PROFILE
    assert (damaged / "预约/APP-2026-003.md").exists()  # newer than the backup: kept
    safety = members(damaged / ".vaultcrm/backups/vaultcrm-2026-02-12-110000-before-restore.zip")
    assert safety["预约/APP-2026-001.md"] == damaged_app and "客户/C-0001 张三.md" not in safety
    assert cli(damaged, "check").exit_code == 0
    again = cli(damaged, "restore", "vaultcrm-2026-02-12-100000.zip", "--yes")
    assert again.exit_code == 0 and "当前库与备份一致，无需恢复" in again.stdout


def test_restore_asks_on_a_terminal(cli, damaged, monkeypatch):
    monkeypatch.setattr(options_cli, "interactive", lambda: True)
    no = cli(damaged, "restore", "vaultcrm-2026-02-12-100000.zip", input="n\n")
    assert no.exit_code == 1 and "确认恢复？" in no.output and "已取消" in no.output
    assert not (damaged / "客户/C-0001 张三.md").exists()
    yes = cli(damaged, "restore", "vaultcrm-2026-02-12-100000.zip", input="y\n")
    assert yes.exit_code == 0 and (damaged / "客户/C-0001 张三.md").exists()


def test_a_note_saved_after_the_preview_is_not_overwritten(damaged):
    import datetime as dt

    plan = plan_restore(damaged, damaged / ".vaultcrm/backups/vaultcrm-2026-02-12-100000.zip")
    (damaged / "预约/APP-2026-001.md").write_text("saved in Obsidian meanwhile", encoding="utf-8")
    result = apply_restore(damaged, plan, dt.datetime(2026, 2, 12, 11))
    assert result.skipped == ["预约/APP-2026-001.md"] and result.written == ["客户/C-0001 张三.md"]
    assert (damaged / "预约/APP-2026-001.md").read_text(encoding="utf-8") == "saved in Obsidian meanwhile"


def files_outside_cache(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and ".vaultcrm/cache" not in p.as_posix()}


def evil_zip(path: Path, names: list[str], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("预约/APP-2026-009.md", APP.format(id="APP-2026-009"))
        for name in names:
            zf.writestr(name, "pwned")
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("names,symlink", [
    (["../escape.md"], None), (["/tmp/abs.md"], None), (["预约/../../escape.md"], None), (["C:\\evil.md"], None),
    (["预约\\..\\..\\evil.md"], None), ([".obsidian/app.md"], None), ([".vaultcrm/templates/appointment.md.j2"], None),
    (["run.sh"], None), ([], "预约/link.md"),
])
def test_restore_refuses_archives_with_unsafe_members(cli, vault, tmp_path, names, symlink):
    root = vault(FILES)
    archive = evil_zip(tmp_path / "evil.zip", names, symlink)
    before = files_outside_cache(tmp_path)
    result = cli(root, "restore", str(archive), "--yes")
    assert result.exit_code == 1
    assert "备份中有不安全的文件，已拒绝恢复，未写入任何内容" in result.stderr
    assert files_outside_cache(tmp_path) == before  # not even the safe member
    assert not (root / ".vaultcrm" / "backups").exists()


def test_restore_refuses_an_archive_that_would_fill_the_disk(cli, vault, tmp_path, monkeypatch):
    monkeypatch.setattr(core, "MAX_RESTORE_BYTES", 100)
    root = vault(FILES)
    result = cli(root, "restore", str(evil_zip(tmp_path / "big.zip", [])), "--yes")
    assert result.exit_code == 1 and "不像是笔记备份" in result.stderr
    assert not (root / "预约/APP-2026-009.md").exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", "备份".encode()])
def test_restore_of_a_broken_or_missing_archive_is_a_clear_message(cli, vault, tmp_path, content):
    root = vault(FILES)
    (tmp_path / "bad.zip").write_bytes(content)
    result = cli(root, "restore", str(tmp_path / "bad.zip"), "--yes")
    assert result.exit_code == 1 and "不是有效的备份文件" in result.stderr
    missing = cli(root, "restore", "vaultcrm-1999-01-01-000000.zip")
    assert missing.exit_code == 1 and "找不到备份" in missing.stderr and "backup list" in missing.stderr


def test_restore_of_an_archive_with_a_corrupt_member_stops_cleanly(cli, vault, tmp_path):
    root = vault(FILES)
    archive = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("预约/APP-2026-009.md", APP.format(id="APP-2026-009") + "备注" * 2000)
    data = bytearray(archive.read_bytes())
    for i in range(80, 120):  # inside the compressed data of the only member
        data[i] ^= 0xFF
    archive.write_bytes(bytes(data))
    result = cli(root, "restore", str(archive), "--yes")
    assert result.exit_code == 1 and "已损坏" in result.stderr and "Traceback" not in result.output
    assert not (root / "预约/APP-2026-009.md").exists()
