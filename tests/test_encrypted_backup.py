"""Encrypted off-site backups, from the attacker's side too: `backup --encrypt [--to DIR]` and `restore`.

The archive is looked at as someone who found it on the cloud drive would: no plaintext byte, no name
that tells anything, and every change to it (a flipped byte anywhere, a cut, a swapped header, chunks
moved) or a wrong passphrase is refused with a clear message before a single note is touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from pathlib import Path

import pytest
from conftest import run_cli

from vaultcrm.cli import options as options_cli
from vaultcrm.privacy import sealed
from vaultcrm.privacy.sealed import HEADER_SIZE, SealedError, open_sealed

PASS = "青山绿水 correct horse"
ENV = "VAULTCRM_BACKUP_PASSPHRASE"
NAME, PHONE = "欧阳娜娜", "13912345678"
PROFILE = f"""---
客户编号: C-0001
客户姓名: {NAME}
联系方式: '{PHONE}'
健康档案:
  过敏史: [精油]
---

# C-0001 {NAME}

## 备注
{NAME}腰椎间盘突出，力度要轻。
"""


def _service(n: int) -> str:
    # varied text, so the zip stays large enough for several 4 KiB chunks
    words = " ".join(hashlib.sha256(f"{n}-{i}".encode()).hexdigest()[:12] for i in range(150))
    return f"""---
服务编号: SRV-2026-{n:03d}
服务基本信息:
  服务日期: 2026-02-{n % 27 + 1:02d}
客户信息:
  客户姓名: {NAME}
  客户编号: C-0001
  联系方式: '{PHONE}'
服务信息:
  服务项目: 全身推拿
---

