"""Nothing planted in `.vaultcrm/` runs or is believed, and the cache never serves a stale note.

The vault sits in a synced folder, so anyone who can write a note can write its state folder too: the
parse cache's shards (and the old pickle shards' names), the ID counter, the lock files. Each test plants
junk at every one of those paths before every command, runs real commands in subprocesses, and compares
exit codes, output and the notes written with the same commands on a clean vault.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from conftest import write_vault
from reminder_data import config, customer_note, followup_note, studio_files

from vaultcrm.core.config import load_settings
from vaultcrm.core.loader import load_vault
from vaultcrm.vault import cache
from vaultcrm.vault.reader import read_note
from vaultcrm.vault.scan import scan

SERVICE_TODAY = """---
服务编号: SRV-2026-002
服务基本信息:
  服务日期: 2026-02-12
  服务时间: 10:00-11:00
  服务时长: 60分钟
客户信息:
  客户姓名: 李四
  客户编号: C-0002
服务信息:
  服务项目: 全身推拿
  服务技师: 李师傅
  服务费用: ¥198
客户反馈:
  满意度: 满意
  评分: 5
---
"""

FILES = {
    **studio_files(),
    "客户/C-0002 李四.md": customer_note("C-0002", "李四"),
    "服务记录/SRV-2026-002.md": SERVICE_TODAY,
    "跟进/FLW-2026-001.md": followup_note(),
    "随手记/想法.md": "# 只是一篇笔记\n",
    "预约/APP-2026-009.md": "---\n预约编号: APP-2026-009\n预约信息:\n  预约日期: 明天\n---\n",  # diagnostics
}

COMMANDS = [
    ("check",),
    ("stats", "--date", "2026-02-12", "--format", "json"),
    ("remind", "--at", "2026-02-12 09:00"),
    ("book", "-c", "张三", "--date", "2026-02-13", "--time", "10:00", "-s", "全身推拿", "--at", "2026-02-11 10:00"),
]

STATE_FILES = [
    *(f".vaultcrm/cache/{cache.NAME.format(n)}" for n in range(cache.SHARDS)),
    *(f".vaultcrm/cache/{old.format(n)}" for old in cache.OLD_NAMES for n in range(cache.SHARDS)),
    ".vaultcrm/ids.json",
    *(f".vaultcrm/locks/{name}.lock" for name in ("ids", "booking", "remind")),
]


class Payload:
    """Unpickling this opens (creates) the marker file: what a planted pickle could do, and worse."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TZ": "UTC"}
    env.pop("VAULTCRM_VAULT", None)
    return subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def notes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".vaultcrm" not in p.relative_to(root).parts}


def run_all(root: Path, plant) -> tuple[list, dict[str, bytes]]:
    """Each command after planting anew (a command may have replaced what was planted)."""
    results = []
    for args in COMMANDS:
        plant(root)
        proc = run(root, *args)
        results.append((args[0], proc.returncode, proc.stdout.replace(str(root), "V"),
                        proc.stderr.replace(str(root), "V")))
    return results, notes(root)


def make_vault(root: Path) -> Path:
    root.mkdir()
    (root / "vaultcrm.yaml").write_text(config(), encoding="utf-8")
    return write_vault(root, FILES)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = make_vault(tmp_path_factory.mktemp("clean") / "vault")
    results, written = run_all(root, lambda root: None)
    assert [code for _, code, _, _ in results] == [1, 0, 0, 0], results  # check: APP-2026-009 is broken
    assert "APP-2026-010" in results[3][2]  # the booking really happened
    return results, written


# -- what gets planted ---------------------------------------------------------------------------

def _each(root: Path, write) -> None:
    for rel in STATE_FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
        write(path)


def _bytes(data: bytes):
    return lambda root: _each(root, lambda path: path.write_bytes(data))


