"""The intent journal: operations that write several notes finish whole, even after a kill.

`log`, `book`, `import customers`, `customer forget`, `purge` and `restore` change several notes. Inside
`transaction(...)` the store does not write: it stages each note's final bytes (with a digest of what
the note held before). On leaving the block the whole set is written to `.vaultcrm/journal/*.json`
(data only, atomically, fsynced), then applied note by note, then the journal is deleted. A process
killed in between leaves the journal behind; the next vaultcrm command, whatever it is, replays it at
start-up (`recover`, called by `load_vault`) under the lock the operation held, and deletes it.

Every step is idempotent, so replaying a journal that was already partly replayed is safe:
- `put`: the note gets `data` unless it already holds it; it must still hold `before` (or not exist
  when `before` is null), otherwise someone edited it since and it is left alone (reported).
- `move`: the note at `from` (holding `before`) becomes `to` holding `data`: `to` is created first,
  then `from` removed, so there is never a moment with neither.
- `delete`: the note is removed if it still holds `before`.
- `append`: `line` is appended to a log file unless the file already holds it.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic, warning
from ..errors import ConcurrentChangeError
from ..vault.lock import LockTimeout
from ..vault.perms import PRIVATE_FILE, make_private
from ..vault.writer import (
    ConcurrentEditError,
    FileExistsConflict,
    FileStamp,
    UnsafePathError,
    create_exclusive,
    fsync_dir,
    read_stamped,
    safe_path,
    write_atomic,
)
from .config import STATE_DIR
from .locks import holding, is_held

JOURNAL_DIR = f"{STATE_DIR}/journal"
FORMAT = 1
_active: contextvars.ContextVar[Journal | None] = contextvars.ContextVar("vaultcrm_journal", default=None)
_own: set[str] = set()  # journal files this process is applying right now: never "recovered" by it


def _digest(data: bytes) -> dict:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _matches(current: bytes | None, before: dict | None) -> bool:
    if before is None:
        return current is None
    return current is not None and _digest(current) == before


def _encode(data: bytes) -> dict:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _decode(step: dict) -> bytes:
    if "text" in step:
        return step["text"].encode("utf-8")
    return base64.b64decode(step["base64"])


def _read(path: Path) -> bytes | None:
    """The file's bytes, None when missing; a FIFO or device there is refused (NotRegularFileError), never read."""
    try:
        return read_stamped(path)[0]
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


# -- applying steps (live and on recovery) ---------------------------------------------------------
def _problem(step: dict, why: str) -> str:
    return f"{step.get('path') or step.get('to')}：{why}"


