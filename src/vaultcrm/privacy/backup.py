"""Backups of the vault's records: dated zip archives in `.vaultcrm/backups/`, pruned, restorable.

A backup holds what vaultcrm and the studio cannot rebuild: every note outside dot-folders and
`vaultcrm.yaml`. Caches, locks and logs are left out; Obsidian's own settings too. Why zip: Windows
and macOS open it with a double click, so the owner can look inside without vaultcrm.

Retention: one archive per day (a later backup on the same day replaces the earlier one) for the
newest `keep` days that have one. The safety archive `restore` makes before it overwrites anything
(`…-before-restore.zip`, 恢复前安全备份) is never pruned: it is the only copy of the vault as it was
before the restore, so it stays until the user deletes it.

A backup is complete or it is not made: a note or folder that cannot be read fails the backup
(naming it) and no archive is left behind.

Encrypted archives (`backup --encrypt`, `vaultcrm-…zip.enc`, see sealed.py) are the same zip streamed
through the encryptor: no plaintext byte reaches the disk, not even a temp file. They may be copied to
an off-site folder (a mounted cloud drive or NAS, `--to`), pruned there by the same rule; only
encrypted archives ever leave the vault. Restoring one checks every chunk before reading a member.

Restoring trusts nothing in the archive: members with absolute paths, `..`, backslashes, links or
names outside the vault are refused before anything is written, as are archives whose declared sizes
would fill the disk. Each file is written atomically and only if it still is what the preview showed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..core.config import CONFIG_NAME, STATE_DIR, Settings, load_settings
from ..core.journal import transaction
from ..core.loader import load_vault
from ..core.locks import holding
from ..core.store import vault_path
from ..errors import ConfigError, VaultCRMError
from ..vault.lock import FileLock, LockTimeout
from ..vault.perms import PRIVATE_FILE, make_private
from ..vault.reader import parse_note
from ..vault.scan import scan
from ..vault.writer import FileStamp, read_stamped
from .rules import is_forgotten, pseudonym
from .sealed import Key, SealedError, SealingWriter, is_sealed, new_key, open_sealed

BACKUP_DIR = f"{STATE_DIR}/backups"
SAFETY = "before-restore"
_NAME = re.compile(r"^vaultcrm-(\d{4}-\d{2}-\d{2})-(\d{6})(?:-(\d+))?(?:-(" + SAFETY + r"))?\.zip(\.enc)?$")
ENCRYPTED = ".zip.enc"
MAX_RESTORE_BYTES = 4 << 30  # a studio's notes are megabytes; gigabytes mean a zip bomb
LOCK_TIMEOUT = 120.0


@dataclass(frozen=True)
class Archive:
    path: Path
    taken: dt.datetime
    seq: int  # 2, 3 … for a second backup within the same second
    safety: bool
    size: int
    encrypted: bool = False

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class BackupResult:
    archive: Archive
    files: int
    pruned: list[Archive] = field(default_factory=list)
    offsite: Archive | None = None  # the copy in the off-site folder
    offsite_pruned: list[Archive] = field(default_factory=list)


@dataclass
class RestorePlan:
    archive: Path
    added: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    untouched: int = 0  # notes of the vault that the archive does not hold: left as they are
    # added member -> the note holding the same record under another name (a renamed profile): removed
    replaced: dict[str, str] = field(default_factory=dict)
    revived: list[str] = field(default_factory=list)  # customers forgotten since: their data would return
    stamps: dict[str, FileStamp] = field(default_factory=dict)  # what files to overwrite held at preview
    key: Key | None = field(default=None, repr=False)  # an encrypted archive's keys, derived once at preview

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.overwritten)


@dataclass
class RestoreResult:
    safety: Archive | None
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # replaced by a restored note of the same record
    skipped: list[str] = field(default_factory=list)  # changed since the preview: left alone


def recovery_settings(root: Path) -> tuple[Settings, ConfigError | None]:
    """The settings, or the defaults when `vaultcrm.yaml` is broken: backup and restore are how a broken
    config is saved and brought back, so unlike every other command they go on (with the error to show)."""
    try:
        return load_settings(root)[0], None
    except ConfigError as exc:
        return Settings(), exc


def backup_dir(root: Path) -> Path:
    return root / BACKUP_DIR


def backup_passphrase(settings: Settings) -> str | None:
    """The passphrase from the environment variable the config names (never from the vault)."""
    return os.environ.get(settings.backup.passphrase_env) or None


def record_files(root: Path, unreadable: list[tuple[str, OSError]] | None = None) -> list[str]:
    """What a backup holds: every note outside dot-folders, and the config.

    Folders and files that cannot be looked at are added to `unreadable` when it is given.
    """
    files = sorted(scan(root, unreadable=unreadable))
    if (root / CONFIG_NAME).is_file() and not (root / CONFIG_NAME).is_symlink():
        files.append(CONFIG_NAME)
    return files


def _shown(relpath: str) -> str:
    """A path as it can be printed: bytes that are not UTF-8 become �."""
    return relpath.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _incomplete(problems: list[str]) -> VaultCRMError:
    return VaultCRMError(f"备份失败：{len(problems)} 个文件或文件夹无法读取，未生成备份（不完整的备份不可靠）；"
                         "请修复下列文件的权限或把它们移出库后重试", details=problems[:20])


def _archive(path: Path) -> Archive | None:
    m = _NAME.match(path.name)
    if not m:
        return None
    try:
        taken = dt.datetime.strptime(f"{m[1]} {m[2]}", "%Y-%m-%d %H%M%S")
        size = path.stat().st_size
    except (ValueError, OSError):
        return None
    return Archive(path, taken, int(m[3] or 1), bool(m[4]), size, bool(m[5]))


def list_backups(root: Path) -> list[Archive]:
    """The vault's archives, newest first."""
    return _archives_in(backup_dir(root))


