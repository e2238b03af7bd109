"""Private stays private: what vaultcrm creates is no more readable than the vault's notes.

Every command runs in a real subprocess with the usual umask 022, which alone would make every new
file world-readable. With the notes at 0600 (or the vault folder at 0700), nothing vaultcrm creates —
notes, cache, IDs, locks, logs, backups, exports — may be readable by the group or others; backups
and the audit log are owner-only whatever the notes are.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from service_data import CONFIG, customer

from vaultcrm.vault.perms import withheld

WORKDAY = [
    ["book", "--customer", "张三", "--date", "2026-02-13", "--time", "10:00", "--service", "全身推拿",
     "--at", "2026-02-12 09:00"],
    ["book", "--customer", "李四", "--phone", "13900001111", "--date", "2026-02-13", "--time", "14:00",
     "--service", "足疗", "--at", "2026-02-12 09:05"],
    ["log", "APP-2026-001", "--at", "2026-02-13 11:05"],
    ["stats", "--at", "2026-02-13 18:00"],
    ["remind", "--at", "2026-02-13 08:00"],
    ["backup", "--at", "2026-02-13 19:00"],
    ["export", "csv"],
    ["customer", "forget", "C-0002", "--yes"],
    ["check"],
]


def vaultcrm(root: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VAULTCRM_VAULT"}
    return subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], env=env, umask=umask,
                          capture_output=True, text=True, timeout=120)


def make_vault(tmp_path: Path, note_mode: int, folder_mode: int = 0o755) -> Path:
    root = tmp_path / "vault"
    root.mkdir()
    (root / "vaultcrm.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "客户").mkdir()
    note = root / "客户" / "C-0001 张三.md"
    note.write_text(customer(), encoding="utf-8")
    note.chmod(note_mode)
    root.chmod(folder_mode)
    return root


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


def run_workday(root: Path) -> dict[str, int]:
    """Run a studio's day of commands; the paths they created, with their modes."""
    before = modes(root)
    for args in WORKDAY:
        result = vaultcrm(root, *args)
        assert result.returncode == 0, (args, result.stderr)
    return {path: mode for path, mode in modes(root).items() if path not in before}


ALL_KINDS = {"预约/", "服务记录/", "跟进/", "提醒/", "统计/", ".vaultcrm/cache", ".vaultcrm/locks", ".vaultcrm/journal",
             ".vaultcrm/backups/", ".vaultcrm/exports/", ".vaultcrm/logs/audit.log"}


def kinds(created: dict[str, int]) -> set[str]:
    """Which sorts of files a run created, so a test shows it looked at all of them."""
    return {kind for path in created for kind in ALL_KINDS if path.startswith(kind)}


@pytest.mark.parametrize("note_mode, folder_mode", [(0o600, 0o755), (0o644, 0o700)], ids=["notes-0600", "folder-0700"])
def test_nothing_created_is_readable_by_others_when_the_vault_is_private(tmp_path, note_mode, folder_mode):
    root = make_vault(tmp_path, note_mode, folder_mode)
    created = run_workday(root)
    assert kinds(created) == ALL_KINDS, sorted(created)
    readable = {path: oct(mode) for path, mode in created.items() if mode & 0o077}
    assert readable == {}
    assert stat.S_IMODE((root / "客户" / "C-0001 张三.md").stat().st_mode) == note_mode  # its own mode kept


def test_a_shared_vault_stays_shared_but_backups_and_audit_are_private(tmp_path):
    root = make_vault(tmp_path, 0o644)
    created = run_workday(root)
    assert kinds(created) == ALL_KINDS
    assert created["预约/APP-2026-001.md"] == 0o644 and created["服务记录/SRV-2026-001.md"] == 0o644
    backups = [path for path in created if path.startswith(".vaultcrm/backups/") and path.endswith(".zip")]
    assert backups and all(created[path] == 0o600 for path in backups)
    assert created[".vaultcrm/logs/audit.log"] == 0o600
    assert created[".vaultcrm/backups"] == 0o700


def test_an_audit_log_left_readable_is_made_private_on_the_next_entry(tmp_path):
    root = make_vault(tmp_path, 0o644)
    assert vaultcrm(root, *WORKDAY[1]).returncode == 0  # 李四, C-0002
    log = root / ".vaultcrm" / "logs" / "audit.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("", encoding="utf-8")
    log.chmod(0o644)
    result = vaultcrm(root, "customer", "forget", "C-0002", "--yes")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and "C-0002" in log.read_text(encoding="utf-8")


@pytest.mark.parametrize("folder, config, note, expected", [
    (0o755, 0o644, 0o644, 0o000),
    (0o755, 0o644, 0o600, 0o077),
    (0o755, 0o644, 0o640, 0o007),
    (0o700, 0o644, 0o644, 0o077),
    (0o755, 0o600, 0o644, 0o077),
])
def test_what_the_vault_withholds(tmp_path, folder, config, note, expected):
    root = make_vault(tmp_path, note, folder)
    (root / "vaultcrm.yaml").chmod(config)
    assert withheld(root) == expected
