"""`load_vault(root)`: scan → cache lookup → read and parse what changed → models → index.

Cross-record checks (duplicate IDs, dangling references) need every model built, so they are run by
`check`, not on every load (`checks.run_checks`).

A cold start on a large vault parses in worker processes (the second core). A warm start reads the
cache and builds the index from it while forked children stat every file; their answer then confirms
the index (the usual case, found in one comparison) or `_reload` parses what changed into it. The
garbage collector is paused while hundreds of thousands of small objects are built, which otherwise
costs more than the parsing itself.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..diagnostics import Diagnostic
from ..errors import VaultCRMError
from ..models import Record
from ..vault import monitor
from ..vault.cache import SHARDS, Cache, Stamp, diagnostics_of, fingerprint, oldest, shard_of
from ..vault.lock import untouched_since
from ..vault.reader import read_note
from ..vault import scan as scans
from ..vault.scan import TEMP_MARK, BackgroundScan, scan, take_ahead
from ..vault.writer import sweep_temp_files
from . import journal
from .config import STATE_DIR, Settings, load_settings
from .index import VaultIndex

PARALLEL_THRESHOLD = 2000  # stale notes; below this, starting workers costs more than it saves
TASKS = 8  # groups of cache shards handed to the workers

Progress = Callable[[int, int], None]


@dataclass
class LoadStats:
    files: int = 0
    parsed: int = 0
    cached: int = 0
    seconds: float = 0.0
    monitored: bool = False  # the files came from a watch's file monitor, not from a scan


@dataclass
class Vault:
    """A loaded vault: where it is, its settings, its records and what is wrong with them."""

    root: Path
    settings: Settings
    index: VaultIndex
    diagnostics: list[Diagnostic] = field(default_factory=list)
    stats: LoadStats = field(default_factory=LoadStats)
    files: dict[str, Stamp] = field(default_factory=dict)  # path -> (mtime_ns, size, ctime_ns, inode) as read
    recovered: list[journal.Recovered] = field(default_factory=list)  # interrupted operations finished at load
    token: str = ""  # the file monitor's token `files` is as good as (vault/monitor.py); "" without one
    cache: Cache | None = field(default=None, repr=False, compare=False)  # every shard, as `files` (reloads)

    def loaded_stamp(self, record: Record) -> tuple[int, int] | None:
        """(mtime_ns, size) of the record's note as it was read, for `store.update_record`."""
        stamp = self.files.get(record.path)
        return stamp[:2] if stamp is not None else None


def _refresh_shards(root: str, key: str, folder: str, shards: list[int],
                    files: dict[str, Stamp], token: str = "", rewrite: bool = False) -> dict[int, bytes] | None:
    """In a worker: bring these cache shards up to date with `files` and save them.

    Returns the shards (encoded) only when they could not be saved (a read-only vault), so the parsed
    data crosses between processes once, through the cache file, in the usual case.
    """
    gc.disable()
    base = Path(root)
    cache = Cache(base, key, Path(folder))
    cache.load(shards)
    cache.token = token
    if rewrite:
        cache.dirty.update(shards)
    for path, stamp in files.items():
        if cache.get(path, stamp) is None:
            cache.put(path, stamp, read_note(base, path)[1])
    cache.retain(files.keys(), shards)
    return None if cache.save() else {n: cache.encode(n) for n in shards}


def _refresh_in_workers(root: Path, cache: Cache, files: dict[str, Stamp], workers: int,
                        progress: Progress | None, done: int) -> None:
    """Parse what is stale on every core, shard by shard, then read the shards back."""
    by_shard: dict[int, dict[str, Stamp]] = {n: {} for n in range(SHARDS)}
    for path, stamp in files.items():
        by_shard[shard_of(path)][path] = stamp
    groups = [list(range(i, SHARDS, TASKS)) for i in range(TASKS)]
    tasks = [{path: stamp for n in group for path, stamp in by_shard[n].items()} for group in groups]
    total = len(files)
    from concurrent.futures import ProcessPoolExecutor  # only a first load of many notes needs it

    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_refresh_shards, [str(root)] * TASKS, [cache.key] * TASKS, [str(cache.folder)] * TASKS,
                           groups, tasks, [cache.token] * TASKS, [len(cache.dirty) == SHARDS] * TASKS)
        for group, task, unsaved in zip(groups, tasks, results):
            if unsaved is None:
                cache.load(group)
            else:
                for n, blob in unsaved.items():
                    cache.decode(n, blob)
            if progress:
                done += len(task)
                progress(min(done, total), total)