def _archives_in(folder: Path) -> list[Archive]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    found = [a for a in map(_archive, entries) if a is not None]
    return sorted(found, key=lambda a: (a.taken, a.seq), reverse=True)


def _lock(root: Path) -> FileLock:
    return FileLock(root, "backup", timeout=LOCK_TIMEOUT)


def _free_name(folder: Path, now: dt.datetime, suffix: str, ext: str = ".zip") -> Path:
    """A name that tells the date and nothing else; free in both forms, so the sequence stays one order."""
    stem = f"vaultcrm-{now:%Y-%m-%d-%H%M%S}"
    for n in range(1, 1000):
        base = f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
        if not any(os.path.lexists(folder / f"{base}{e}") for e in (".zip", ENCRYPTED)):
            return folder / f"{base}{ext}"
    raise VaultCRMError("同一秒内的备份过多")  # pragma: no cover


def _zip_time(mtime_ns: int) -> tuple[int, ...]:
    stamp = dt.datetime.fromtimestamp(mtime_ns / 1e9)
    return max(stamp, dt.datetime(1980, 1, 1)).timetuple()[:6]  # zip cannot date anything earlier


def _write_archive(root: Path, now: dt.datetime, safety: bool, key: Key | None = None) -> tuple[Archive, int]:
    """Write the archive under a dot-name, fsync it, then rename: a killed backup leaves no half zip.

    Every file must be read: one that cannot be fails the whole archive (VaultCRMError naming it), and
    the partial dot-file is removed. A file deleted since the scan is simply no longer part of the vault.
    Called under the backup lock, so leftovers of a killed run can be swept and the name is free.
    With `key`, zipfile writes into the encryptor, which writes only ciphertext to the dot-file.
    """
    folder = backup_dir(root)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise VaultCRMError(f"无法创建备份文件夹 {BACKUP_DIR}：{_reason(exc)}") from None
    for leftover in folder.glob(".vaultcrm-*.tmp"):
        leftover.unlink(missing_ok=True)
    target = _free_name(folder, now, f"-{SAFETY}" if safety else "", ENCRYPTED if key else ".zip")
    tmp = folder / f".{target.name}.tmp"
    unreadable: list[tuple[str, OSError]] = []
    relpaths = record_files(root, unreadable)
    problems = [f"{_shown(relpath)}：{_reason(exc)}" for relpath, exc in unreadable]
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), PRIVATE_FILE)
        make_private(fd)  # every customer's record: owner-only, whatever the umask
        with open(fd, "wb") as raw:
            sink = SealingWriter(raw, key) if key is not None else raw
            with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                files = _fill(root, zf, relpaths, problems)
            if isinstance(sink, SealingWriter):
                sink.finish()
        if problems:
            raise _incomplete(problems)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise VaultCRMError(f"无法写入备份 {BACKUP_DIR}/{target.name}：{_reason(exc)}，未生成备份") from None
    finally:
        tmp.unlink(missing_ok=True)
    archive = _archive(target)
    assert archive is not None
    return archive, files


