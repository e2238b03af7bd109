"""Atomic writes, exclusive creates, vault-bounded paths, file names and inter-process locks."""

from __future__ import annotations

import errno
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultcrm.vault import writer
from vaultcrm.vault.lock import FileLock, LockTimeout
from vaultcrm.vault.writer import (
    ConcurrentEditError,
    FileExistsConflict,
    UnsafePathError,
    create_exclusive,
    safe_path,
    sanitize_filename,
    stamp,
    write_atomic,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- write_atomic -------------------------------------------------------------------------------

def test_write_atomic_replaces_content_keeps_mode_and_leaves_no_temp(tmp_path):
    note = tmp_path / "APP-2026-001.md"
    note.write_bytes(b"old")
    note.chmod(0o640)
    assert write_atomic(note, "新内容".encode()) is True
    assert note.read_bytes() == "新内容".encode()
    assert stat.S_IMODE(note.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["APP-2026-001.md"]


def test_new_file_gets_default_mode_and_parents(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "统计" / "日报" / "2026-02-12.md"
    assert write_atomic(target, b"x") is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_unchanged_content_is_not_rewritten(tmp_path):
    note = tmp_path / "n.md"
    note.write_bytes(b"same")
    os.utime(note, ns=(1_000_000_000, 1_000_000_000))
    before = note.stat()
    assert write_atomic(note, b"same") is False
    after = note.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


def test_concurrent_edit_is_refused_and_obsidians_text_kept(tmp_path):
    note = tmp_path / "n.md"
    note.write_bytes(b"as read")
    seen = stamp(note)
    note.write_bytes(b"saved in Obsidian")
    with pytest.raises(ConcurrentEditError):
        write_atomic(note, b"ours", expect=seen)
    assert note.read_bytes() == b"saved in Obsidian"
    assert temps(tmp_path) == []


def test_same_size_same_mtime_edit_is_caught_by_digest(tmp_path):
    note = tmp_path / "n.md"
    note.write_bytes(b"status: A")
    os.utime(note, ns=(5_000_000_000, 5_000_000_000))
    seen = stamp(note)
    note.write_bytes(b"status: B")
    os.utime(note, ns=(5_000_000_000, 5_000_000_000))  # coarse clocks: same mtime, same size
    with pytest.raises(ConcurrentEditError):
        write_atomic(note, b"status: C", expect=seen)
    assert note.read_bytes() == b"status: B"


def test_touch_without_content_change_is_not_a_conflict(tmp_path):
    note = tmp_path / "n.md"
    note.write_bytes(b"v1")
    seen = stamp(note)
    os.utime(note, ns=(9_000_000_000, 9_000_000_000))
    assert write_atomic(note, b"v2", expect=seen) is True
    assert note.read_bytes() == b"v2"


def test_deleted_since_read_is_a_conflict(tmp_path):
    note = tmp_path / "n.md"
    note.write_bytes(b"v1")
    seen = stamp(note)
    note.unlink()
    with pytest.raises(ConcurrentEditError):
        write_atomic(note, b"v2", expect=seen)
    assert not note.exists()


def test_save_during_our_write_is_caught_before_replace(tmp_path, monkeypatch):
    note = tmp_path / "n.md"
    note.write_bytes(b"v1")
    seen = stamp(note)
    real = writer._write_temp

    def slow_temp(*args):
        tmp = real(*args)
        note.write_bytes(b"user saved meanwhile")
        return tmp

    monkeypatch.setattr(writer, "_write_temp", slow_temp)
    with pytest.raises(ConcurrentEditError):
        write_atomic(note, b"ours", expect=seen)
    assert note.read_bytes() == b"user saved meanwhile"
    assert temps(tmp_path) == []


def test_failure_during_replace_leaves_original_and_no_temp(tmp_path, monkeypatch):
    note = tmp_path / "n.md"
    note.write_bytes(b"v1")

    def broken_replace(src, dst):
        raise OSError(errno.EIO, "disk on fire")

    monkeypatch.setattr(writer.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(note, b"v2")
    assert note.read_bytes() == b"v1"
    assert os.listdir(tmp_path) == ["n.md"]


def test_write_atomic_does_not_replace_a_symlink(tmp_path):
    real = tmp_path / "real.md"
    real.write_bytes(b"x")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    with pytest.raises(UnsafePathError):
        write_atomic(link, b"y")
    assert link.is_symlink() and real.read_bytes() == b"x"


def test_long_names_still_get_a_temp_file(tmp_path):
    name = sanitize_filename("长" * 200) + ".md"
    assert write_atomic(tmp_path / name, b"x") is True
    assert visible(tmp_path) == [name]


# -- create_exclusive ---------------------------------------------------------------------------

def test_create_exclusive_creates_parents_and_refuses_existing(tmp_path):
    target = tmp_path / "预约" / "APP-2026-001.md"
    create_exclusive(target, b"first")
    with pytest.raises(FileExistsConflict):
        create_exclusive(target, b"second")
    assert target.read_bytes() == b"first"
    assert os.listdir(target.parent) == ["APP-2026-001.md"]


def test_create_exclusive_never_follows_a_dangling_symlink(tmp_path):
    outside = tmp_path / "outside.md"
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "C-0001.md").symlink_to(outside)
    with pytest.raises(FileExistsConflict):
        create_exclusive(vault / "C-0001.md", b"x")
    assert not outside.exists()


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOTSUP, errno.EXDEV])
def test_create_exclusive_without_hard_links(tmp_path, monkeypatch, code):
    def no_link(*args, **kwargs):
        raise OSError(code, "no hard links here")

    monkeypatch.setattr(writer.os, "link", no_link)
    target = tmp_path / "n.md"
    create_exclusive(target, b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(FileExistsConflict):
        create_exclusive(target, b"second")
    assert target.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["n.md"]


def test_create_exclusive_race_has_one_winner(tmp_path):
    target = tmp_path / "SRV-2026-007.md"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            create_exclusive(target, f"writer {i}".encode())
            results.append("won")
        except FileExistsConflict:
            results.append("lost")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1
    assert os.listdir(tmp_path) == ["SRV-2026-007.md"]


# -- safe_path ----------------------------------------------------------------------------------

def test_safe_path_inside_vault(tmp_path):
    assert safe_path(tmp_path, "预约/APP-2026-001.md") == tmp_path.resolve() / "预约" / "APP-2026-001.md"


@pytest.mark.parametrize("bad", [
    "../escape.md", "预约/../../escape.md", "..", "a/../../b", "..\\escape.md", "a\\..\\..\\b",
    "/etc/passwd", "\\\\server\\share\\x.md", "C:\\Windows\\x.md", "c:x.md", "", ".", "./", "...",
    ".obsidian/app.json", "nul\x00.md",
])
def test_safe_path_refuses(tmp_path, bad):
    with pytest.raises(UnsafePathError):
        safe_path(tmp_path, bad)


def test_safe_path_refuses_symlinks_out_of_the_vault(tmp_path):
    vault, outside = tmp_path / "vault", tmp_path / "outside"
    vault.mkdir()
    outside.mkdir()
    (vault / "linkdir").symlink_to(outside, target_is_directory=True)
    (vault / "link.md").symlink_to(outside / "x.md")
    for rel in ("linkdir/x.md", "link.md", "linkdir"):
        with pytest.raises(UnsafePathError):
            safe_path(vault, rel)


def test_safe_path_follows_symlinks_that_stay_inside(tmp_path):
    (tmp_path / "客户").mkdir()
    (tmp_path / "shortcut").symlink_to(tmp_path / "客户", target_is_directory=True)
    assert safe_path(tmp_path, "shortcut/C-0001.md") == tmp_path.resolve() / "客户" / "C-0001.md"


# -- sanitize_filename --------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("C-0001 张三", "C-0001 张三"),
    ("../../etc/passwd", "etc passwd"),
    ("张三/李四", "张三 李四"),
    ('a:b*c?d"e<f>g|h#i^j[k]l\\m', "a b c d e f g h i j k l m"),
    ("CON", "CON_"),
    ("nul.txt", "nul_.txt"),
    ("com1", "com1_"),
    ("  .hidden. . ", "hidden"),
    ("王\x00五\n\t六\u202e", "王五 六"),
    ("", "未命名"),
    ("...", "未命名"),
    ("/\\:*?", "未命名"),
])
def test_sanitize_filename_examples(name, expected):
    assert sanitize_filename(name) == expected


