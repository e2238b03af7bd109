"""Create and update record notes: the one place commands write records into the vault.

New notes are rendered from templates and created under a fresh ID; updates edit the frontmatter in
place (comments, order, unknown keys and the body stay byte-identical) and refuse when the note was
saved by someone else since the vault was loaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from ..errors import ConcurrentChangeError, VaultCRMError
from ..models import Customer, Record
from ..vault import ids
from ..vault.reader import parse_note
from ..vault.writer import (
    ConcurrentEditError,
    UnsafePathError,
    read_stamped,
    safe_path,
    sanitize_filename,
    write_atomic,
)
from . import journal
from .config import Settings
from .render import render

TEMPLATE_OF = {"APP": "appointment.md.j2", "SRV": "service.md.j2", "FLW": "followup.md.j2", "CUS": "customer.md.j2",
               "WL": "waitlist.md.j2", "LV": "leave.md.j2"}
VAR_OF = {"APP": "a", "SRV": "s", "FLW": "f", "CUS": "c", "WL": "w", "LV": "lv"}


def folder_of(settings: Settings, kind: str) -> str:
    """Where new notes of `kind` go; in a chain each store's APP/SRV/FLW under its own subfolder."""
    f = settings.folders
    folder = {"APP": f.appointments, "SRV": f.services, "FLW": f.followups, "CUS": f.customers, "WL": f.waitlist,
              "LV": f.leaves}[kind]
    if settings.store and kind != "CUS":  # customer profiles are shared by the whole chain
        folder = f"{folder}/{settings.store}" if folder else settings.store
    return folder


def file_name(record: Record) -> str:
    if isinstance(record, Customer):
        return sanitize_filename(f"{record.id} {record.name or ''}".strip()) + ".md"
    return sanitize_filename(record.record_id) + ".md"


def render_record(settings: Settings, root: Path, record: Record, **extra) -> str:
    """The note of `record`; `extra` is further context its template shows in the body (never frontmatter)."""
    return render(TEMPLATE_OF[record.kind], root / settings.folders.templates, **{VAR_OF[record.kind]: record}, **extra)


def vault_path(root: Path, relpath: str) -> Path:
    """`root / relpath`, refused (VaultCRMError) when a write there would land outside the vault.

    A customer name never reaches this unsanitised, but a folder of the vault may be a symlink (a
    user's "shortcut" to a synced drive, say): writing through it would put records outside the vault.
    """
    try:
        safe_path(root, relpath)
    except UnsafePathError as exc:
        parts = Path(relpath).parts
        for depth in range(1, len(parts)):
            folder = root.joinpath(*parts[:depth])
            if folder.is_symlink() and not folder.resolve().is_relative_to(root.resolve()):
                raise VaultCRMError(
                    f"「{Path(*parts[:depth])}」文件夹是指向库外（{folder.resolve()}）的符号链接：为保护库外的文件，"
                    "vaultcrm 不会通过它写入。请把它换成库内的普通文件夹，或在 vaultcrm.yaml 的 目录 中改用别的文件夹"
                ) from None
        raise VaultCRMError(f"路径「{relpath}」会写到库外或受保护的位置，已拒绝（{exc}）") from None
    return root / relpath


# Control characters (but tab and line breaks): invisible, they garble a terminal or hide part of a name.
# NUL cannot even be typed; it can only come from a file.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def refuse_control_characters(values, where: str = "") -> None:
    """VaultCRMError naming the field when any text in `values` holds a control character."""
    if isinstance(values, BaseModel):
        values = values.model_dump(by_alias=True, exclude={"path"})
    if isinstance(values, dict):
        for key, value in values.items():
            name = ".".join(map(str, key)) if isinstance(key, tuple) else str(key)
            refuse_control_characters(value, f"{where}.{name}" if where else name)
    elif isinstance(values, (list, tuple)):
        for value in values:
            refuse_control_characters(value, where)
    elif isinstance(values, str) and (m := _CONTROL.search(values)):
        raise VaultCRMError(f"「{where or '文本'}」含有不可见的控制字符（U+{ord(m[0]):04X}），不会写入笔记；"
                            "请删除该字符后重试")


def create_record(root: Path, settings: Settings, record: Record, known_ids, *, year: int | None = None,
                  body: dict | None = None) -> Record:
    """Give `record` the next free ID, render it and create its note. Returns the record as written.

    `body` is extra context for the template's Markdown body (what the note tells a reader in Obsidian)."""
    refuse_control_characters(record)
    if settings.stores and not settings.store:
        raise VaultCRMError("这是连锁库（vaultcrm.yaml 中有 门店），但本机还没有设置门店，新记录无法编号：请运行 "
                            f"vaultcrm init --store 门店代码（有：{'、'.join(settings.stores)}），或设置 $VAULTCRM_STORE")
    folder = folder_of(settings, record.kind)
    if settings.store and not record.store:
        record = record.model_copy(update={"store": settings.store})

    def build(record_id: str) -> tuple[str, bytes]:
        nonlocal record
        record = record.model_copy(update={"id": record_id})
        relpath = f"{folder}/{file_name(record)}" if folder else file_name(record)
        record = record.model_copy(update={"path": relpath})
        vault_path(root, relpath)
        text = render_record(settings, root, record, **(body or {}))
        _verify_render(record, relpath, text)
        return relpath, text.encode("utf-8")

    staging = journal.current()
    ids.create_with_new_id(root, record.kind, year, known_ids, folder, build,
                           create=staging.create if staging is not None else None, store=settings.store)
    return record