def _fill(root: Path, zf: zipfile.ZipFile, relpaths: list[str], problems: list[str]) -> int:
    """Put every file into the zip, one in memory at a time; how many went in. Problems are collected
    into `problems` (the archive is then not kept)."""
    files = 0
    for relpath in relpaths:
        try:
            relpath.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"{_shown(relpath)}：文件名不是有效的 UTF-8，无法放入备份，请改名")
            continue
        try:
            data, seen = read_stamped(root / relpath)
        except FileNotFoundError:
            continue  # deleted since the scan
        except OSError as exc:
            problems.append(f"{_shown(relpath)}：{_reason(exc)}")
            continue
        if problems:
            continue  # the archive will not be kept: only look for further problems
        info = zipfile.ZipInfo(relpath, _zip_time(seen.mtime_ns))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(info, data)
        files += 1
    return files


def prune(root: Path, keep: int) -> list[Archive]:
    """Keep the newest daily archive of each of the newest `keep` days; delete the other daily ones.

    Safety archives made before a restore are never pruned: the user removes them.
    """
    return _prune(backup_dir(root), keep)


def _prune(folder: Path, keep: int) -> list[Archive]:
    """The rule of `prune` in any folder; files not named as vaultcrm's archives are never touched."""
    removed = []
    kept_days: list[dt.date] = []
    for archive in (a for a in _archives_in(folder) if not a.safety):
        day = archive.taken.date()
        if day not in kept_days and len(kept_days) < keep:
            kept_days.append(day)
            continue
        archive.path.unlink(missing_ok=True)
        removed.append(archive)
    return removed


def create_backup(root: Path, now: dt.datetime, *, keep: int = 7, passphrase: str | None = None,
                  offsite: Path | None = None) -> BackupResult:
    """Archive the vault's records now and prune older archives down to `keep` days.

    With `passphrase` the archive is encrypted; with `offsite` (which needs encryption: plaintext
    records never leave the vault) it is then copied there and that folder pruned the same way."""
    if keep < 1:
        raise VaultCRMError("--keep 至少为 1")
    if offsite is not None and passphrase is None:
        raise VaultCRMError("异地备份只能是加密的：请同时加 --encrypt（客户资料不以明文离开本机）")
    if offsite is not None:
        _check_offsite(root, offsite)
    key = new_key(passphrase) if passphrase is not None else None
    try:
        with _lock(root):
            archive, files = _write_archive(root, now, safety=False, key=key)
            result = BackupResult(archive, files, prune(root, keep))
            if offsite is not None:
                result.offsite = _copy_offsite(archive, offsite)
                result.offsite_pruned = _prune(offsite, keep)
            return result
    except LockTimeout as exc:
        raise VaultCRMError(str(exc)) from None


def _check_offsite(root: Path, folder: Path) -> None:
    if not folder.is_dir():
        raise VaultCRMError(f"异地目录 {folder} 不存在或不是文件夹（网盘或 NAS 是否已挂载？），未备份")
    if folder.resolve() == backup_dir(root).resolve():
        raise VaultCRMError("异地目录不能是库自己的备份文件夹 .vaultcrm/backups")


