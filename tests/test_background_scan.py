"""The scan that runs in forked children while the parse cache is decoded (vault/scan.py)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from vaultcrm.vault import scan as scan_module
from vaultcrm.vault.scan import BackgroundScan, scan
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
    found = background.result(temp_there)
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
    assert background.result([]) == real(notes)


@linux_only
def test_a_cancelled_child_is_ended_and_reaped(notes):
    background = BackgroundScan(notes, 2)
    pids = [pid for pid, _ in background.children]
    background.cancel()
    assert background.children == []
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert background.result([]) == scan(notes)  # still answers, by a scan here


def test_no_fork_while_another_thread_runs(notes):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        background = BackgroundScan(notes)
        assert background.children == []
        assert background.result([]) == scan(notes)
    finally:
        stop.set()
        other.join()


@linux_only
def test_children_reaped_by_the_system(notes):
    """The warm worker ignores SIGCHLD (the kernel reaps its children): the scan still answers."""
    import signal

    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert BackgroundScan(notes).result([]) == scan(notes)
        BackgroundScan(notes).cancel()
    finally:
        signal.signal(signal.SIGCHLD, before)


def test_the_parts_of_a_split_scan_make_the_whole(notes):
    whole = scan(notes)
    parts = [scan(notes, part=(k, 3)) for k in range(3)]
    assert sum(map(len, parts)) == len(whole)
    assert {path: stamp for part in parts for path, stamp in part.items()} == whole