def _cycling(kinds: list[bytes], ids: bytes):
    """A different kind of junk at each path in turn; `ids` in the ID counter."""
    def plant(root: Path) -> None:
        turn = iter(range(10**6))
        _each(root, lambda path: path.write_bytes(kinds[next(turn) % len(kinds)]))
        (root / ".vaultcrm/ids.json").write_bytes(ids)

    return plant


_rng = random.Random(13)
GARBAGE = [
    b"", _rng.randbytes(7), _rng.randbytes(5000), b"\x00" * 64,
    # arrays, maps, strings and binaries declaring 4 G items or bytes that are not there; deep nesting
    b"\xdd\xff\xff\xff\xff\x01", b"\xdf\xff\xff\xff\xff\xa1a", b"\xdb\xff\xff\xff\xff",
    b"\x93\x04\xa1k\xc6\xff\xff\xff\xf0", b"\x91" * 100_000,
]
SHAPES = [  # well-formed msgpack and JSON, of other shapes
    msgspec.msgpack.encode({"a": [1, 2, {"b": None}], "c": 1.5}),
    msgspec.msgpack.encode([4, "key", {"预约/APP-2026-001.md": ["APP", [1, 2], {}, []]}]),
    msgspec.msgpack.encode([4, "key", b"\x90"]),
    msgspec.msgpack.encode([8, "key", "", b"\x81\xa1x\x94\x01\x02\x03\x04", b"\x91\x94\x91\xa1x\x91\xa5APP-1\x90\x90"]),
    b'{"C-": null, "APP-2026-": 1e999, "FLW-2026-": [1], "SRV-2026-": "x"}',
]


def _directory(root: Path) -> None:
    def write(path: Path) -> None:
        path.mkdir()
        (path / "x").write_bytes(b"junk")

    _each(root, write)


def _fifo(root: Path) -> None:
    _each(root, lambda path: os.mkfifo(path))


def _symlink_to(target: Path):
    return lambda root: _each(root, lambda path: path.symlink_to(target))


def _poisoned(root: Path) -> None:
    """Well-formed shards of the right format and key, entries stamped like the very files they name
    and filed under their true ID and head, whose data no note could produce: each must be refused
    when it is decoded (on first use), never believed. The entries of notes without a record carry a
    diagnostic line no note has, which refuses their whole shard as it is read."""
    settings, _ = load_settings(root)
    forged = cache.Cache(root, cache.fingerprint(settings.timezone))
    poison = {
        "APP": lambda d: d["service"].update(price="NaN", duration=10**12),
        "SRV": lambda d: d["basics"].update(duration=-5) or d["feedback"].update(stars=99),
        "FLW": lambda d: d.update(id="FLW-evil"),
        "CUS": lambda d: d.update(name=5) or d["consent"].update(date="2026-02-01T10:00:00+08:00"),
    }
    for path, stamp in scan(root).items():
        note = read_note(root, path)[1]
        entry = cache.make_entry(note)  # the true ID, head and diagnostics
        if note.data is not None:
            data = msgspec.to_builtins(note.data)
            poison[note.kind](data)
            entry = msgspec.structs.replace(entry, data=msgspec.Raw(msgspec.msgpack.encode(data)))
        else:
            entry = cache.NoRecord(note.kind, ((-1, "fatal", "出错了"),))
        n = cache.shard_of(path)
        forged.shard(n)[path], forged.stamp_shards[n][path] = entry, stamp
    _each(root, lambda path: None)
    for n in range(cache.SHARDS):
        if forged.stamp_shards[n]:
            (root / ".vaultcrm/cache" / cache.NAME.format(n)).write_bytes(forged.encode(n))


JUNK = {
    "garbage": _cycling(GARBAGE, b"[" * 100_000),
    "other-shapes": _cycling(SHAPES, SHAPES[-1]),
    "poisoned-entries": _poisoned,
    "directory": _directory,
    "fifo": _fifo,
}


@pytest.mark.slow
@pytest.mark.parametrize("junk", list(JUNK))
def test_junk_in_every_state_file_changes_nothing(tmp_path, clean, junk):
    root = make_vault(tmp_path / "vault")
    results, written = run_all(root, JUNK[junk])
    assert results == clean[0]
    assert written == clean[1]