def _copy_offsite(archive: Archive, folder: Path) -> Archive:
    """Copy the encrypted archive into `folder` under a dot-name, fsync, rename: never a half copy there."""
    target = folder / archive.name
    tmp = folder / f".{archive.name}.tmp"
    try:
        for leftover in folder.glob(".vaultcrm-*.tmp"):
            leftover.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), PRIVATE_FILE)
        make_private(fd)
        with open(fd, "wb") as out, open(archive.path, "rb") as src:
            while block := src.read(1 << 20):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise VaultCRMError(f"已在本地生成加密备份 {archive.name}，但复制到异地目录 {folder} 失败："
                            f"{_reason(exc)}；本地备份保留") from None
    finally:
        tmp.unlink(missing_ok=True)
    copied = _archive(target)
    assert copied is not None
    return copied


def find_archive(root: Path, name: str) -> Path:
    """An archive given by path, or by its name in the vault's backup folder."""
    for candidate in (Path(name).expanduser(), backup_dir(root) / name):
        if candidate.is_file():
            return candidate
    raise VaultCRMError(f"找不到备份「{name}」；用 vaultcrm backup list 查看已有的备份")


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "绝对路径或非法字符"
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") for part in parts):
        return "包含 .."
    if any(part.startswith(".") for part in parts):
        return "隐藏文件夹（如 .obsidian、.vaultcrm）中的文件"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "符号链接"
    if not (name.endswith(".md") or name == CONFIG_NAME):
        return "不是笔记（.md）或 vaultcrm.yaml"
    return None


