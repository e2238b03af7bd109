"""Careful writes into a vault that Obsidian, sync tools and people edit at the same time.

Why each rule exists:
- A file is never opened for writing in place: truncate-then-write loses the note on a crash. We write a
  dot-named temp file in the same folder (same file system, and Obsidian/sync tools skip dot-files),
  fsync it, `os.replace` it over the note and fsync the folder, so a reader sees the old or the new note.
- An update carries the `FileStamp` of what was read; if Obsidian saved the note in between, the update
  is refused instead of silently overwriting the user's edit.
- A create never overwrites: the temp file is hard-linked to the final name, which fails if the name
  exists (and never follows a symlink). Where hard links are not supported we fall back to `O_EXCL`.
- Unchanged content is not rewritten: Obsidian and sync clients react to every write.
- A temp file holds a whole record (and a customer's name in its own name), so one left by a killed
  writer is swept by the next command, at once, not after an hour. Its name carries the writer's PID
  and host, and the writer holds an flock on it from creation until the rename: a temp file is only
  removed when no one holds its lock and its writer, on this host, is gone (or it is an hour old).
- Nothing lands outside the vault: before any write, the real folder the file would land in must lie
  inside the real vault root (a folder symlinked elsewhere, `../x` or an absolute path from the
  settings are refused). The vault is the caller's `within`, or else the nearest folder up the path
  holding `vaultcrm.yaml`, `.obsidian/` or `.vaultcrm/`.
- Only regular files are read or replaced: a FIFO, socket or device planted at a note's path would
  hang a read (and the lock held around it), so it is refused before it is opened.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import socket
import stat as stat_mod
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import VaultCRMError

__all__ = [
    "ConcurrentEditError",
    "FileExistsConflict",
    "FileStamp",
    "NotRegularFileError",
    "UnsafePathError",
    "create_exclusive",
    "read_stamped",
    "relpath_problem",
    "safe_path",
    "sanitize_filename",
    "stamp",
    "stamp_bytes",
    "sweep_temp_files",
    "write_atomic",
]

_NAME_MAX = 255  # bytes per path component on every file system we care about
# errnos meaning "this file system cannot hard-link", as opposed to a real failure.
_NO_HARDLINK = {errno.EPERM, errno.EACCES, errno.EXDEV, errno.EMLINK, errno.ENOSYS,
                getattr(errno, "ENOTSUP", errno.EOPNOTSUPP), errno.EOPNOTSUPP}


class ConcurrentEditError(Exception):
    """The file changed since it was read (e.g. saved in Obsidian in between); nothing was written."""


class FileExistsConflict(FileExistsError):
    """A create found the name taken; the existing file was left alone."""


class UnsafePathError(VaultCRMError, ValueError):
    """A path would leave the vault (`..`, absolute, symlink out) or touch what vaultcrm must not.

    A VaultCRMError, so a refusal no caller explains still reaches the user as a message (exit 1).
    """


class NotRegularFileError(UnsafePathError):
    """A FIFO, socket or device sits where a note should be; reading it could block forever."""


_KIND_NAMES = ((stat_mod.S_ISFIFO, "命名管道（FIFO）"), (stat_mod.S_ISSOCK, "套接字"), (stat_mod.S_ISCHR, "字符设备"),
               (stat_mod.S_ISBLK, "块设备"))


def _not_regular(path: str | os.PathLike, st: os.stat_result) -> NotRegularFileError:
    kind = next((name for test, name in _KIND_NAMES if test(st.st_mode)), "特殊文件")
    return NotRegularFileError(f"「{path}」是{kind}而不是普通文件，vaultcrm 不会读写它（以免卡住）；"
                               "请删除或改名后重试，未写入任何内容")


def _open_regular(path: str | os.PathLike) -> int:
    """A read-only descriptor of a regular file; NotRegularFileError (never a hang) for anything else.

    The stat first keeps devices from being opened at all; O_NONBLOCK and the fstat after cover a
    FIFO swapped in between.
    """
    st = os.stat(path)
    if stat_mod.S_ISDIR(st.st_mode):  # cannot hang: the ordinary error, as `open` would give
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    if not stat_mod.S_ISREG(st.st_mode):
        raise _not_regular(path, st)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    st = os.fstat(fd)
    if not stat_mod.S_ISREG(st.st_mode):
        os.close(fd)
        raise _not_regular(path, st)
    return fd


@dataclass(frozen=True)
class FileStamp:
    """What a file looked like when it was read. The digest decides: mtime can be coarse or touched."""

    mtime_ns: int
    size: int
    digest: str


def stamp_bytes(data: bytes, st: os.stat_result) -> FileStamp:
    return FileStamp(st.st_mtime_ns, st.st_size, hashlib.sha256(data).hexdigest())


def read_stamped(path: str | os.PathLike) -> tuple[bytes, FileStamp]:
    """Read a file and stamp it from the same open file, so the stamp describes exactly these bytes."""
    with open(_open_regular(path), "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read()
    return data, stamp_bytes(data, st)


def stamp(path: str | os.PathLike) -> FileStamp:
    return read_stamped(path)[1]


def _current(path: Path) -> tuple[bytes | None, FileStamp | None, int | None]:
    """The file's bytes, stamp and permission bits, or Nones when it does not exist."""
    try:
        fd = _open_regular(path)
    except FileNotFoundError:
        return None, None, None
    with open(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read()
    return data, stamp_bytes(data, st), stat_mod.S_IMODE(st.st_mode)


def _same_content(current: FileStamp | None, expect: FileStamp) -> bool:
    # A touch or a save of identical text changes mtime but not what our edit was based on.
    return current is not None and current.size == expect.size and current.digest == expect.digest


TEMP_MARK = ".vaultcrm-"  # in the dot-names of our temp files: `.{note}.vaultcrm-{pid}-{host}-{random}.tmp`
STALE_TEMP_SECONDS = 3600  # a temp file whose writer cannot be told dead (another host) is swept after this
_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]
_TEMP = re.compile(r"\.vaultcrm-(?:(\d+)-([0-9a-f]{6})-)?[0-9a-f]{8}\.tmp$")


