"""The scan that runs in forked children while the parse cache is decoded (vault/scan.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from vaultcrm.vault import scan as scan_module
from vaultcrm.vault.scan import BackgroundScan, scan
from vaultcrm.vault.shards import filed_stamps
from vaultcrm.vault.writer import TEMP_MARK

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child is forked on Linux only")


@pytest.fixture
def notes(tmp_path):
    root = tmp_path / "vault"
    for rel in ("预约/APP-2026-001.md", "预约/2026/03/APP-2026-002.md", "客户/C-0001 张三.md", "随手记.md",
                ".obsidian/workspace.md", ".trash/old.md", "附件/photo.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("---\n编号: x\n---\n", encoding="utf-8")
    (root / "预约" / f".APP-2026-003.md{TEMP_MARK}1234.tmp").write_bytes(b"half")  # left by a killed write
    return root


def single_threaded() -> bool:
    return threading.active_count() == 1


@linux_only
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_the_children_find_what_a_scan_here_finds(notes, parts):
    forks = single_threaded()  # as a command is when it loads its vault (another test may have left a thread)
    background = BackgroundScan(notes, parts)
    assert len(background.children) == (parts if forks else 0)
    temp_there: list[str] = []
    temp_here: list[str] = []
    found = background.result(temp_there, *filed_stamps(notes))
    assert found == scan(notes, temp_here)
    assert sorted(found) == ["客户/C-0001 张三.md", "随手记.md", "预约/2026/03/APP-2026-002.md", "预约/APP-2026-001.md"]
    assert temp_there == temp_here and len(temp_here) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the children were reaped


@linux_only
def test_a_failing_child_means_a_scan_here(notes, monkeypatch):
    parent = os.getpid()
    real = scan_module.scan

    def fails_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            raise OSError("disk gone")
        return real(*args, **kwargs)

    monkeypatch.setattr(scan_module, "scan", fails_in_the_child)
    background = BackgroundScan(notes, 2)
    assert background.result([], *filed_stamps(notes)) == real(notes)


@linux_only
def test_a_cancelled_child_is_ended_and_reaped(notes):
    background = BackgroundScan(notes, 2)
    pids = [pid for pid, _ in background.children]
    background.cancel()
    assert background.children == []
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert background.result([], *filed_stamps(notes)) == scan(notes)  # still answers, by a scan here


def test_no_fork_while_another_thread_runs(notes):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        background = BackgroundScan(notes)
        assert background.children == []
        assert background.result([], *filed_stamps(notes)) == scan(notes)
    finally:
        stop.set()
        other.join()


@linux_only
def test_children_reaped_by_the_system(notes):
    """The warm worker ignores SIGCHLD (the kernel reaps its children): the scan still answers."""
    import signal

    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert BackgroundScan(notes).result([], *filed_stamps(notes)) == scan(notes)
        BackgroundScan(notes).cancel()
    finally:
        signal.signal(signal.SIGCHLD, before)


def test_the_parts_of_a_split_scan_make_the_whole(notes):
    whole = scan(notes)
    parts = [scan(notes, part=(k, 3)) for k in range(3)]
    assert sum(map(len, parts)) == len(whole)
    assert {path: stamp for part in parts for path, stamp in part.items()} == whole


# -- the children answer with differences from the cache's stamps ----------------------------------

def _cached_vault(tmp_path):
    from conftest import write_vault

    root = write_vault(tmp_path / "cached", {
        f"预约/APP-2026-{n:03d}.md": f"---\n预约编号: APP-2026-{n:03d}\n预约信息:\n  预约日期: 2026-02-12\n---\n"
        for n in range(1, 40)})
    from vaultcrm.core.loader import load_vault

    load_vault(root)  # the cache now holds every note's stamp
    return root


@linux_only
@pytest.mark.parametrize("parts", [1, 2])
def test_only_the_differences_come_back_and_make_the_scan(tmp_path, parts):
    root = _cached_vault(tmp_path)
    known, filed = filed_stamps(root)
    assert len(known) == 39 and any(filed)
    assert BackgroundScan(root, parts).result([], dict(known), filed) == known == scan(root)  # nothing differs
    (root / "预约/APP-2026-001.md").write_text("---\n预约编号: APP-2026-001\n---\n", encoding="utf-8")
    (root / "预约/APP-2026-002.md").unlink()
    (root / "预约/APP-2026-099.md").write_text("---\n预约编号: APP-2026-099\n---\n", encoding="utf-8")
    found = BackgroundScan(root, parts).result([], dict(known), filed)
    assert found == scan(root)
    assert "预约/APP-2026-002.md" not in found and "预约/APP-2026-099.md" in found


@linux_only
def test_children_that_compared_with_other_stamps_are_not_believed(tmp_path):
    """The cache was rewritten between the children's reading of it and this process's: their
    differences are from other stamps, so the scan is done here."""
    root = _cached_vault(tmp_path)
    known, filed = filed_stamps(root)
    (root / "预约/APP-2026-003.md").write_text("---\n预约编号: APP-2026-003\n---\n", encoding="utf-8")
    stale = dict(known)
    stale["预约/APP-2026-003.md"] = scan(root)["预约/APP-2026-003.md"]  # as if this process's cache knew the edit
    other = [None if blob is None else blob + b"" for blob in filed]
    other[next(n for n, blob in enumerate(filed) if blob)] = b"\x80"  # not the bytes the children read
    assert BackgroundScan(root).result([], stale, other) == scan(root)


# -- a scan started ahead of the load (before the command's module is imported) --------------------

def _lock_and_book(root, name: str, hold: float = 0.0) -> subprocess.Popen:
    """Another process: takes the booking lock, writes a new appointment note, holds on `hold` s."""
    code = (
        "import sys, time; from pathlib import Path; from vaultcrm.vault.lock import FileLock\n"
        "root = Path(sys.argv[1])\n"
        "with FileLock(root, 'booking'):\n"
        f"    (root / '预约' / '{name}.md').write_text('---\\n预约编号: {name}\\n预约信息:\\n  预约日期: 2026-02-12\\n---\\n', encoding='utf-8')\n"
        "    print('written', flush=True)\n"
        f"    time.sleep({hold})\n")
    return subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True)


@linux_only
def test_a_note_written_under_a_lock_after_the_scan_ahead_is_loaded(tmp_path):
    """`book` loads under the booking lock: a note another `book` wrote under it after this process's scan
    ahead started must be in the load, though the early scan may have passed its folder already."""
    from vaultcrm.core.loader import load_vault
    from vaultcrm.vault.lock import FileLock, lock_path

    root = _cached_vault(tmp_path)
    with FileLock(root, "booking"):
        pass  # the lock file exists, as in a vault that has booked before
    old = time.time() - 5
    os.utime(lock_path(root, "booking"), (old, old))
    time.sleep(0.06)  # its ctime older than the racy window
    scan_module.scan_ahead(root)
    time.sleep(0.5)  # the early scan has finished
    other = _lock_and_book(root, "APP-2026-500")
    assert other.stdout.readline().strip() == "written"
    assert other.wait(timeout=30) == 0
    with FileLock(root, "booking"):
        vault = load_vault(root)
    assert "APP-2026-500" in vault.index.appointments
    assert scan_module._ahead is None  # taken, and dropped


@linux_only
def test_no_scan_ahead_while_a_lock_is_held(tmp_path):
    root = _cached_vault(tmp_path)
    other = _lock_and_book(root, "APP-2026-501", hold=3)
    try:
        assert other.stdout.readline().strip() == "written"
        scan_module.scan_ahead(root)
        assert scan_module._ahead is None
    finally:
        other.wait(timeout=30)


@linux_only
def test_a_scan_ahead_is_taken_by_the_load_of_its_vault_only(tmp_path):
    from vaultcrm.core.loader import load_vault

    root = _cached_vault(tmp_path)
    elsewhere = _cached_vault(tmp_path / "b")
    scan_module.scan_ahead(root)
    if not single_threaded():
        pytest.skip("another thread runs: no fork")
    pids = [pid for pid, _ in scan_module._ahead[1].children]
    vault = load_vault(elsewhere)  # another vault: the early scan is ended, not used
    assert scan_module._ahead is None and len(vault.files) == 39
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    scan_module.scan_ahead(root)
    taken = scan_module._ahead[1]
    assert load_vault(root).files == scan(root)
    assert taken.children == []  # its answer was read


def test_the_stamps_read_alone_are_the_ones_the_cache_decodes(tmp_path):
    """The children read only the stamps part of each shard file: the same bytes and stamps the loader
    decodes from the whole file, and nothing from a file that is not a shard of this format."""
    from vaultcrm.core.config import load_settings
    from vaultcrm.vault.cache import Cache, fingerprint
    from vaultcrm.vault.shards import NAME, SHARDS

    root = _cached_vault(tmp_path)
    cache = Cache(root, fingerprint(load_settings(root)[0].timezone))
    cache.load()
    known, filed = filed_stamps(root)
    assert known == cache.stamps() and len(known) == 39
    assert filed == cache.filed and sum(blob is not None for blob in filed) == len({*map(cache_shard, known)})
    target = next(n for n in range(SHARDS) if filed[n] is not None)
    shard = root / ".vaultcrm" / "cache" / NAME.format(target)
    whole = shard.read_bytes()
    for junk in (whole[:40], b"\x95\x07" + whole[2:], b"\x95\x08\xb0", b""):
        shard.write_bytes(junk)
        known_now, filed_now = filed_stamps(root)
        assert filed_now[target] is None
        assert all(cache_shard(path) != target for path in known_now)
    # Whole stamps, cut entries: the stamps alone look fine, the loader's decoding of the file does not;
    # the children's answer then is not taken, and the scan is done here.
    shard.write_bytes(whole[:-5])
    assert filed_stamps(root)[1][target] == filed[target]
    broken = Cache(root, fingerprint(load_settings(root)[0].timezone))
    broken.load()
    assert broken.filed[target] is None
    assert BackgroundScan(root).result([], broken.stamps(), broken.filed) == scan(root)


def cache_shard(path: str) -> int:
    from vaultcrm.vault.shards import shard_of

    return shard_of(path)