def apply_step(root: Path, step: dict) -> str | None:
    """Bring one step about; None when done (now or before), else why it could not be."""
    op = step["op"]
    if op == "append":
        path = safe_path(root, step["path"])
        line = step["line"].encode("utf-8")
        current = _read(path) or b""
        if line in current:
            return None
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                 | getattr(os, "O_CLOEXEC", 0))  # never through a symlink, never blocked by a FIFO
        fd = os.open(path, flags, PRIVATE_FILE)
        try:
            make_private(fd)  # appended lines are the audit log's: owner-only, whatever the umask
            os.write(fd, (b"\n" if current and not current.endswith(b"\n") else b"") + line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return None
    if op == "move":
        source, target = safe_path(root, step["from"]), safe_path(root, step["to"])
        data = _decode(step)
        current, old = _read(target), _read(source)
        if current is None:
            if not _matches(old, step["before"]):
                return _problem(step, "原笔记已被修改或删除，未改名")
            try:
                create_exclusive(target, data)
            except FileExistsConflict:
                return _problem(step, "目标文件已存在，未改名")
        elif current != data:
            return _problem(step, "目标文件已被修改，未改名")
        if old is not None and (_matches(old, step["before"]) or old == data):
            _unlink(source)
        return None
    path = safe_path(root, step["path"])
    current = _read(path)
    if op == "delete":
        if current is None:
            return None
        if not _matches(current, step["before"]):
            return _problem(step, "已被修改，未删除")
        _unlink(path)
        return None
    data = _decode(step)  # put
    if current == data:
        return None
    if not _matches(current, step["before"]):
        return _problem(step, "已被修改（或已存在），未写入")
    try:
        if current is None:
            create_exclusive(path, data)
        else:
            before = step["before"]
            write_atomic(path, data, expect=FileStamp(0, before["size"], before["sha256"]), within=root)
    except FileExistsConflict:
        return _problem(step, "已存在，未写入")
    except ConcurrentEditError:  # saved this very moment
        return _problem(step, "已被修改，未写入")
    return None


def _ready(root: Path, step: dict) -> str | None:
    """Before anything is written: would this step apply cleanly? Why not, else None."""
    op = step["op"]
    if op == "append":
        return None
    if op == "move":
        if _read(safe_path(root, step["to"])) is not None:
            return _problem(step, "目标文件已存在")
        if not _matches(_read(safe_path(root, step["from"])), step["before"]):
            return f"{step['from']}：在读取后被修改"
        return None
    if not _matches(_read(safe_path(root, step["path"])), step["before"]):
        return _problem(step, "在读取后被修改（可能正在 Obsidian 中编辑）")
    return None


# -- the journal file ------------------------------------------------------------------------------
def journal_dir(root: Path) -> Path:
    return Path(root) / JOURNAL_DIR


def _write_journal(root: Path, entry: dict) -> Path:
    folder = journal_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{dt.datetime.now():%Y%m%dT%H%M%S%f}-{os.getpid()}-{secrets.token_hex(3)}.json"
    path = folder / name
    write_atomic(path, json.dumps(entry, ensure_ascii=False).encode("utf-8"))  # fsyncs file and folder
    return path


def _apply_all(root: Path, steps: list[dict]) -> list[str]:
    problems = []
    for step in steps:
        try:
            why = apply_step(root, step)
        except UnsafePathError as exc:
            why = _problem(step, f"路径不安全（{exc}）")
        if why:
            problems.append(why)
    return problems


# -- staging ---------------------------------------------------------------------------------------
@dataclass
class Journal:
    """The notes one operation will write, staged in memory until `commit`."""

    root: Path
    op: str
    lock: str
    key: str | None = None
    result: dict = field(default_factory=dict)  # what the operation made (IDs), for a re-run to report
    steps: list[dict] = field(default_factory=list)
    _at: dict[str, dict] = field(default_factory=dict)  # relpath -> the step that writes it
    _gone: set[str] = field(default_factory=set)  # relpaths moved away or deleted

    def read(self, relpath: str) -> bytes | None:
        """The note as it will be after this operation's staged steps (None: absent)."""
        step = self._at.get(relpath)
        if step is not None:
            return _decode(step)
        if relpath in self._gone:
            return None
        return _read(safe_path(self.root, relpath))

    def staged(self, relpath: str) -> bool:
        return relpath in self._at or relpath in self._gone

    def put(self, relpath: str, data: bytes, before: bytes | FileStamp | None) -> None:
        """The note at `relpath` is to hold `data`; it holds `before` now (None: it does not exist)."""
        step = self._at.get(relpath)
        if step is not None:  # staged already: only the final bytes change
            step.pop("text", None)
            step.pop("base64", None)
            step.update(_encode(data))
            return
        if isinstance(before, FileStamp):
            digest = {"size": before.size, "sha256": before.digest}
        else:
            digest = None if before is None else _digest(before)
        step = {"op": "put", "path": relpath, "before": digest, **_encode(data)}
        self._gone.discard(relpath)
        self.steps.append(step)
        self._at[relpath] = step

    def create(self, path: Path, data: bytes) -> None:
        """For ID allocation: stage a new note, FileExistsConflict when the name or its ID is taken."""
        relpath = Path(path).relative_to(self.root).as_posix()
        folder, _, name = relpath.rpartition("/")
        record_id = name.split(" ")[0].removesuffix(".md")
        for other in self._at:
            head, _, other_name = other.rpartition("/")
            if head == folder and other_name.split(" ")[0].removesuffix(".md") == record_id:
                raise FileExistsConflict(f"{path}: {record_id} is staged already")
        if os.path.lexists(path):
            raise FileExistsConflict(f"{path} already exists")
        self.put(relpath, data, None)

    def move(self, old: str, new: str) -> None:
        """The note at `old` (as staged) goes to `new`; FileExistsConflict when `new` is taken."""
        if new in self._at or os.path.lexists(safe_path(self.root, new)):
            raise FileExistsConflict(new)
        step = self._at.pop(old, None)
        if step is None:
            data = self.read(old)
            if data is None:
                raise FileNotFoundError(old)
            step = {"op": "move", "from": old, "to": new, "before": _digest(data), **_encode(data)}
            self.steps.append(step)
        elif step["op"] == "put" and step["before"] is None:  # made by this operation: just another name
            step["path"] = new
        elif step["op"] == "put":
            data, before = _decode(step), step["before"]
            step.clear()
            step.update({"op": "move", "from": old, "to": new, "before": before, **_encode(data)})
        else:  # moved twice
            step["to"] = new
        self._gone.add(old)
        self._gone.discard(new)
        self._at[new] = step

    def delete(self, relpath: str, before: FileStamp) -> None:
        step = {"op": "delete", "path": relpath, "before": {"size": before.size, "sha256": before.digest}}
        self.steps.append(step)
        self._gone.add(relpath)

    def append(self, relpath: str, line: str) -> None:
        self.steps.append({"op": "append", "path": relpath, "line": line})

    def commit(self) -> None:
        """Check that every note is as read, record the journal, write the notes, drop the journal."""
        if not self.steps:
            return
        for step in self.steps:
            why = _ready(self.root, step)
            if why:
                raise ConcurrentChangeError(f"{why}；未写入任何笔记，请重试")
        if not is_held(self.root, self.lock):
            raise RuntimeError(f"journal {self.op} committed without holding the {self.lock} lock")
        entry = {"format": FORMAT, "op": self.op, "key": self.key, "lock": self.lock, "result": self.result,
                 "pid": os.getpid(), "steps": self.steps}
        path = _write_journal(self.root, entry)
        _own.add(path.name)
        try:
            problems = _apply_all(self.root, self.steps)
            if problems:
                _log_problems(self.root, self.op, problems)
            _unlink(path)
        finally:
            _own.discard(path.name)


def current() -> Journal | None:
    """The transaction the store is staging into, if any."""
    return _active.get()


@contextmanager
def transaction(root: Path, op: str, *, lock: str, key: str | None = None) -> Iterator[Journal]:
    """Stage every store write of the block; commit them together when the block ends without error.

    An exception discards what was staged: nothing was written. A transaction inside another joins it.
    """
    outer = _active.get()
    if outer is not None:
        yield outer
        return
    journal = Journal(Path(root), op, lock, key)
    token = _active.set(journal)
    try:
        yield journal
    finally:
        _active.reset(token)
    journal.commit()


# -- recovery --------------------------------------------------------------------------------------
@dataclass
class Recovered:
    """An interrupted operation the start-up replay finished."""

    op: str
    key: str | None
    result: dict
    problems: list[str]


def _log_problems(root: Path, op: str, problems: list[str]) -> None:
    folder = Path(root) / STATE_DIR / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "journal.log", "a", encoding="utf-8") as fh:
            for line in problems:
                fh.write(f"{dt.datetime.now().isoformat(timespec='seconds')} {op} {line}\n")
    except OSError:
        pass


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def _pending(root: Path) -> list[Path]:
    """The journals to replay. A half-written one (a killed writer's temp file) is removed: its
    operation never started, and it may hold what a `forget` was erasing."""
    try:
        names = os.listdir(journal_dir(root))
    except OSError:  # no journal folder: nothing was ever interrupted (the usual case)
        return []
    for name in names:
        writer = name.split("-")[1:2] if name.startswith(".") and name.endswith(".tmp") else []
        if writer and writer[0].isdigit() and not process_alive(int(writer[0])):
            try:
                os.unlink(journal_dir(root) / name)
            except OSError:
                pass
    return [journal_dir(root) / n for n in sorted(names)
            if n.endswith(".json") and not n.startswith(".") and n not in _own]


