"""Read and write the day notes `提醒/YYYY-MM-DD.md`, which hold each day's reminders and their state.

A day note is created whole from `reminders_day.md.j2`. Later runs change only what is vaultcrm's:
the `提醒状态表` property (through the frontmatter editor, so properties a user added stay) and the
table between the `提醒记录` markers (so text a user wrote around it stays). The note is found by its
path, not by a key: it is no record, and the loader reads past it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..core.config import Settings
from ..core.render import render
from ..errors import ConcurrentChangeError, NotFoundError, VaultCRMError
from ..vault.blocks import read_block, replace_block
from ..vault.edit import EditError, edit_frontmatter, split_note
from ..vault.writer import (
    ConcurrentEditError,
    FileExistsConflict,
    FileStamp,
    UnsafePathError,
    create_exclusive,
    read_stamped,
    safe_path,
    write_atomic,
)
from .day_state import ID_PATTERN, DayLog, Entry

BLOCK = "提醒记录"
DAY_KEY = "提醒日期"
STATE_KEY = "提醒状态表"
_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.md$")


@dataclass
class DayNote:
    log: DayLog
    relpath: str
    text: str | None = None  # as read or last written; None while the note does not exist
    stamp: FileStamp | None = None
    saved: dict | None = field(init=False, default=None)  # the state as the file holds it

    def __post_init__(self) -> None:
        self.saved = self.log.state() if self.text is not None else None

    @property
    def day(self) -> dt.date:
        return self.log.day


def note_relpath(settings: Settings, day: dt.date) -> str:
    folder = settings.folders.reminders.strip("/")
    return f"{folder}/{day.isoformat()}.md" if folder else f"{day.isoformat()}.md"


def note_path(root: Path, relpath: str) -> Path:
    """Where the day note really is; refused when the reminders folder leads out of the vault.

    The notes hold customers' names: a `提醒` folder symlinked elsewhere, or `目录.提醒: ../x`, must
    not carry them out of the vault.
    """
    try:
        return safe_path(root, relpath)
    except UnsafePathError as exc:
        raise VaultCRMError(f"提醒笔记「{relpath}」不在库内，已拒绝（{exc}）：请检查 vaultcrm.yaml 的 目录.提醒 设置，"
                            "或把指向库外的提醒文件夹换成库内的普通文件夹；未写入任何内容") from None


def _frontmatter(relpath: str, text: str) -> dict:
    _, fm, _ = split_note(text)
    try:
        data = yaml.load(fm, Loader=yaml.CSafeLoader) if fm else {}
    except yaml.YAMLError as exc:
        raise VaultCRMError(f"{relpath}: frontmatter 不是有效的 YAML（{getattr(exc, 'problem', exc)}），"
                            "请修正后重试；在此之前不会发送提醒") from None
    return data if isinstance(data, dict) else {}


def read_day(root: Path, settings: Settings, day: dt.date) -> DayNote:
    relpath = note_relpath(settings, day)
    try:
        raw, stamp = read_stamped(note_path(root, relpath))
    except FileNotFoundError:
        return DayNote(DayLog(day), relpath)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VaultCRMError(f"{relpath}: 文件不是 UTF-8 编码，请以 UTF-8 另存") from None
    try:
        log = DayLog.parse(day, _frontmatter(relpath, text).get(STATE_KEY))
    except ValueError as exc:
        raise VaultCRMError(f"{relpath}: {exc}；请修正后重试，在此之前不会发送提醒") from None
    return DayNote(log, relpath, text, stamp)


def render_table(settings: Settings, root: Path, rows: list[Entry]) -> str:
    return render("reminders_table.md.j2", root / settings.folders.templates, rows=rows)


def write_day(root: Path, settings: Settings, note: DayNote) -> bool:
    """Write the note's state and table; False when the file already says exactly that."""
    path = note_path(root, note.relpath)
    rows, state = note.log.rows(), note.log.state()
    table = render_table(settings, root, rows)
    if note.text is not None and state == note.saved and read_block(note.text, BLOCK) == table.strip("\r\n"):
        return False  # parsing and editing the frontmatter costs more than this comparison
    written = True
    if note.text is None:
        text = render("reminders_day.md.j2", root / settings.folders.templates, day=note.day, rows=rows)
        _verify(note, text)
        try:
            create_exclusive(path, text.encode("utf-8"), within=root)
        except FileExistsConflict:
            raise ConcurrentChangeError(f"{note.relpath} 刚被其他程序创建，未写入；请重试") from None
    else:
        try:
            text = edit_frontmatter(note.text, {(DAY_KEY,): note.day, (STATE_KEY,): state})
        except EditError as exc:
            raise VaultCRMError(f"{note.relpath}: 无法更新属性（{exc}），请检查该笔记的 frontmatter") from None
        text = replace_block(text, BLOCK, table)
        try:
            written = write_atomic(path, text.encode("utf-8"), expect=note.stamp, within=root)
        except ConcurrentEditError:
            raise ConcurrentChangeError(f"{note.relpath} 在读取后被修改（可能正在 Obsidian 中编辑），"
                                        "未写入；下次运行会重试") from None
    note.text, note.stamp, note.saved = text, read_stamped(path)[1], state
    return written


def _verify(note: DayNote, text: str) -> None:
    """A new note must read back as the state it was rendered from (an override template may not)."""
    try:
        back = DayLog.parse(note.day, _frontmatter(note.relpath, text).get(STATE_KEY))
    except (ValueError, VaultCRMError):
        back = None
    if back is None or back.state() != note.log.state() or read_block(text, BLOCK) is None:
        raise VaultCRMError(f"提醒笔记模板 reminders_day.md.j2 的输出无法读回，未写入 {note.relpath}")


def days_with_notes(root: Path, settings: Settings, first: dt.date, last: dt.date) -> list[dt.date]:
    """The days first..last that already have a note in the reminders folder."""
    folder = root / settings.folders.reminders
    try:
        days = [_day_of(p.name) for p in folder.iterdir()]
    except OSError:
        return []
    return sorted(d for d in days if d is not None and first <= d <= last)


def _day_of(name: str) -> dt.date | None:
    m = _NAME.match(name)
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])) if m else None
    except ValueError:
        return None


def find_entry(root: Path, settings: Settings, entry_id: str, near: dt.date) -> DayNote:
    """The day note holding `entry_id` (`R-MMDD-NN`); of several years' notes, the one nearest `near`."""
    m = ID_PATTERN.match(entry_id)
    if not m:
        raise NotFoundError(f"提醒编号「{entry_id}」应写作 R-0212-01")
    folder = root / settings.folders.reminders
    paths = folder.glob(f"*-{m[1][:2]}-{m[1][2:]}.md") if folder.is_dir() else []
    candidates = [d for d in map(_day_of, (p.name for p in paths)) if d is not None]
    for candidate in sorted(candidates, key=lambda d: abs((d - near).days)):
        note = read_day(root, settings, candidate)
        if entry_id in note.log.entries:
            return note
    raise NotFoundError(f"找不到提醒 {entry_id}（在 {settings.folders.reminders}/ 的提醒笔记中）")