# SRV-2026-{n:03d} {NAME}
{words}
"""


FILES = {"客户/C-0001 欧阳娜娜.md": PROFILE, **{f"服务记录/SRV-2026-{n:03d}.md": _service(n) for n in range(1, 25)}}


@pytest.fixture
def fast_kdf(monkeypatch):
    """In-process runs use a cheap scrypt and 4 KiB chunks (both are recorded in the header, so restore
    follows them); the subprocess test below runs the real parameters."""
    monkeypatch.setattr(sealed, "SCRYPT_LOG2_N", 12)
    monkeypatch.setattr(sealed, "CHUNK_LOG2", 12)
    monkeypatch.setenv(ENV, PASS)


@pytest.fixture
def studio(vault, fast_kdf):
    return vault(FILES, config="店名: 测试馆\n")


def _notes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".vaultcrm" not in p.parts}


def _backup(cli, root: Path, *args: str, at: str = "2026-02-12 10:00") -> Path:
    result = cli(root, "backup", "--encrypt", *args, "--at", at)
    assert result.exit_code == 0, result.output
    (path,) = re.findall(r"→ (\S+\.zip\.enc)", result.stdout)[:1]
    return root / path


def test_the_encrypted_archive_reveals_no_name_phone_file_name_or_note_bytes(studio, cli):
    archive = _backup(cli, studio)
    assert archive.name == "vaultcrm-2026-02-12-100000.zip.enc"
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]  # no plaintext zip, no temp file
    assert archive.stat().st_mode & 0o077 == 0
    blob = archive.read_bytes()
    secrets = [NAME, PHONE, "欧阳", "C-0001", "SRV-2026-001", "服务记录", "客户/", ".md", "vaultcrm.yaml", "测试馆",
               "腰椎间盘突出", "精油"]
    for secret in secrets:
        for encoding in ("utf-8", "utf-16-le", "gb18030"):
            assert secret.encode(encoding) not in blob, secret
    assert b"PK\x03\x04" not in blob and b"PK\x05\x06" not in blob  # not even the zip's structure shows
    for text in FILES.values():  # no 12-byte run of any note, compressed or not
        for raw in (text.encode(), zlib.compress(text.encode())[2:-4]):
            assert not any(raw[i:i + 12] in blob for i in range(0, len(raw) - 12, 7))
    assert len(zlib.compress(blob[HEADER_SIZE:], 9)) > len(blob) - HEADER_SIZE  # indistinguishable from noise


def test_restore_brings_back_every_note_byte_for_byte(studio, cli):
    archive = _backup(cli, studio)
    before = _notes(studio)
    (studio / "客户/C-0001 欧阳娜娜.md").unlink()
    (studio / "服务记录/SRV-2026-003.md").write_text("坏了", encoding="utf-8")
    result = cli(studio, "restore", archive.name, "--yes", "--at", "2026-02-12 11:00")
    assert result.exit_code == 0, result.output
    assert "将覆盖 1 个" in result.stdout and "将新增 1 个" in result.stdout and "已恢复 2 个文件" in result.stdout
    assert _notes(studio) == before


def _damaged_variants(blob: bytes, other: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, what the message must say)."""
    chunk = (1 << 12) + 16
    n_chunks = -(-(len(blob) - HEADER_SIZE) // chunk)
    assert n_chunks >= 4, "the vault must span several chunks for these cases"
    body = blob[HEADER_SIZE:]
    chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)]

    def flip(at: int) -> bytes:
        return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1:]

    return {
        "magic": (flip(0), "不是 vaultcrm 的加密备份"),
        "scrypt cost": (flip(8), "口令不对"),  # a plausible cost: keys differ, the header MAC says so
        "scrypt r out of bounds": (flip(9), "文件头已被改动或损坏（加密参数不合理）"),  # refused before any work
        "salt": (flip(20), "口令不对"),
        "nonce prefix": (flip(30), "口令不对"),
        "header MAC": (flip(HEADER_SIZE - 1), "口令不对"),
        "first chunk": (flip(HEADER_SIZE + 5), f"第 1/{n_chunks} 段校验失败"),
        "middle chunk": (flip(HEADER_SIZE + 2 * chunk + 100), f"第 3/{n_chunks} 段校验失败"),
        "last byte": (flip(len(blob) - 1), f"第 {n_chunks}/{n_chunks} 段校验失败"),
        "cut at a chunk boundary": (blob[:HEADER_SIZE + 2 * chunk], "不完整（文件被截断）"),
        "cut inside a chunk": (blob[:HEADER_SIZE + 2 * chunk + 700], "校验失败"),
        "cut to the header": (blob[:HEADER_SIZE], "不完整"),
        "cut inside the header": (blob[:40], "不是 vaultcrm 的加密备份"),
        "chunks swapped": (blob[:HEADER_SIZE] + chunks[1] + chunks[0] + b"".join(chunks[2:]), "第 1/"),
        "chunk repeated": (blob[:HEADER_SIZE] + chunks[0] + b"".join(chunks), "校验失败"),
        "garbage appended": (blob + os.urandom(200), "校验失败"),
        "header of another archive": (other[:HEADER_SIZE] + body, f"第 1/{n_chunks} 段校验失败"),
    }


def test_every_kind_of_tampering_is_refused_before_any_note_is_touched(studio, cli):
    archive = _backup(cli, studio)
    other = _backup(cli, studio, at="2026-02-13 10:00")  # same vault, same passphrase, its own salt
    blob = archive.read_bytes()
    (studio / "服务记录/SRV-2026-003.md").write_text("坏了", encoding="utf-8")
    before = _notes(studio)
    for case, (data, message) in _damaged_variants(blob, other.read_bytes()).items():
        archive.write_bytes(data)
        result = cli(studio, "restore", str(archive), "--yes", "--at", "2026-02-12 11:00")
        assert result.exit_code == 1, (case, result.output)
        assert message in result.stderr and "未写入任何内容" in result.stderr, (case, result.stderr)
        assert "Traceback" not in result.output
        assert _notes(studio) == before, case
        assert not list((studio / ".vaultcrm/backups").glob("*before-restore*")), case  # nothing started


def test_a_flipped_bit_anywhere_in_the_file_is_detected(studio, cli):
    blob = _backup(cli, studio).read_bytes()
    probe = studio.parent / "probe.zip.enc"
    positions = sorted({*range(0, HEADER_SIZE), *range(HEADER_SIZE, len(blob), 97), len(blob) - 1})
    for at in positions:
        probe.write_bytes(blob[:at] + bytes([blob[at] ^ 0x80]) + blob[at + 1:])
        with pytest.raises(SealedError):
            open_sealed(probe, PASS, probe.name)[0].close()
    probe.write_bytes(blob)
    opened, _ = open_sealed(probe, PASS, probe.name)  # the untouched file opens: the probe can fail
    opened.close()


