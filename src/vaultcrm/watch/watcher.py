"""Watch mode: keep the statistics notes current while people edit the vault (`vaultcrm watch`).

Why it is built this way:
- File events name the paths to look at; what changed is read from the loader's file table (path →
  mtime, size, ctime, inode) before and after a reload, so merged or out-of-order events (Obsidian
  writing in place, editors saving through a temp file and a rename, sync tools) still end in the right
  notes being regenerated; a move is one path gone and one path new. Only the paths (and folders) the
  events named are stat-ed again, not the whole vault; when the kernel dropped events, and with
  `--poll` (network drives), the whole vault is scanned.
- The same numbered events make the watch a file monitor for the other commands (`monitor.py`): they
  ask it what changed since their cache was written instead of stat-ing every note.
- A burst of saves is one regeneration: events are collected until the vault has been quiet for the
  debounce window (or for at most MAX_WAIT while events keep coming), then the vault is reloaded once.
  The parse cache makes a reload cost one parse per changed note.
- Only the affected days and months are regenerated: those of each changed record before the change
  (previous index) and after it (new index), as `stats_notes.affected_periods` defines them.
- The watcher never reacts to its own writes: each note it writes is remembered with its stamp, and an
  event for a file that still has that stamp is dropped. Dot-folders (`.obsidian/`, `.vaultcrm/`,
  `.trash/`), editor temp and lock files are never notes (`scan.is_ignored`).
- A broken note is reported once, with its line; the watcher carries on and counts the note once it is
  fixed. A failed regeneration keeps the previous index, so the next attempt redoes the same work.

Nothing here prints: reports go to the caller's callback, and `cli/watch.py` renders them.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import CONFIG_NAME
from ..core.index import VaultIndex
from ..core.loader import Vault, load_vault
from ..diagnostics import Diagnostic, Severity
from ..errors import VaultCRMError
from ..models import Customer, Record
from ..services.log_table import update_service_log
from ..stats.notes import affected_periods, update_statistics
from ..stats.periods import Month
from ..vault.scan import SKIP_DIRS, is_ignored
from .monitor import ChangeLog, MonitorServer

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent

MAX_WAIT = 3.0  # seconds: a save every few milliseconds, without pause, still regenerates this often
TICK = 0.2  # seconds: how often the loop looks at the stop flag and the calendar
STOP_WAIT = 5.0  # seconds: the longest the file observer may take to stop
RETRY_FIRST, RETRY_MAX = 2.0, 60.0  # backoff after a failed regeneration (dashboard open elsewhere, …)

_TABLES = (("APP", "appointments"), ("SRV", "services"), ("FLW", "followups"), ("CUS", "customers"))
_COUNTED = frozenset(kind for kind, _ in _TABLES)  # the records statistics count: 候补 and 请假 notes are not

Stamp = tuple[int, int, int]  # mtime_ns, size, inode


@dataclass(frozen=True)
class Started:
    at: dt.datetime
    notes: int
    written: tuple[str, ...]
    errors: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class Updated:
    at: dt.datetime
    changed: tuple[str, ...]  # record notes created, edited, moved or deleted
    written: tuple[str, ...]  # notes rewritten: daily, monthly, dashboard
    fixed: tuple[str, ...]  # notes whose errors are gone


@dataclass(frozen=True)
class NoteErrors:
    at: dt.datetime
    diagnostics: tuple[Diagnostic, ...]  # new since the last report: not repeated while unchanged


@dataclass(frozen=True)
class Failed:
    at: dt.datetime
    message: str
    retry_in: float
    error: BaseException | None = None  # an unexpected error, for the log's traceback


Report = Started | Updated | NoteErrors | Failed


@dataclass(frozen=True)
class Status:
    last_update: dt.datetime | None
    notes: int
    errors: int


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _ignored_dir(relpath: str) -> bool:
    return any(p.startswith(".") or p in SKIP_DIRS for p in relpath.replace("\\", "/").split("/"))


def _ids_at(index: VaultIndex, paths: set[str]) -> dict[str, set[tuple[str, str]]]:
    """(kind, ID) of the records stored at `paths`, duplicates included, building no models."""
    found: dict[str, set[tuple[str, str]]] = {}
    if not paths:
        return found
    at = index.ids_by_path
    for path in paths:
        if path in at and at[path][0] in _COUNTED:
            found.setdefault(path, set()).add(at[path])
    for record_id, records in index.duplicates.items():
        for record in records:
            if record.path in paths and record.kind in _COUNTED:
                found.setdefault(record.path, set()).add((record.kind, record_id))
    return found


def _lookup(index: VaultIndex, ids: set[tuple[str, str]]) -> list[Record]:
    tables = {kind: getattr(index, name) for kind, name in _TABLES}
    return [tables[kind][rid] for kind, rid in ids if kind in tables and rid in tables[kind]]


def _identity(customer: Customer) -> tuple:
    """What ties notes without a 客户编号 to a profile (`VaultIndex.customer_key`)."""
    return customer.name, customer.phone


@dataclass(frozen=True)
class Touched:
    """What a set of changed files means for the statistics."""

    notes: list[str]  # the record notes among them (where a record was or is)
    dates: set[dt.date]
    months: set[Month]
    services: bool  # a service record among them: the dashboard's 服务日志 may change


def touched_periods(old: VaultIndex, new: VaultIndex, changed: set[str]) -> Touched:
    """The record notes among `changed` paths, and the days and months their change can move.

    Each record is looked up by ID in both indexes, so an edit, a move (even of one of two notes sharing
    an ID) and a change of date count the record where it was and where it is. A customer profile whose
    name or phone changed can re-attach services to it, which moves 新客户服务 of their months.
    """
    at_old, at_new = _ids_at(old, changed), _ids_at(new, changed)
    ids = set().union(*at_old.values(), *at_new.values())
    dates: set[dt.date] = set()
    months: set[Month] = set()
    for index, other in ((old, new), (new, old)):
        records = _lookup(index, ids)
        groups = [records]
        for record in records:
            if isinstance(record, Customer):
                before = other.customers.get(record.id)
                if before is None or _identity(before) != _identity(record):
                    groups.append(index.services_of(record.id))
        for group in groups:
            days, group_months = affected_periods(group, index)
            dates |= days
            months |= group_months
    return Touched(sorted(at_old.keys() | at_new.keys()), dates, months, any(kind == "SRV" for kind, _ in ids))


class _Queue:
    """An event handler that logs each event for the file monitor and hands it from the observer's
    thread to the watcher's loop."""

    def __init__(self, sink: queue.SimpleQueue, log: ChangeLog):
        self.sink, self.log = sink, log

    def dispatch(self, event: FileSystemEvent) -> None:  # what watchdog calls on a handler
        self.log.note(event)
        self.sink.put(event)