def _verify_render(record: Record, relpath: str, text: str) -> None:
    """What we write must read back as the record we meant: a broken override template is refused."""
    parsed, note = parse_note(relpath, text.encode("utf-8"))
    if parsed is None or parsed.model_dump() != record.model_dump():
        differ = [] if parsed is None else [info.alias or name for name, info in type(record).model_fields.items()
                                            if getattr(parsed, name) != getattr(record, name)]
        problems = "；".join(str(d) for d in note.diagnostics) or "模板输出与记录不一致"
        if differ and not note.diagnostics:
            problems += f"（{'、'.join(differ)}）"
        raise VaultCRMError(f"渲染 {relpath} 的模板有误，未写入：{problems}")


def update_record(root: Path, record: Record, changes: dict[tuple, object], *,
                  append: dict[tuple, list] | None = None, loaded: tuple[int, int] | None = None,
                  body: Callable[[str], str] | None = None) -> bool:
    """Set values at key paths in a record's note. False when nothing would change.

    `loaded` is (mtime_ns, size) as the vault was read; a note saved since then is not overwritten.
    `body`, when given, rewrites the Markdown below the frontmatter (e.g. to scrub a name from it).
    Inside a `journal.transaction` the new text is staged (on top of what the operation staged
    before), to be written with the operation's other notes.
    """
    from ..vault.edit import EditError, edit_frontmatter  # ruamel.yaml: imported by the commands that edit

    refuse_control_characters(changes)
    refuse_control_characters(append or {})
    path = vault_path(root, record.path)
    staging = journal.current()
    if staging is not None and staging.staged(record.path):
        raw, stamp = staging.read(record.path), None
        if raw is None:
            raise VaultCRMError(f"{record.path} 已不存在（被移动或删除？），请重试")
    else:
        try:
            raw, stamp = read_stamped(path)
        except FileNotFoundError:
            raise VaultCRMError(f"{record.path} 已不存在（被移动或删除？），请重试") from None
        if loaded is not None and (stamp.mtime_ns, stamp.size) != loaded:
            raise ConcurrentChangeError(f"{record.path} 在读取后被修改（可能正在 Obsidian 中编辑），未写入；请重试")
    try:
        text = raw.decode("utf-8")
        new_text = edit_frontmatter(text, changes, append=append or {})
        if body is not None:
            new_text = _edit_body(new_text, body)
    except UnicodeDecodeError:
        raise VaultCRMError(f"{record.path}: 文件不是 UTF-8 编码，无法修改") from None
    except (EditError, ValueError) as exc:  # ValueError: YAML that cannot be built, e.g. 2026-02-30
        raise VaultCRMError(f"{record.path}: 无法安全地修改该笔记（{exc}），未写入") from None
    if staging is not None:
        data = new_text.encode("utf-8")
        if data == raw:
            return False
        staging.put(record.path, data, stamp)
        return True
    try:
        return write_atomic(path, new_text.encode("utf-8"), expect=stamp, within=root)
    except ConcurrentEditError:
        raise ConcurrentChangeError(f"{record.path} 在读取后被修改（可能正在 Obsidian 中编辑），未写入；请重试") from None
    except UnsafePathError:
        vault_path(root, record.path)  # explains which folder leads out of the vault
        raise


def _edit_body(text: str, body: Callable[[str], str]) -> str:
    """Apply `body` to what follows the closing fence line; the frontmatter and fence stay as they are."""
    from ..vault.edit import split_note

    prefix, frontmatter, rest = split_note(text)
    fence, newline, markdown = rest.partition("\n")
    return prefix + frontmatter + fence + newline + body(markdown)


def rename_record(root: Path, record: Record, relpath: str) -> Record:
    """Move a record's note to `relpath` in the vault, never replacing a file that is already there.

    A hard link then an unlink: a crash in between leaves the note under both names (which `check`
    reports as a duplicate ID), never under none.
    """
    source, target = vault_path(root, record.path), vault_path(root, relpath)
    if source == target:
        return record
    staging = journal.current()
    if staging is not None:
        try:
            staging.move(record.path, relpath)
        except FileExistsError:
            raise VaultCRMError(f"无法把 {record.path} 改名为 {relpath}：该文件已存在") from None
        except FileNotFoundError:
            raise VaultCRMError(f"{record.path} 已不存在（被移动或删除？），请重试") from None
        return record.model_copy(update={"path": relpath})
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise VaultCRMError(f"无法把 {record.path} 改名为 {relpath}：该文件已存在") from None
    except OSError:  # no hard links on this file system: check, then rename
        if os.path.lexists(target):
            raise VaultCRMError(f"无法把 {record.path} 改名为 {relpath}：该文件已存在") from None
        os.rename(source, target)
    else:
        os.unlink(source)
    return record.model_copy(update={"path": relpath})


def stat_key(root: Path, relpath: str) -> tuple[int, int] | None:
    try:
        st = os.stat(root / relpath)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