def test_wrong_passphrase_is_refused_clearly(studio, cli, monkeypatch):
    archive = _backup(cli, studio)
    (studio / "客户/C-0001 欧阳娜娜.md").unlink()
    monkeypatch.setenv(ENV, PASS + " ")
    result = cli(studio, "restore", archive.name, "--yes")
    assert result.exit_code == 1
    assert f"口令不对，无法解密 {archive.name}" in result.stderr and "未写入任何内容" in result.stderr
    assert not (studio / "客户/C-0001 欧阳娜娜.md").exists()


def test_restore_without_the_variable_asks_on_a_terminal_and_refuses_in_a_script(studio, cli, monkeypatch):
    archive = _backup(cli, studio)
    (studio / "客户/C-0001 欧阳娜娜.md").unlink()
    monkeypatch.delenv(ENV)
    script = cli(studio, "restore", archive.name, "--yes")
    assert script.exit_code == 1
    assert f"恢复加密备份 {archive.name} 需要备份口令：请把口令放进环境变量 {ENV}" in script.stderr
    monkeypatch.setattr(options_cli, "interactive", lambda: True)
    typed = cli(studio, "restore", archive.name, input=f"{PASS}\ny\n")
    assert typed.exit_code == 0, typed.output
    assert "备份口令（输入时不显示）" in typed.output and PASS not in typed.output  # hidden input
    assert (studio / "客户/C-0001 欧阳娜娜.md").read_text(encoding="utf-8") == PROFILE


def test_backup_asks_twice_on_a_terminal(studio, cli, monkeypatch):
    monkeypatch.delenv(ENV)
    monkeypatch.setattr(options_cli, "interactive", lambda: True)
    result = cli(studio, "backup", "--encrypt", "--at", "2026-02-12 10:00",
                 input=f"{PASS}\n{PASS}x\n{PASS}\n{PASS}\n")
    assert result.exit_code == 0, result.output
    assert "两次输入的口令不一致" in result.output and PASS not in result.output
    archive = studio / ".vaultcrm/backups/vaultcrm-2026-02-12-100000.zip.enc"
    opened, _ = open_sealed(archive, PASS, archive.name)
    opened.close()


def test_backup_refuses_without_a_passphrase_or_with_a_short_one(studio, cli, monkeypatch):
    monkeypatch.delenv(ENV)
    result = cli(studio, "backup", "--encrypt")
    assert result.exit_code == 1 and f"加密备份需要备份口令：请把口令放进环境变量 {ENV}" in result.stderr
    monkeypatch.setenv(ENV, "1234567")
    short = cli(studio, "backup", "--encrypt")
    assert short.exit_code == 1 and "备份加密口令太短" in short.stderr
    assert not (studio / ".vaultcrm/backups").exists() or not list((studio / ".vaultcrm/backups").iterdir())


def test_the_config_names_the_variable_and_never_holds_the_passphrase(vault, cli, fast_kdf, monkeypatch):
    root = vault(FILES, config="备份:\n  加密口令变量: STUDIO_KEY\n")
    monkeypatch.delenv(ENV)
    monkeypatch.setenv("STUDIO_KEY", PASS)
    archive = _backup(cli, root)
    (root / "客户/C-0001 欧阳娜娜.md").unlink()
    assert cli(root, "restore", archive.name, "--yes").exit_code == 0
    assert (root / "客户/C-0001 欧阳娜娜.md").exists()
    (root / "vaultcrm.yaml").write_text("备份:\n  加密口令变量: 我的口令 是 123\n", encoding="utf-8")
    bad = cli(root, "check")
    assert bad.exit_code == 1 and "vaultcrm.yaml:2: 错误：配置项 备份.加密口令变量：应为环境变量的名字" in bad.stderr


