"""`load_vault(root)`: scan → cache lookup → read and parse what changed → models → index.

Cross-record checks (duplicate IDs, dangling references) need every model built, so they are run by
`check`, not on every load (`checks.run_checks`).

A cold start on a large vault parses in worker processes (the second core); a warm start only stats
files and reads the cache. The garbage collector is paused while hundreds of thousands of small
objects are built, which otherwise costs more than the parsing itself.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings, load_settings
from ..diagnostics import Diagnostic
from ..index import VaultIndex
from ..models import Record
from .cache import Cache, fingerprint
from .reader import ParsedNote, read_note
from .scan import scan

PARALLEL_THRESHOLD = 2000  # below this, starting workers costs more than it saves
CHUNK = 1000

Progress = Callable[[int, int], None]


@dataclass
class LoadStats:
    files: int = 0
    parsed: int = 0
    cached: int = 0
    seconds: float = 0.0


@dataclass
class Vault:
    """A loaded vault: where it is, its settings, its records and what is wrong with them."""

    root: Path
    settings: Settings
    index: VaultIndex
    diagnostics: list[Diagnostic] = field(default_factory=list)
    stats: LoadStats = field(default_factory=LoadStats)
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (mtime_ns, size) as read

    def loaded_stamp(self, record: Record) -> tuple[int, int] | None:
        return self.files.get(record.path)


def _parse_chunk(root: str, paths: list[str]) -> list[ParsedNote]:
    base = Path(root)
    gc.disable()
    try:
        return [read_note(base, p)[1] for p in paths]
    finally:
        gc.enable()


def _parse_parallel(root: Path, paths: list[str], workers: int, progress: Progress | None, done: int,
                    total: int) -> list[ParsedNote]:
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    results: list[ParsedNote] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for chunk_result in pool.map(_parse_chunk, [str(root)] * len(chunks), chunks):
            results.extend(chunk_result)
            done += len(chunk_result)
            if progress:
                progress(done, total)
    return results


def _workers(requested: int | None) -> int:
    if requested is not None:
        return requested
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, min(os.cpu_count() or 1, 8))


STALE_TEMP_SECONDS = 3600


def _sweep(temp_files: list[str]) -> None:
    """Remove temp files a killed vaultcrm left behind (old enough that no writer still owns them)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in temp_files:
        try:
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
        except OSError:
            pass


def load_vault(root: Path, settings: Settings | None = None, *, use_cache: bool = True,
               workers: int | None = None, progress: Progress | None = None) -> Vault:
    """Load every record of the vault. Raises ConfigError for a broken `vaultcrm.yaml`, nothing else."""
    started = time.perf_counter()
    root = Path(root)
    if settings is None:
        settings, _ = load_settings(root)
    stats = LoadStats()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        leftovers: list[str] = []
        files = scan(root, leftovers)
        _sweep(leftovers)
        stats.files = len(files)
        cache = Cache(root, fingerprint(settings.timezone))
        if use_cache:
            cache.load()
        records: list[Record] = []
        cached: list[tuple[str, dict]] = []
        diagnostics: list[Diagnostic] = []
        stale: list[str] = []
        for path, (mtime_ns, size) in files.items():
            entry = cache.get(path, mtime_ns, size)
            if entry is None:
                stale.append(path)
                continue
            kind, data, diags = entry[2], entry[3], entry[4]
            if data is not None:
                data["path"] = path
                cached.append((kind, data))
            if diags:
                diagnostics.extend(diags)
        stats.cached = len(files) - len(stale)
        stats.parsed = len(stale)
        n_workers = _workers(workers)
        if progress:
            progress(stats.cached, len(files))
        if len(stale) >= PARALLEL_THRESHOLD and n_workers > 1:
            parsed = _parse_parallel(root, stale, n_workers, progress, stats.cached, len(files))
            for note in parsed:
                if note.data is not None:
                    cached.append((note.kind, dict(note.data, path=note.path)))
        else:
            parsed = []
            for i, path in enumerate(stale, 1):
                record, note = read_note(root, path)
                parsed.append(note)
                if record is not None:
                    records.append(record)
                if progress and i % 500 == 0:
                    progress(stats.cached + i, len(files))
        for note in parsed:
            mtime_ns, size = files[note.path]
            cache.put(note.path, (mtime_ns, size, note.kind, note.data, tuple(note.diagnostics)))
            diagnostics.extend(note.diagnostics)
        if use_cache:
            cache.retain(files.keys())
            cache.save()
        index = VaultIndex(root, records, cached)
    finally:
        if gc_was_enabled:
            gc.freeze()  # what was loaded lives as long as the command: keep it out of later collections
            gc.enable()
    diagnostics.sort(key=lambda d: (d.path, d.line, d.message))
    stats.seconds = time.perf_counter() - started
    if progress:
        progress(len(files), len(files))
    return Vault(root, settings, index, diagnostics, stats, files)