def test_sanitize_filename_limits_bytes_without_breaking_utf8():
    out = sanitize_filename("张" * 500, max_bytes=100)
    assert len(out.encode("utf-8")) <= 100
    assert out == "张" * 33


RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from(list('./\\:*?"<>|#^[] \t\n\x00\u202e')), st.characters()),
               max_size=80))
def test_sanitize_filename_never_unsafe(name):
    out = sanitize_filename(name, max_bytes=60)
    assert out and out.strip() == out and not out.endswith(".") and not out.startswith(".")
    assert not any(ch in out for ch in '/\\:*?"<>|#^[]') and ".." not in out
    assert all(ch.isprintable() for ch in out)
    assert out.split(".")[0].upper() not in RESERVED
    assert len(out.encode("utf-8")) <= 60
    assert sanitize_filename(out, max_bytes=60) == out


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300))
def test_sanitized_names_are_writable(tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("names")
    target = folder / (sanitize_filename(name) + ".md")
    assert write_atomic(target, b"x") is True
    assert visible(folder) == [target.name]


# -- FileLock -----------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from vaultcrm.vault.lock import FileLock
    with FileLock(sys.argv[1], "ids", timeout=5):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold_lock(vault: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(vault), str(seconds)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_waits_for_the_lock(tmp_path):
    proc = hold_lock(tmp_path, 0.8)
    started = time.monotonic()
    with FileLock(tmp_path, "ids", timeout=10) as lock:
        waited = time.monotonic() - started
        assert lock.locked
    proc.wait(timeout=10)
    assert waited >= 0.5
    assert (tmp_path / ".vaultcrm" / "locks" / "ids.lock").exists()


def test_lock_timeout_names_lock_holder_and_path(tmp_path):
    proc = hold_lock(tmp_path, 5)
    try:
        with pytest.raises(LockTimeout) as info:
            with FileLock(tmp_path, "ids", timeout=0.3):
                pytest.fail("must not get the lock")
        message = str(info.value)
        assert "ids" in message and "0.3" in message and str(proc.pid) in message
        assert str(tmp_path / ".vaultcrm" / "locks" / "ids.lock") in message
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_process_is_free(tmp_path):
    proc = hold_lock(tmp_path, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with FileLock(tmp_path, "ids", timeout=1):
        pass


def test_lock_names_are_checked(tmp_path):
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            FileLock(tmp_path, bad)


# -- crash safety -------------------------------------------------------------------------------

REWRITER = textwrap.dedent("""
    import sys
    from vaultcrm.vault.writer import write_atomic
    path, n = sys.argv[1], int(sys.argv[2])
    versions = [(f"version {i}\\n" * (2000 * (i + 1))).encode() for i in range(n)]
    i = 0
    while True:
        write_atomic(path, versions[i % n])
        if i == 0:
            print("ready", flush=True)
        i += 1
""")


@pytest.mark.slow
def test_sigkill_never_leaves_a_partial_note(tmp_path):
    n = 4
    versions = {(f"version {i}\n" * (2000 * (i + 1))).encode() for i in range(n)}
    note = tmp_path / "APP-2026-001.md"
    note.write_bytes(b"version 0\n" * 2000)
    rng = random.Random(1234)
    interrupted = 0
    for _ in range(30):
        proc = subprocess.Popen([sys.executable, "-c", REWRITER, str(note), str(n)],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC})
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert note.read_bytes() in versions
        assert visible(tmp_path) == ["APP-2026-001.md"]
        leftovers = [name for name in os.listdir(tmp_path) if name.startswith(".")]
        assert all(name.startswith(".APP-2026-001.md.vaultcrm-") for name in leftovers)
        interrupted = len(leftovers)
    assert interrupted > 0, "no kill landed mid-write; the test proved nothing"