def _workers(requested: int | None) -> int:
    if requested is not None:
        return requested
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, min(os.cpu_count() or 1, 8))


def _sweep(root: Path, temp_files: list[str]) -> None:
    """Remove temp files a killed vaultcrm left behind, beside notes, in `.vaultcrm/` (ids.json's) and in
    its cache (shards hold whole notes).

    Every command loads the vault before it writes, so they go at the start of the next command;
    vault/writer.py keeps any a running writer still owns.
    """
    for folder in (root / STATE_DIR, root / STATE_DIR / "cache"):
        try:
            with os.scandir(folder) as entries:
                temp_files.extend(e.path for e in entries if TEMP_MARK in e.name and e.name.endswith(".tmp"))
        except OSError:
            pass
    if temp_files:
        sweep_temp_files(temp_files)


def _as_cached(root: Path, settings: Settings, cache: Cache) -> Vault:
    """The vault as the cache holds it, every record still encoded: a load's starting point, which the
    scan then confirms (the usual case) or corrects through `_reload`."""
    by_kind: dict[str, list[tuple]] = {}
    for records in cache.records():
        for kind, items in records.items():
            by_kind.setdefault(kind, []).extend(items)
    diagnostics = [d for path, found in cache.diagnostics() for d in diagnostics_of(path, found)]
    index = VaultIndex.of_encoded(root, by_kind, partial(_reread, root, cache))
    return Vault(root, settings, index, diagnostics, files=cache.stamps(), cache=cache)


class CacheMismatch(VaultCRMError):
    """A cached entry's data failed its checks and its note holds no such record now: a cache file
    written by someone else. The command stops before it writes anything; that shard is dropped, so
    the next command parses those notes again."""

    def __init__(self, path: str):
        super().__init__(f"{path}: 解析缓存与笔记不符，已停止并清除这部分缓存。请重新运行命令")


def _reread(root: Path, cache: Cache, path: str, kind: str) -> Record:
    """The record of `kind` a note holds now, for an entry whose cached data failed its checks."""
    record = read_note(root, path)[0]
    if record is None or record.kind != kind:
        cache.drop(path)
        raise CacheMismatch(path)
    return record


REUSE_LIMIT = 2000  # changed notes beyond which a reload starts afresh rather than from `previous`


def _reload(previous: Vault, settings: Settings, files: dict[str, Stamp], stats: LoadStats, token: str
            ) -> tuple[VaultIndex, list[Diagnostic], Cache | None] | None:
    """The index for `files`, parsing only the notes changed since `previous`: a load of the same vault
    (watch mode reloads this way), or the vault as the cache holds it (`_as_cached`, every warm start).

    None when a fresh load is simpler: other settings, many changes, or duplicate IDs in `previous`
    (a duplicate's record is not in the index tables, so it could not be carried over).
    """
    same = files is previous.files or files == previous.files  # the usual case: found at once
    changed = [] if same else sorted(path for path, _ in files.items() - previous.files.items())
    if settings != previous.settings or len(changed) > REUSE_LIMIT:
        return None
    if same:
        if previous.cache is not None:
            previous.cache.token = token
            previous.cache.save()  # the shards made dirty to take a watch's token, if any
        stats.parsed, stats.cached = 0, len(files)
        return previous.index, [d for d in previous.diagnostics if d.path in files], previous.cache
    if previous.index.duplicates:
        return None
    root = previous.root
    touched_paths = {*changed, *(previous.files.keys() - files.keys())}
    touched = sorted({shard_of(path) for path in touched_paths})
    cache = previous.cache
    if cache is not None:  # kept in memory from a load that checked every entry: as good as `token`
        cache.token = token
    else:
        cache = Cache(root, fingerprint(settings.timezone))
        cache.load(touched)
        # Only the changed notes were checked: the rest of a shard is as good as the token it was read with.
        cache.token = oldest([token, *(cache.tokens[n] for n in touched)])
    fresh: list[Record] = []
    diagnostics = [d for d in previous.diagnostics if d.path in files and d.path not in touched_paths]
    for path in changed:
        record, note = read_note(root, path)
        cache.put(path, files[path], note)
        if record is not None:
            fresh.append(record)
        diagnostics.extend(note.diagnostics)
    cache.retain(files.keys(), touched)
    cache.save()
    stats.parsed, stats.cached = len(changed), len(files) - len(changed)
    if previous.cache is None:
        cache = None  # only the touched shards were read: not a whole cache to keep
    index = previous.index.updated(touched_paths, fresh)
    if index is None:  # an ID now taken twice: built afresh, so that duplicates come out as a fresh load has them
        records: list[Record] = list(fresh)
        cached: list[tuple] = []
        for path, (kind, item) in previous.index.by_path().items():
            if path in touched_paths:
                continue
            if type(item) is tuple:  # still encoded: stays so
                cached.append(item)
            else:
                records.append(previous.index.table(kind).model_of(item))
        index = VaultIndex(root, records, cached, previous.index.reread)
    return index, diagnostics, cache