@pytest.mark.slow
def test_a_planted_pickle_never_runs(tmp_path, clean):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Payload(marker))
    pickle.loads(payload)  # the payload is live: unpickled, it makes the marker
    assert marker.exists()
    marker.unlink()
    root = make_vault(tmp_path / "vault")
    results, written = run_all(root, _bytes(payload))
    assert not marker.exists()
    assert results == clean[0]
    assert written == clean[1]
    left = sorted(p.name for p in (root / ".vaultcrm/cache").iterdir())
    assert left and all(name.endswith(".msgpack") for name in left)  # old-format shards are removed


@pytest.mark.slow
def test_symlinks_in_the_state_folder_are_not_followed(tmp_path, clean):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"someone else's file\n")
    root = make_vault(tmp_path / "vault")
    results, written = run_all(root, _symlink_to(outside))
    assert outside.read_bytes() == b"someone else's file\n"
    assert results == clean[0]
    assert written == clean[1]


# -- staleness -------------------------------------------------------------------------------------

def _same_size_edit(path: Path, old: str, new: str, *, by_rename: bool = False) -> None:
    """Change the note's bytes, keep its size, and put its mtime back as a sync tool does."""
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert old in text and len(old.encode()) == len(new.encode())
    data = text.replace(old, new).encode("utf-8")
    if by_rename:
        tmp = path.with_name(".edit.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:
        path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def _periods(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["预约时段分析"]


@pytest.mark.parametrize("by_rename", [False, True], ids=["in-place", "by-rename"])
def test_a_same_size_edit_with_its_mtime_restored_is_seen(vault, by_rename):
    root = vault({**FILES}, config=config())
    stats = ("stats", "--date", "2026-02-12", "--format", "json")
    assert _periods(run(root, *stats))["下午"] == 1  # APP-2026-001 at 14:00
    assert load_vault(root).stats.parsed == 0  # the cache is warm
    _same_size_edit(root / "预约/APP-2026-001.md", "预约时间: '14:00'", "预约时间: '09:00'", by_rename=by_rename)
    periods = _periods(run(root, *stats))
    assert (periods["上午"], periods["下午"]) == (1, 0)


def test_the_loaded_vault_sees_it_too(vault):
    root = vault({**FILES}, config=config())
    assert load_vault(root).index.customers["C-0002"].name == "李四"
    _same_size_edit(root / "客户/C-0002 李四.md", "客户姓名: 李四", "客户姓名: 王五")
    _same_size_edit(root / "服务记录/SRV-2026-002.md", "¥198", "¥298")
    again = load_vault(root)
    assert again.stats.parsed == 2
    assert again.index.customers["C-0002"].name == "王五"
    assert again.index.services["SRV-2026-002"].service.fee == 298


def test_a_cache_filled_by_this_version_is_used_and_equal(vault):
    root = vault({**FILES}, config=config())
    cold = load_vault(root)
    warm = load_vault(root)
    assert (warm.stats.parsed, warm.stats.cached) == (0, len(cold.files))
    assert warm.index.records == cold.index.records and warm.index.records
    assert [str(d) for d in warm.diagnostics] == [str(d) for d in cold.diagnostics] and warm.diagnostics
    first = warm.index.appointments["APP-2026-001"]
    assert first.state.created_at == dt.datetime(2026, 2, 1, 10, 0)


def _shard_file(root: Path, path: str) -> Path:
    return root / ".vaultcrm/cache" / cache.NAME.format(cache.shard_of(path))


def _replant(root: Path, path: str, change) -> None:
    """Rewrite the shard that holds `path`: `change(stamps, entries)` edits it (path → entry)."""
    settings, _ = load_settings(root)
    found = cache.Cache(root, cache.fingerprint(settings.timezone))
    found.load()
    n = cache.shard_of(path)
    change(found.stamp_shards[n], found.shard(n))
    _shard_file(root, path).write_bytes(found.encode(n))


def _poison_data(entries: dict, path: str, edit) -> None:
    data = msgspec.msgpack.decode(entries[path].data)
    edit(data)
    entries[path] = msgspec.structs.replace(entries[path], data=msgspec.Raw(msgspec.msgpack.encode(data)))


@pytest.mark.parametrize("poison", [
    lambda d: d["service"].update(price="NaN"),  # data no note could give
    lambda d: d["info"].update(date="2026-03-01"),  # well-formed data that contradicts the head it is filed by
], ids=["poisoned", "contradicting-its-head"])
def test_cached_data_that_fails_its_checks_is_read_from_the_note(vault, poison):
    root = vault({**FILES}, config=config())
    clean = load_vault(root).index.appointments["APP-2026-001"]
    _replant(root, "预约/APP-2026-001.md", lambda stamps, entries: _poison_data(entries, "预约/APP-2026-001.md", poison))
    again = load_vault(root)
    assert again.stats.parsed == 0  # the entry passed the load: its data is checked when first looked at
    assert again.index.appointments["APP-2026-001"] == clean


def test_a_forged_entry_for_a_note_without_that_record_stops_the_command_and_is_dropped(vault):
    """An entry stamped like a plain note, filed as an appointment of the day, with data that fails its
    checks: the note holds no appointment, so the command stops, tells the user and writes nothing; that
    shard is dropped, and the next run parses the note again."""
    root = vault({**FILES}, config=config())
    load_vault(root)
    forged, target = "随手记/想法.md", "预约/APP-2026-001.md"
    taken: dict = {}
    _replant(root, target, lambda stamps, entries: taken.update(entries))
    entry = msgspec.structs.replace(taken[target], id="APP-2026-777")
    taken[forged] = entry
    _poison_data(taken, forged, lambda d: d.update(id="APP-2026-777") or d["service"].update(price="NaN"))

    def forge(stamps, entries):
        stamps[forged], entries[forged] = scan(root)[forged], taken[forged]

    _replant(root, forged, forge)
    before = notes(root)
    proc = run(root, "agenda", "--date", "2026-02-12", "--at", "2026-02-12 08:00")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{forged}: 解析缓存与笔记不符" in proc.stderr and "Traceback" not in proc.stderr
    assert notes(root) == before
    assert not _shard_file(root, forged).exists()
    again = run(root, "agenda", "--date", "2026-02-12", "--at", "2026-02-12 08:00")
    assert again.returncode == 0, again.stderr
    assert "APP-2026-001" in again.stdout and "APP-2026-777" not in again.stdout


@pytest.mark.slow
def test_watch_sees_a_same_size_edit_with_its_mtime_restored(vault):
    from conftest import WatchProcess, wait_until
    from test_watch import UPDATE, app_note, figure, monthly

    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", channel="电话")})
    w = WatchProcess(root)
    try:
        assert figure(monthly(root, "2026-02"), "电话预约") == 1
        _same_size_edit(root / "预约/APP-2026-001.md", "预约渠道: 电话", "预约渠道: 微信")
        wait_until(lambda: figure(monthly(root, "2026-02"), "微信预约") == 1, UPDATE * 2, "the edit counted", w)
        assert figure(monthly(root, "2026-02"), "电话预约") == 0
    finally:
        assert w.stop() == 0, w.output()
    assert "Traceback" not in w.output()


@pytest.mark.parametrize("link", [".vaultcrm", ".vaultcrm/cache"])
def test_a_cache_folder_symlinked_out_of_the_vault_is_neither_read_nor_written(vault, tmp_path, link):
    root = vault({**FILES}, config=config())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(elsewhere, target_is_directory=True)
    first, second = load_vault(root), load_vault(root)
    assert list(elsewhere.rglob("*")) == []
    assert (first.stats.parsed, second.stats.parsed) == (len(FILES), len(FILES))
    assert second.index.customers["C-0002"].name == "李四"