def _members(root: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's files, after every member has been checked; VaultCRMError at the first doubt."""
    problems, members, total = [], [], 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        problem = _member_problem(info)
        if problem is None:
            try:
                vault_path(root, info.filename)
            except VaultCRMError as exc:
                problem = exc.message
        if problem:
            problems.append(f"{info.filename}：{problem}")
        members.append(info)
        total += info.file_size
    if problems:
        raise VaultCRMError("备份中有不安全的文件，已拒绝恢复，未写入任何内容", details=problems[:20])
    if total > MAX_RESTORE_BYTES:
        raise VaultCRMError(f"备份解压后超过 {MAX_RESTORE_BYTES >> 30} GB，不像是笔记备份，已拒绝恢复")
    return members


def needs_passphrase(archive: Path) -> bool:
    """Whether the archive is an encrypted one (told by its first bytes, not its name)."""
    return is_sealed(archive)


@contextmanager
def _open(archive: Path, secret: str | Key | None = None) -> Iterator[tuple[zipfile.ZipFile, Key | None]]:
    """The archive as a zip (and its keys when encrypted: every chunk verified before the zip is read)."""
    opened = None
    if is_sealed(archive):
        if secret is None:
            raise SealedError(f"{archive.name} 是加密备份，需要备份口令才能恢复")
        opened, key = open_sealed(archive, secret, archive.name)
    else:
        key = None
    try:
        try:
            zf = zipfile.ZipFile(opened if opened is not None else archive)
        except (zipfile.BadZipFile, OSError) as exc:
            raise VaultCRMError(f"{archive} 不是有效的备份文件（{exc}）") from None
        with zf:
            yield zf, key
    finally:
        if opened is not None:
            opened.close()


def plan_restore(root: Path, archive: Path, passphrase: str | None = None) -> RestorePlan:
    """What restoring `archive` would add, overwrite and replace; nothing is written.

    An encrypted archive needs `passphrase`; it is verified whole before anything else is looked at."""
    plan = RestorePlan(archive)
    index = load_vault(root, recovery_settings(root)[0]).index
    forgotten = {c.id for c in index.customers.values() if is_forgotten(c)}
    with _open(archive, passphrase) as (zf, plan.key):
        members = _members(root, zf)
        for info in members:
            target = root / info.filename
            try:
                data, current = read_stamped(target)
            except FileNotFoundError:
                plan.added.append(info.filename)
                _replacing(plan, zf, info, index)
            except OSError as exc:
                raise VaultCRMError(f"无法读取 {info.filename}：{exc.strerror}") from None
            else:
                if len(data) == info.file_size and zlib.crc32(data) == info.CRC:
                    plan.unchanged.append(info.filename)
                    continue
                plan.overwritten.append(info.filename)
                plan.stamps[info.filename] = current
            if forgotten:
                text = _read_member(zf, info)
                plan.revived += [cid for cid in sorted(forgotten - set(plan.revived)) if _names(text, cid)]
    plan.untouched = len(set(record_files(root)) - {i.filename for i in members} - set(plan.replaced.values()))
    return plan


def _names(text: bytes, customer_id: str) -> bool:
    """Whether a note's bytes are about the customer as they were before being forgotten."""
    return (re.search(re.escape(customer_id).encode() + rb"(?!\d)", text) is not None
            and pseudonym(customer_id).encode() not in text)


def _replacing(plan: RestorePlan, zf: zipfile.ZipFile, info: zipfile.ZipInfo, index) -> None:
    """Note it when an added member is a record the vault holds under another file name."""
    record, _ = parse_note(info.filename, _read_member(zf, info))
    current = index.get(record.record_id) if record is not None else None
    if current is None or current.kind != record.kind or current.path == info.filename:
        return
    try:
        plan.stamps[current.path] = read_stamped(index.root / current.path)[1]
    except OSError:
        return
    plan.replaced[info.filename] = current.path


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, never more than it declared (a lying header is a zip bomb)."""
    try:
        with zf.open(info) as fh:
            data = fh.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise VaultCRMError(f"备份中的 {info.filename} 已损坏（{exc}），已停止恢复") from None
    if len(data) != info.file_size:
        raise VaultCRMError(f"备份中的 {info.filename} 已损坏（大小与目录不符），已停止恢复")
    return data


def apply_restore(root: Path, plan: RestorePlan, now: dt.datetime) -> RestoreResult:
    """Back up the vault as it is, then write the planned files as one journalled operation.

    A file that changed since the preview (saved in Obsidian meanwhile) is skipped, not overwritten.
    The files are written together (core/journal.py): killed half way, the next vaultcrm command
    finishes the restore, so the vault never holds half of the archive (and a renamed profile is
    never left under two names).
    """
    if not plan.changes:
        return RestoreResult(None)
    try:
        with holding(root, "backup", timeout=LOCK_TIMEOUT), _open(plan.archive, plan.key) as (zf, _):
            safety, _ = _write_archive(root, now, safety=True)
            result = RestoreResult(safety)
            wanted = set(plan.added) | set(plan.overwritten)
            with transaction(root, "restore", lock="backup") as journal:
                for info in _members(root, zf):
                    name = info.filename
                    if name not in wanted:
                        continue
                    data = _read_member(zf, info)
                    expected = plan.stamps.get(name)
                    if not _still(root, name, expected):
                        result.skipped.append(name)
                        continue
                    journal.put(name, data, expected)
                    result.written.append(name)
                    if name in plan.replaced:
                        _remove_replaced(root, plan.replaced[name], plan, result, journal)
            return result
    except LockTimeout as exc:
        raise VaultCRMError(str(exc)) from None


def _still(root: Path, relpath: str, expected: FileStamp | None) -> bool:
    """Whether the file still is what the preview saw (absent when `expected` is None)."""
    try:
        path = vault_path(root, relpath)
        if path.is_symlink():
            return False
        _, current = read_stamped(path)
    except FileNotFoundError:
        return expected is None
    except (OSError, VaultCRMError):
        return False
    return expected is not None and (current.size, current.digest) == (expected.size, expected.digest)


def _remove_replaced(root: Path, relpath: str, plan: RestorePlan, result: RestoreResult, journal) -> None:
    """Remove the note the restored one replaces, unless it changed since the preview."""
    if not _still(root, relpath, plan.stamps[relpath]):
        result.skipped.append(relpath)
        return
    journal.delete(relpath, plan.stamps[relpath])
    result.removed.append(relpath)


__all__ = ["Archive", "BackupResult", "RestorePlan", "RestoreResult", "apply_restore", "backup_passphrase",
           "create_backup", "find_archive", "list_backups", "needs_passphrase", "plan_restore", "prune", "record_files",
           "recovery_settings"]