def _scan_taken_over(root: Path, recovered: list) -> BackgroundScan | None:
    """The scan the program started ahead of this load (`scan.scan_ahead`), if nothing it could
    have missed happened since it started: no other process took a vaultcrm lock of the vault (a write
    made under one, say another `book`, must be seen by a command loading under that lock), and no
    interrupted operation was finished just now."""
    ahead = take_ahead(root)
    if ahead is None:
        return None
    background, locks = ahead
    if not recovered and untouched_since(root, locks):
        return background
    background.cancel()
    return None


_warm: Vault | None = None  # a vault loaded before this process was forked to run a command (warm/)


def serve_warm(vault: Vault | None) -> None:
    """Let the next `load_vault` of `vault.root` start from `vault` (the warm worker's child process)."""
    global _warm
    _warm = vault
    scans.ahead_allowed = vault is None  # its loads are answered by the watch: no scan to start ahead


def load_vault(root: Path, settings: Settings | None = None, *, use_cache: bool = True,
               workers: int | None = None, progress: Progress | None = None,
               previous: Vault | None = None, changes: monitor.Changes | None = None) -> Vault:
    """Load every record of the vault. Raises ConfigError for a broken `vaultcrm.yaml`, nothing else.

    `previous`, a load of the same vault, lets a reload parse only what changed since (watch mode);
    `changes`, what watch's own file monitor saw since `previous` was loaded, spares it the scan.
    Without them, a running watch is asked what changed since the cache was written (vault/monitor.py);
    with no watch, or no answer to trust, every file is looked at.
    """
    if (_warm is not None and previous is None and changes is None and settings is None and use_cache
            and Path(root) == _warm.root):
        return _from_warm(_warm.root, workers, progress)
    return _load(root, settings, use_cache=use_cache, workers=workers, progress=progress, previous=previous,
                 changes=changes)


def _from_warm(root: Path, workers: int | None, progress: Progress | None) -> Vault:
    """The warm vault itself when the watch saw no change since it was loaded, else reloaded from it.

    Asked after any interrupted operation is finished, so the answer includes what that wrote. The
    result is the next load's starting point (a command loads again under its lock).
    """
    global _warm
    warm, _warm = _warm, None
    recovered = journal.recover(root)
    changes = monitor.ask(root, warm.token)
    if changes is None or not changes.fresh:
        vault = _load(root, workers=workers, progress=progress)
    elif not (changes.files or changes.dirs or recovered) and load_settings(root)[0] == warm.settings:
        vault = warm
        vault.recovered = []
    else:
        vault = _load(root, workers=workers, progress=progress, previous=warm, changes=changes)
    if recovered:
        vault.recovered = recovered
        vault.diagnostics.extend(journal.diagnostics(recovered))
    _warm = vault
    return vault