def test_off_site_copies_rotate_like_local_ones_and_leave_other_files_alone(studio, cli, tmp_path):
    nas = tmp_path / "nas"
    nas.mkdir()
    (nas / "家庭照片.jpg").write_bytes(b"not ours")
    (nas / ".vaultcrm-2026-02-09-220000.zip.enc.tmp").write_bytes(b"half a copy from a killed run")
    for day in ("10", "11", "12", "13"):
        result = cli(studio, "backup", "--encrypt", "--to", str(nas), "--keep", "2", "--at", f"2026-02-{day} 22:00")
        assert result.exit_code == 0, result.output
        assert f"已复制到异地目录 → {nas}/vaultcrm-2026-02-{day}-220000.zip.enc" in result.stdout
    assert "已删除异地目录中的过期备份 vaultcrm-2026-02-11-220000.zip.enc" in result.stdout
    assert sorted(p.name for p in nas.iterdir()) == ["vaultcrm-2026-02-12-220000.zip.enc",
                                                     "vaultcrm-2026-02-13-220000.zip.enc", "家庭照片.jpg"]
    local = studio / ".vaultcrm/backups"
    assert sorted(p.name for p in local.iterdir()) == ["vaultcrm-2026-02-12-220000.zip.enc",
                                                       "vaultcrm-2026-02-13-220000.zip.enc"]
    assert (nas / "vaultcrm-2026-02-13-220000.zip.enc").read_bytes() == \
        (local / "vaultcrm-2026-02-13-220000.zip.enc").read_bytes()
    listed = cli(studio, "backup", "list")
    assert "vaultcrm-2026-02-13-220000.zip.enc" in listed.stdout and "日常备份（加密）" in listed.stdout
    (studio / "客户/C-0001 欧阳娜娜.md").unlink()
    assert cli(studio, "restore", str(nas / "vaultcrm-2026-02-13-220000.zip.enc"), "--yes").exit_code == 0
    assert (studio / "客户/C-0001 欧阳娜娜.md").read_text(encoding="utf-8") == PROFILE


def test_plaintext_never_goes_off_site_and_a_missing_drive_is_named(studio, cli, tmp_path):
    nas = tmp_path / "nas"
    nas.mkdir()
    plain = cli(studio, "backup", "--to", str(nas))
    assert plain.exit_code == 1 and "异地备份只能是加密的：请同时加 --encrypt" in plain.stderr
    missing = cli(studio, "backup", "--encrypt", "--to", str(tmp_path / "unmounted"))
    assert missing.exit_code == 1 and "不存在或不是文件夹（网盘或 NAS 是否已挂载？）" in missing.stderr
    assert list(nas.iterdir()) == []
    assert not (studio / ".vaultcrm/backups").exists() or not list((studio / ".vaultcrm/backups").iterdir())


def test_real_subprocesses_with_real_parameters_leave_no_plaintext_outside_the_vault(vault, tmp_path):
    """The shipped scrypt cost and chunk size, end to end; TMPDIR and the NAS hold nothing readable."""
    root = vault(FILES, config=f"备份:\n  异地目录: {tmp_path / 'nas'}\n")
    (tmp_path / "nas").mkdir()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {ENV: PASS, "TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch)}
    made = run_cli("--vault", str(root), "backup", "--encrypt", "--at", "2026-02-12 22:00", env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    copy = tmp_path / "nas/vaultcrm-2026-02-12-220000.zip.enc"
    assert copy.exists() and NAME.encode() not in copy.read_bytes() and PHONE.encode() not in copy.read_bytes()
    assert copy.read_bytes()[8] == sealed.SCRYPT_LOG2_N == 17 and copy.read_bytes()[11] == 16
    before = _notes(root)
    for rel in list(FILES)[:5]:
        (root / rel).unlink()
    restored = run_cli("--vault", str(root), "restore", str(copy), "--yes", env=env, timeout=120)
    assert restored.returncode == 0, restored.stderr
    assert "已恢复 5 个文件" in restored.stdout
    assert _notes(root) == before
    assert list(scratch.iterdir()) == []
    wrong = run_cli("--vault", str(root), "restore", str(copy), "--yes", env={**env, ENV: "not the passphrase"},
                    timeout=120)
    assert wrong.returncode == 1 and "口令不对" in wrong.stderr and "Traceback" not in wrong.stderr