def _observer(poll: bool, interval: float):
    """watchdog is imported here, not at the top: every other command would pay for it at start."""
    from watchdog import events as ev
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    # Not opened / closed-without-writing: reading a note (we do, to reload) is not a change.
    triggers = [ev.FileCreatedEvent, ev.FileModifiedEvent, ev.FileClosedEvent, ev.FileMovedEvent,
                ev.FileDeletedEvent, ev.DirCreatedEvent, ev.DirMovedEvent, ev.DirDeletedEvent]
    return (PollingObserver(timeout=interval) if poll else Observer()), triggers


def _start_worker(root: Path):
    """The warm worker (`python -m vaultcrm.warm.server`, which ends at once where it cannot serve:
    not on Linux, or with VAULTCRM_WARM=0); None when it could not be started."""
    import subprocess
    import sys

    try:
        # A session of its own: Ctrl-C in the watch's terminal must not reach a command running in it.
        return subprocess.Popen([sys.executable, "-m", "vaultcrm.warm.server", str(root), str(os.getpid())],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError:
        return None


class Watcher:
    """Loads the vault, then regenerates the affected statistics after each quiet burst of changes."""

    def __init__(self, root: Path, *, poll: bool = False, interval: float = 1.0, debounce: float = 0.3):
        self.root = Path(root)
        self.poll, self.interval, self.debounce = poll, interval, debounce
        self.vault: Vault | None = None
        self.last_update: dt.datetime | None = None
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._observer = None
        self._log = ChangeLog(self.root)  # every event, numbered: what changed since a load (monitor.py)
        self._server: MonitorServer | None = None
        self.serving = False  # the other commands can ask this watch what changed
        self._worker = None  # the warm worker commands run in (warm/server.py)
        self._own: dict[str, Stamp | None] = {}  # notes we wrote, as we left them
        self._first: float | None = None  # monotonic times of the first and last unhandled change
        self._last: float | None = None
        self._wake_at: float | None = None  # a retry or a new day: run a cycle then, events or not
        self._retry_delay = RETRY_FIRST
        self._failure: str | None = None  # the failure last reported, not repeated while it lasts
        self._reported: frozenset[Diagnostic] = frozenset()
        self._today: dt.date | None = None
        self._full_due = True  # every note, at start and after a config change
        self._new_day = False  # the dashboard's 今日/本月 blocks, at midnight

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> list[Report]:
        """Start observing, load the vault and bring every statistics note up to date.

        Observing starts first, so a save during the initial load is not missed. A broken
        `vaultcrm.yaml` raises ConfigError: there is nothing sensible to watch with.
        """
        self._observer, triggers = _observer(self.poll, self.interval)
        self._observer.schedule(_Queue(self._events, self._log), str(self.root), recursive=True,
                                event_filter=triggers)
        try:
            self._observer.start()
        except OSError as exc:
            raise VaultCRMError(f"无法监视 {self.root} 的文件变化：{exc.strerror or exc}",
                                details=["网络盘或同步文件夹请加 --poll 轮询；在 Linux 上也可调大 "
                                         "fs.inotify.max_user_watches / max_user_instances"]) from None
        if not self.poll:  # a poll sees a change only seconds later: too late to answer a command
            self._server = MonitorServer(self.root, self._log)
            self.serving = self._server.start()
        self.vault = self._load()
        if self.serving:
            self._worker = _start_worker(self.root)
        self._today = self.now().date()
        reports: list[Report] = []
        written = self._regenerate(self.vault, None, None, True, reports)
        self._reported = frozenset(d for d in self.vault.diagnostics if d.severity is Severity.ERROR)
        reports.insert(0, Started(self.now(), len(self.vault.files), tuple(written or ()),
                                  tuple(sorted(self._reported))))
        return reports

    def run(self, stop: threading.Event, report: Callable[[Report], None]) -> None:
        """Until `stop` is set: collect events, regenerate when due. Changes still pending at stop count."""
        while not stop.is_set():
            if self._observer is not None and not self._observer.is_alive():
                raise VaultCRMError(f"对 {self.root} 的文件监视意外中断（库目录被移动或卸载？），请重新运行 vaultcrm watch")
            self._collect(self._wait_time())
            self._check_day()
            if self._due():
                for item in self._cycle():
                    report(item)
        if self._first is not None:
            for item in self._cycle():
                report(item)

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.terminate()
            self._worker.wait(timeout=10)
        if self._server is not None:
            self._server.stop()
        if self._observer is not None and self._observer.is_alive():
            # watchdog's stop() joins its emitter threads without a time limit: a snapshot stuck on a
            # hung network drive must not keep the watch from ending (its threads are daemons).
            stopper = threading.Thread(target=self._observer.stop, name="vaultcrm-observer-stop", daemon=True)
            stopper.start()
            stopper.join(timeout=STOP_WAIT)
            self._observer.join(timeout=STOP_WAIT)

    def status(self) -> Status:
        return Status(self.last_update, len(self.vault.files) if self.vault else 0, len(self._reported))

    # -- events ------------------------------------------------------------------------------------
    def _due_at(self) -> float | None:
        """When the next cycle is due: a debounce after the last change (at most MAX_WAIT after the
        first one of a burst that never pauses), or at a retry or a new day."""
        times = [] if self._wake_at is None else [self._wake_at]
        if self._first is not None and self._last is not None:
            times += [self._last + self.debounce, self._first + MAX_WAIT]
        return min(times, default=None)

    def _wait_time(self) -> float:
        due = self._due_at()
        return TICK if due is None else min(TICK, max(0.0, due - time.monotonic()))

    def _collect(self, timeout: float) -> None:
        try:
            event = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
        except queue.Empty:
            return
        while True:
            if self._matters(event):
                self._last = time.monotonic()
                if self._first is None:
                    self._first = self._last
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return

    def _matters(self, event: FileSystemEvent) -> bool:
        paths = [os.fsdecode(event.src_path)] + ([os.fsdecode(event.dest_path)] if event.dest_path else [])
        for path in paths:
            rel = os.path.relpath(path, self.root)
            if rel.startswith(".."):
                continue
            if event.is_directory:
                if rel != "." and not _ignored_dir(rel):
                    return True
            elif rel == CONFIG_NAME:
                return True
            elif not is_ignored(rel) and not (rel in self._own and _stamp(path) == self._own[rel]):
                return True
        return False

    def _check_day(self) -> None:
        """At midnight the dashboard's 今日/本月 blocks move on, though no note changed."""
        if self.vault is None:
            return
        today = self.now().date()
        if today != self._today:
            self._today, self._new_day = today, True
            self._wake_at = time.monotonic()

    def _due(self) -> bool:
        due = self._due_at()
        return due is not None and time.monotonic() >= due

    # -- regeneration ------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        tz = self.vault.settings.tz if self.vault else None
        return dt.datetime.now(tz).replace(tzinfo=None, microsecond=0)

    def _load(self) -> Vault:
        # Only the notes the events named are looked at, and only those that changed are parsed. A poll
        # compares mtimes and sizes only (a sync tool may restore both): there the loader scans.
        changes = None if self.poll else self._log.since(self.vault.token if self.vault is not None else None)
        vault = load_vault(self.root, previous=self.vault, changes=changes)
        gc.unfreeze()  # load_vault freezes what it built for a one-shot command; here old indexes must go
        return vault

    def _cycle(self) -> list[Report]:
        self._first = self._last = self._wake_at = None
        old = self.vault
        reports: list[Report] = []
        try:
            new = self._load()
        except VaultCRMError as exc:  # a broken vaultcrm.yaml: keep the last good state until it is fixed
            self._fail(exc.message, None, reports)
            return reports
        errors = frozenset(d for d in new.diagnostics if d.severity is Severity.ERROR)
        if errors - self._reported:
            reports.append(NoteErrors(self.now(), tuple(sorted(errors - self._reported))))
        fixed = sorted(({d.path for d in self._reported} - {d.path for d in errors}) & new.files.keys())
        self._reported = errors
        try:
            changed = {path for path, _ in old.files.items() ^ new.files.items()}
            touched = touched_periods(old.index, new.index, changed)
            notes = touched.notes
            if new.settings != old.settings:
                notes, self._full_due = [*notes, CONFIG_NAME], True
            if not (notes or self._full_due or self._new_day):
                self.vault = new  # plain notes, the dashboard's own text: nothing to count
                return reports
            if self._full_due:
                written = self._regenerate(new, None, None, True, reports)
            else:
                written = self._regenerate(new, touched.dates, touched.months, self._new_day or touched.services,
                                           reports)
        except Exception as exc:  # noqa: BLE001 - a bug must not end the watch; it is logged with its traceback
            self._fail(f"意外错误：{type(exc).__name__}: {exc}", exc, reports)
            return reports
        if written is not None:
            self.vault = new
            reports.append(Updated(self.now(), tuple(notes), tuple(written), tuple(fixed)))
        return reports

    def _regenerate(self, vault: Vault, dates, months, service_log: bool, reports: list[Report]) -> list[str] | None:
        """Write the affected notes (all of them for None); None and a Failed report when refused.

        On failure the caller keeps the previous vault, so the retry sees the same changes again.
        """
        today = self.now().date()
        try:
            written = update_statistics(vault, dates=dates, months=months, today=today)
            dashboard = vault.settings.folders.dashboard
            if service_log and update_service_log(vault, today) and dashboard not in written:
                written.append(dashboard)
        except (VaultCRMError, OSError) as exc:
            self._fail(exc.message if isinstance(exc, VaultCRMError) else f"写入失败：{exc}", None, reports)
            return None
        for rel in written:  # as we left them: an event for a file still like this is our own
            self._own[os.path.normpath(rel)] = _stamp(str(self.root / rel))
        self.last_update = self.now()
        self._failure, self._retry_delay = None, RETRY_FIRST
        self._full_due = self._new_day = False
        return written

    def _fail(self, message: str, error: BaseException | None, reports: list[Report]) -> None:
        """Report a failure once while it lasts, and retry with a growing pause."""
        delay = self._retry_delay
        self._wake_at = time.monotonic() + delay
        self._retry_delay = min(delay * 2, RETRY_MAX)
        if message != self._failure:
            self._failure = message
            reports.append(Failed(self.now(), message, delay, error))


__all__ = ["Failed", "NoteErrors", "Report", "Started", "Status", "Touched", "Updated", "Watcher", "touched_periods"]