def _load(root: Path, settings: Settings | None = None, *, use_cache: bool = True,
          workers: int | None = None, progress: Progress | None = None,
          previous: Vault | None = None, changes: monitor.Changes | None = None) -> Vault:
    started = time.perf_counter()
    root = Path(root)
    recovered = journal.recover(root)  # a killed multi-note operation is finished before anything is read
    if settings is None:
        settings, _ = load_settings(root)
    stats = LoadStats()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        leftovers: list[str] = []
        files: dict[str, Stamp] | None = None
        cache: Cache | None = None
        background: BackgroundScan | None = None
        if changes is None and previous is None and use_cache:
            # Scans while the cache is decoded and the index built from it, unless a watch answers.
            background = _scan_taken_over(root, recovered) or BackgroundScan(root)
            cache = Cache(root, fingerprint(settings.timezone))
            try:
                cache.load()
                changes = monitor.ask(root, cache.since())
                if changes is None or not changes.fresh:  # while the scan runs: the vault as the cache has it
                    previous = _as_cached(root, settings, cache)
            except BaseException:
                background.cancel()
                raise
            if changes is not None and changes.fresh:
                background.cancel()
                files = monitor.apply_changes(root, cache.stamps(), changes, leftovers)
        elif changes is not None and changes.fresh and previous is not None:
            files = monitor.apply_changes(root, dict(previous.files), changes, leftovers)
        stats.monitored = files is not None
        if files is None and background is not None:  # `previous` is then the vault as cached
            for step in previous.index.head_tables():  # while the scan runs: what most commands look up
                if background.answered():
                    break
                step()
            files = background.result(leftovers, previous.files, cache.filed)
        elif files is None:
            files = scan(root, leftovers)
        token = changes.token if changes is not None and use_cache else ""
        _sweep(root, leftovers)
        stats.files = len(files)
        if previous is not None and previous.cache is cache and token and not changes.fresh:
            cache.dirty.update(range(SHARDS))  # every shard gets this watch's token, or the next command scans
        reused = _reload(previous, settings, files, stats, token) if previous is not None and use_cache else None
        if reused is not None:
            index, diagnostics, kept = reused
            return _finish(Vault(root, settings, index, diagnostics, stats, files, token=token, cache=kept), started,
                           progress, recovered)
        scratch = None if use_cache else tempfile.TemporaryDirectory(prefix="vaultcrm-cache-")
        if cache is None:
            cache = Cache(root, fingerprint(settings.timezone), Path(scratch.name) if scratch else None)
            if use_cache:
                cache.load()
        cache.token = token
        if token and not changes.fresh:  # every shard gets this watch's token, or the next command scans
            cache.dirty.update(range(SHARDS))
        get = cache.get
        found: dict[str, object] | None = None  # path → its entry, for the notes the cache holds as they are now
        stale: list[str] = []
        if cache.stamps() != files:  # else (the usual warm start) every entry is as its file: one comparison
            found = {}
            for shard, stamps in zip(cache.shards, cache.stamp_shards):  # by shard: no hashing of paths into shards
                for path, stamp in stamps.items():
                    if files.get(path) == stamp:
                        found[path] = shard[path]
            stale = [path for path in files if path not in found]
        stats.parsed = len(stale)
        stats.cached = len(files) - len(stale)
        n_workers = _workers(workers)
        if progress:
            progress(stats.cached, len(files))
        records: list[Record] = []
        if len(stale) >= PARALLEL_THRESHOLD and n_workers > 1:
            _refresh_in_workers(root, cache, files, n_workers, progress, stats.cached)
        else:
            for i, path in enumerate(stale, 1):
                record, note = read_note(root, path)
                cache.put(path, files[path], note)
                if record is not None:
                    records.append(record)
                if progress and i % 500 == 0:
                    progress(stats.cached + i, len(files))
            if stale or len(cache) != len(files):  # else every entry is a file's: none to forget
                cache.retain(files.keys())
            if use_cache:
                cache.save()
        fresh = {r.path for r in records}  # parsed here: their models are at hand
        if found is None:  # every entry is as its file: taken as the cache holds them
            cached = [item for by_kind in cache.records() for items in by_kind.values() for item in items
                      if item[0] not in fresh]
            noted = list(cache.diagnostics())
        else:
            if stale:  # what was parsed just now is in the cache too
                found.update((path, get(path, files[path])) for path in stale)
            entries = [pair for pair in found.items() if pair[1] is not None]  # None: vanished since the scan
            cached = [(path, e.id, e.head, e.data, e.kind) for path, e in entries  # decoded on use
                      if e.data is not None and path not in fresh]
            noted = [(path, e.diagnostics) for path, e in entries if e.diagnostics]
        diagnostics = [d for path, found_here in noted for d in diagnostics_of(path, found_here)]
        if scratch is not None:
            scratch.cleanup()
        index = VaultIndex(root, records, cached, partial(_reread, root, cache))
    finally:
        if gc_was_enabled:
            gc.freeze()  # what was loaded lives as long as the command: keep it out of later collections
            gc.enable()
    kept = cache if use_cache else None  # every entry checked against `files`: reloads start from it
    return _finish(Vault(root, settings, index, diagnostics, stats, files, token=token, cache=kept), started, progress,
                   recovered)


def _finish(vault: Vault, started: float, progress: Progress | None, recovered: list[journal.Recovered]) -> Vault:
    vault.recovered = recovered
    vault.diagnostics.extend(journal.diagnostics(recovered))
    vault.diagnostics.sort(key=lambda d: (d.path, d.line, d.message))
    vault.stats.seconds = time.perf_counter() - started
    if progress:
        progress(len(vault.files), len(vault.files))
    return vault
