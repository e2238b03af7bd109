"""`vaultcrm backup` is complete or fails naming what it could not read; safety archives outlive rotation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_backup import APP, CONFIG, FILES, backups

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


def _no_archive_left(root: Path) -> None:
    folder = root / ".vaultcrm" / "backups"
    assert not folder.exists() or [p.name for p in folder.iterdir()] == []


def test_a_file_name_that_is_not_utf8_fails_the_backup_naming_it(cli, vault):
    root = vault(FILES, config=CONFIG)
    os.makedirs(os.path.join(os.fsencode(root), "预约".encode()), exist_ok=True)
    with open(os.path.join(os.fsencode(root), "预约".encode(), b"APP-\xff.md"), "wb") as fh:
        fh.write(APP.format(id="APP-2026-009").encode())
    result = cli(root, "backup", "--at", "2026-02-12 10:30")
    assert result.exit_code == 1
    assert "备份失败" in result.stderr and "未生成备份" in result.stderr
    assert "预约/APP-\ufffd.md：文件名不是有效的 UTF-8" in result.stderr
    assert "已备份" not in result.stdout and "Traceback" not in result.output
    _no_archive_left(root)


def test_a_note_whose_read_fails_fails_the_backup_and_keeps_older_archives(cli, vault, monkeypatch):
    root = vault(FILES, config=CONFIG)
    for day in range(1, 4):
        assert cli(root, "backup", "--at", f"2026-02-0{day} 18:00").exit_code == 0
    before = backups(root)
    real_open = os.open
    victim = str(root / "客户" / "C-0001 张三.md")

    def failing_open(file, *args, **kwargs):  # notes are read through os.open (vault/writer.py)
        if isinstance(file, (str, bytes, os.PathLike)) and os.fspath(file) == victim:
            raise PermissionError(13, "Permission denied", victim)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)
    result = cli(root, "backup", "--keep", "1", "--at", "2026-02-12 10:30")
    monkeypatch.setattr(os, "open", real_open)
    assert result.exit_code == 1
    assert "客户/C-0001 张三.md：Permission denied" in result.stderr
    assert "已备份" not in result.stdout and "已删除过期备份" not in result.stdout
    assert backups(root) == before  # nothing new, and the failed run pruned nothing


def _run_as_unprivileged(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m vaultcrm` as a user who cannot read a chmod 000 file (root can read anything)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "LANG": "C.UTF-8",
           "PYTHONPATH": str(REPO / "src")}
    drop = [] if os.geteuid() else ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run([*drop, sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def shared_vault():
    """A vault the unprivileged user owns (tmp_path is private to root)."""
    top = Path(tempfile.mkdtemp(prefix="vaultcrm-backup-"))
    os.chmod(top, 0o755)
    root = top / "vault"
    root.mkdir()
    yield root
    shutil.rmtree(top, ignore_errors=True)


def _chown_all(root: Path) -> None:
    if os.geteuid() != 0:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)):
            os.chown(name, NOBODY, NOBODY)


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None, reason="needs setpriv to drop root")
@pytest.mark.parametrize("what", ["file", "folder"])
def test_an_unreadable_note_or_folder_fails_the_backup(shared_vault, what):
    root = shared_vault
    for rel, text in {**FILES, "vaultcrm.yaml": CONFIG}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    _chown_all(root)
    locked = root / ("客户/C-0001 张三.md" if what == "file" else "客户")
    locked.chmod(0)
    try:
        result = _run_as_unprivileged(root, "backup", "--at", "2026-02-12 10:30")
    finally:
        locked.chmod(0o755)
    assert result.returncode == 1, result.stdout + result.stderr
    named = "客户/C-0001 张三.md" if what == "file" else "客户"
    assert f"{named}：Permission denied" in result.stderr
    assert "已备份" not in result.stdout and "Traceback" not in result.stderr
    _no_archive_left(root)
    # Once readable again, the backup is made and holds the note.
    again = _run_as_unprivileged(root, "backup", "--at", "2026-02-12 10:31")
    assert again.returncode == 0 and "已备份 5 个文件" in again.stdout, again.stderr


def test_the_safety_archive_of_a_restore_is_never_pruned(cli, vault):
    root = vault(FILES, config=CONFIG)
    assert cli(root, "backup", "--at", "2026-02-01 10:00").exit_code == 0
    (root / "预约/APP-2026-001.md").write_text("---\n预约编号: APP-2026-001\n---\n坏了", encoding="utf-8")
    restored = cli(root, "restore", "vaultcrm-2026-02-01-100000.zip", "--yes", "--at", "2026-02-01 11:00")
    assert restored.exit_code == 0, restored.output
    safety = "vaultcrm-2026-02-01-110000-before-restore.zip"
    assert f"已先备份当前状态 → .vaultcrm/backups/{safety}（恢复前安全备份：不会被按天轮换删除" in restored.stdout
    for day in range(2, 12):
        assert cli(root, "backup", "--keep", "2", "--at", f"2026-02-{day:02d} 18:00").exit_code == 0
    assert backups(root) == [safety, "vaultcrm-2026-02-10-180000.zip", "vaultcrm-2026-02-11-180000.zip"]
    listing = cli(root, "backup", "list").stdout
    row = next(line for line in listing.splitlines() if safety in line)
    assert "恢复前安全备份" in row
    assert "不会被自动删除" in listing
    (root / ".vaultcrm/backups" / safety).unlink()  # the user removes it
    assert "恢复前安全备份" not in cli(root, "backup", "list").stdout