def _replay(root: Path, path: Path) -> Recovered | None:
    try:
        entry = json.loads(path.read_bytes())
        steps = entry["steps"]
        if entry.get("format") != FORMAT or not isinstance(steps, list):
            raise ValueError("unknown journal format")
    except FileNotFoundError:
        return None  # finished by another process meanwhile
    except (OSError, ValueError, KeyError, TypeError):
        broken = path.with_name(path.name + ".broken")
        os.replace(path, broken)
        return Recovered("?", None, {}, [f"{broken.name}：无法读取的操作记录，已搁置"])
    problems = _apply_all(root, steps)
    if problems:
        _log_problems(root, entry.get("op", "?"), problems)
    _unlink(path)
    return Recovered(entry.get("op", "?"), entry.get("key"), entry.get("result") or {}, problems)


def recover(root: Path) -> list[Recovered]:
    """Finish every operation a killed vaultcrm left half done. Cheap when there is none.

    Each journal is replayed under the lock its operation held: taken here (without waiting: a busy
    lock means its operation is still running) unless this process already holds it.
    """
    done: list[Recovered] = []
    for path in _pending(root):
        name = "booking"
        try:
            name = json.loads(path.read_bytes()).get("lock") or name
        except FileNotFoundError:
            continue
        except (OSError, ValueError, AttributeError):
            pass
        try:
            if is_held(root, name):
                found = _replay(root, path)
            else:
                with holding(root, name, timeout=0):
                    found = _replay(root, path)
        except LockTimeout:
            continue  # its operation is still running in another process
        except OSError as exc:
            done.append(Recovered("?", None, {}, [f"{path.name}：无法完成中断的操作（{exc.strerror}）"]))
            continue
        if found is not None:
            done.append(found)
    return done


def diagnostics(recovered: list[Recovered]) -> list[Diagnostic]:
    """What a replay could not do, for `check` and the other commands to show."""
    return [warning(line.split("：", 1)[0], 1, f"中断的操作（{r.op}）未能完成这一步：{line.split('：', 1)[-1]}")
            for r in recovered for line in r.problems]


__all__ = ["JOURNAL_DIR", "Journal", "Recovered", "apply_step", "current", "diagnostics", "process_alive", "recover",
           "transaction"]