def _temp_name(name: str) -> str:
    suffix = f"{TEMP_MARK}{os.getpid()}-{_HOST}-{secrets.token_hex(4)}.tmp"
    budget = _NAME_MAX - 1 - len(suffix.encode())
    stem = name.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return f".{stem}{suffix}"


def is_temp_file(name: str) -> bool:
    return name.startswith(".") and _TEMP.search(name) is not None


def _try_lock(fd: int, blocking: bool) -> bool:
    """flock the temp file; True also where the file system has no flock (the PID check then decides)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True


def _writer_gone(name: str) -> bool:
    """True when the temp file's writer ran on this host and that process no longer exists."""
    match = _TEMP.search(name)
    if match is None or match[1] is None or match[2] != _HOST:
        return False  # an older name without a PID, or another machine's: only age tells
    pid = int(match[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, another user's
        return False
    return False


def sweep_temp_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Remove vaultcrm's temp files whose writer is gone (killed mid-write); the ones removed.

    A temp file is kept while a writer holds its lock, or while its writer's process exists (a PID
    reused since is the one doubt, settled by the hour); other dot-files are never touched.
    """
    removed: list[Path] = []
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in map(Path, paths):
        if not is_temp_file(path.name):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            if not _try_lock(fd, blocking=False):
                continue  # a live writer is between its write and its rename
            if _writer_gone(path.name) or os.fstat(fd).st_mtime < cutoff:
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; some platforms cannot open folders, which is fine to skip."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quiet(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _write_fd(fd: int, data: bytes, mode: int | None) -> None:
    with os.fdopen(fd, "wb", closefd=False) as fh:
        if mode is not None:
            os.fchmod(fh.fileno(), mode)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_temp(folder: Path, name: str, data: bytes, mode: int | None) -> tuple[Path, int]:
    """A fully written, fsynced dot-file beside the target, and its open, locked descriptor.

    The caller closes the descriptor (dropping the lock) only after the rename. Removed if anything fails.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = folder / _temp_name(name)
        try:
            fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask, like any editor's new file
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(f"cannot create a temp file in {folder}")
    try:
        _try_lock(fd, blocking=True)  # a sweeper may hold it for a moment while it looks
        _write_fd(fd, data, mode)
    except BaseException:
        _unlink_quiet(tmp)
        os.close(fd)
        raise
    return tmp, fd


_VAULT_MARKERS = ("vaultcrm.yaml", ".obsidian", ".vaultcrm")
AUTO = "auto"  # `within` default: the vault the path lies in, found by its markers


def vault_of(path: str | os.PathLike) -> Path | None:
    """The nearest folder up `path`, as written (`..` not collapsed, symlinks not followed), that holds a
    vault marker; None when the path lies in no vault (an export to a folder the user chose, say)."""
    for folder in Path(path).absolute().parents:
        if any(os.path.lexists(folder / marker) for marker in _VAULT_MARKERS):
            return folder
    return None


def confine(path: str | os.PathLike, within: str | os.PathLike | None = AUTO) -> None:
    """UnsafePathError unless `path` (as written, and the real folder it would land in) is inside `within`.

    `within=AUTO` checks against the vault found by `vault_of`; None skips the check (a place the user
    named, which may lie anywhere).
    """
    root = vault_of(path) if within == AUTO else within
    if root is None:
        return
    base = Path(os.path.normpath(Path(root).absolute()))
    written = Path(os.path.normpath(Path(path).absolute()))
    real_base = Path(os.path.realpath(root))
    real_folder = Path(os.path.realpath(written.parent))
    lexically_inside = written not in (base, real_base) and (written.is_relative_to(base)
                                                              or written.is_relative_to(real_base))
    if lexically_inside and real_folder.is_relative_to(real_base):
        return
    where = real_folder if lexically_inside else written.parent
    raise UnsafePathError(f"「{path}」会写到库外（{where}，不在 {real_base} 之内，可能经由符号链接、../ 或绝对路径），"
                          "vaultcrm 不会写到库外；请检查该文件夹或 vaultcrm.yaml 的 目录 设置，未写入任何内容")


def write_atomic(path: str | os.PathLike, data: bytes, *, expect: FileStamp | None = None,
                 within: str | os.PathLike | None = AUTO) -> bool:
    """Replace `path` with `data` all at once. False when the file already holds exactly `data`.

    With `expect`, refuse (ConcurrentEditError, nothing written) unless the file still holds what was
    read; the check is repeated right before the rename to keep the race window as small as we can.
    `within` (the vault root; by default the vault the path lies in, see `confine`): refuse
    (UnsafePathError) a path that really lands outside it, e.g. through a folder that is a symlink out
    of the vault. A FIFO or device at `path` is refused (NotRegularFileError), never opened for long.
    """
    path = Path(path)
    if within not in (None, AUTO):
        try:
            safe_path(within, path.relative_to(within))  # also keeps writes out of .obsidian/
        except ValueError as exc:  # not under `within` as written: `confine` decides by the real path
            if isinstance(exc, UnsafePathError):
                raise
    confine(path, within)
    if path.is_symlink():
        raise UnsafePathError(f"「{path}」是符号链接，vaultcrm 不会替换它（以免写到它指向的地方），未写入任何内容")
    old, current, mode = _current(path)
    if expect is not None and not _same_content(current, expect):
        raise ConcurrentEditError(f"{path} changed since it was read")
    if old == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _write_temp(path.parent, path.name, data, mode)
    try:
        if expect is not None and not _same_content(_current(path)[1], expect):
            raise ConcurrentEditError(f"{path} changed since it was read")
        os.replace(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    finally:
        os.close(fd)
    fsync_dir(path.parent)
    return True


def _create_excl_direct(path: Path, data: bytes) -> None:
    """Fallback without hard links: O_EXCL still never overwrites, but a crash can leave a short file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except FileExistsError:
        raise FileExistsConflict(f"{path} already exists") from None
    try:
        _write_fd(fd, data, None)
    except BaseException:
        _unlink_quiet(path)
        raise
    finally:
        os.close(fd)


def create_exclusive(path: str | os.PathLike, data: bytes, *, within: str | os.PathLike | None = AUTO) -> None:
    """Create `path` holding `data`; FileExistsConflict if the name is taken (never overwrites).

    `within`: as for `write_atomic`, the vault the file must land in.
    """
    path = Path(path)
    confine(path, within)
    if os.path.lexists(path):
        raise FileExistsConflict(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _write_temp(path.parent, path.name, data, None)
    try:
        try:
            os.link(tmp, path, follow_symlinks=False)
        except FileExistsError:
            raise FileExistsConflict(f"{path} already exists") from None
        except OSError as exc:
            if exc.errno not in _NO_HARDLINK:
                raise
            _create_excl_direct(path, data)
    finally:
        _unlink_quiet(tmp)
        os.close(fd)
    fsync_dir(path.parent)


_DRIVE = re.compile(r"^[A-Za-z]:")


def relpath_problem(raw: str) -> str | None:
    """Why `raw` cannot name a place inside a vault (absolute, `..`, `.obsidian/`, NUL), or None.

    Only the text is judged; `safe_path` also follows symlinks. Settings use it for their folders.
    """
    if "\x00" in raw:
        return f"路径含有无效字符：{raw!r}"
    if os.path.isabs(raw) or raw.startswith(("/", "\\")) or _DRIVE.match(raw):
        return f"库内路径不能是绝对路径：{raw}"
    parts = [p for p in re.split(r"[\\/]", raw) if p not in ("", ".")]
    if any(part.strip(". ") == "" for part in parts):  # "..", "...", ". ." — Windows trims these to ".."
        return f"库内路径不能含有 ..：{raw}"
    if parts and parts[0].lower() == ".obsidian":
        return f"vaultcrm 不会写入 .obsidian/：{raw}"
    return None


def safe_path(root: str | os.PathLike, relpath: str | os.PathLike) -> Path:
    """The real path of `relpath` inside the vault `root`, or UnsafePathError.

    Symlinks are resolved, so the returned path is where a write would really land; it must lie inside
    the (resolved) root. `..`, absolute and drive paths are refused outright, also with backslashes,
    because the vault may be synced to Windows. `.obsidian/` belongs to Obsidian and is refused too.
    """
    raw = os.fspath(relpath)
    if not raw:
        raise UnsafePathError(f"路径为空：{raw!r}")
    problem = relpath_problem(raw)
    if problem:
        raise UnsafePathError(problem)
    parts = [p for p in re.split(r"[\\/]", raw) if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"路径指向库本身而不是其中的文件：{raw}")
    base = Path(root).resolve()
    target = (base / Path(*parts)).resolve()
    if target == base or not target.is_relative_to(base):
        raise UnsafePathError(f"「{raw}」实际位于库 {base} 之外（经由符号链接？）")
    return target


# Characters Windows, Obsidian links or sync tools refuse in a file name; a backtick or `%%` in the
# `[[…]]` made from it would open a code span or a comment in the notes that link to it.
_FORBIDDEN = re.compile(r'[\\/:*?"<>|#^\[\]`]|%{2,}')
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]
}
# Controls, bidi overrides, lone surrogates, private-use and unassigned code points.
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _is_reserved(name: str) -> bool:
    return name.split(".", 1)[0].strip(" ").upper() in _RESERVED


def _clip_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def sanitize_filename(name: str, *, max_bytes: int = 180, fallback: str = "未命名") -> str:
    """A file name (without folder) that every platform and Obsidian accept, made from `name`.

    `max_bytes` stays well under 255 so that `.md` and our dot temp-file names around it still fit.
    """
    max_bytes = max(max_bytes, 16)
    text = unicodedata.normalize("NFC", str(name))
    text = "".join(" " if ch in "\t\n\r" else ch for ch in text
                   if unicodedata.category(ch) not in _DROP_CATEGORIES or ch in "\t\n\r")
    text = _FORBIDDEN.sub(" ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = _clip_bytes(text.strip(" ."), max_bytes).strip(" .")
    if _is_reserved(text):
        stem, dot, rest = text.partition(".")
        text = _clip_bytes(f"{stem}_{dot}{rest}", max_bytes).strip(" .")
    return text or fallback
