"""Read and write campaign notes (`活动/CMP-2026-001.md`, `活动/生日关怀.md`) and their send logs.

A campaign note is created whole from `campaign.md.j2`; later runs rewrite only the 活动名单 block
(text around it, and the frontmatter, stay as the user left them) and refuse when the note was saved
by someone else since it was read. Notes are found in the campaigns folder (`目录.活动`), by file.

While a send runs, each delivery is appended at once to `.vaultcrm/campaigns/ID.sent` (one short line,
O_APPEND), and the note is rewritten every FLUSH_EVERY deliveries and at the end: rewriting a
ten-thousand-row table after every message would cost minutes, while a kill between two rewrites
must not forget who was already messaged. Reading a campaign folds its send log in, so a killed run
repeats at most the one delivery in flight (which carries the same ID, for the receiver to drop).
The log goes once the note holds all it says.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.config import STATE_DIR, Settings
from ..core.render import markdown_inline, render
from ..errors import ConcurrentChangeError, VaultCRMError
from ..vault.blocks import markers, read_block, replace_block
from ..vault.edit import split_note
from ..vault.state import append_text, read_state
from ..vault.writer import (
    ConcurrentEditError,
    FileStamp,
    UnsafePathError,
    read_stamped,
    safe_path,
    write_atomic,
)
from .roster import BLOCK, ID_KEY, Campaign, Entry, SendStatus, campaign_from, parse_rows

SENT_LOG_DIR = f"{STATE_DIR}/campaigns"
MAX_SENT_LOG = 64 << 20
_NAME = re.compile(r"^[^.].*\.md$")
_LINK = re.compile(r"^\[\[[^\[\]|#^\r\n<>]+\]\]$")  # a profile link vaultcrm made from a file name


@dataclass
class CampaignNote:
    campaign: Campaign
    relpath: str
    text: str
    stamp: FileStamp | None


def folder(settings: Settings) -> str:
    return settings.folders.campaigns.strip("/")


def relpath_of(settings: Settings, campaign_id: str) -> str:
    base = folder(settings)
    return f"{base}/{campaign_id}.md" if base else f"{campaign_id}.md"


def note_path(root: Path, relpath: str) -> Path:
    """Where the note is; refused when the campaigns folder leads out of the vault (it holds names)."""
    try:
        return safe_path(root, relpath)
    except UnsafePathError as exc:
        raise VaultCRMError(f"活动笔记「{relpath}」不在库内，已拒绝（{exc}）：请检查 vaultcrm.yaml 的 目录.活动 设置；"
                            "未写入任何内容") from None


def _cell(value: object) -> str:
    """Inert Markdown for a table cell (no link, HTML or pipe), `-` when empty."""
    text = markdown_inline(value) if value not in (None, "") else ""
    return text.replace("|", "／") or "-"


def row_cells(entry: Entry) -> list[str]:
    """One roster row as the table shows it, in COLUMNS order.

    Formatted here rather than cell by cell in the (sandboxed) template: a ten-thousand-row table is
    rewritten several times during a send, and the sandbox's checks on every attribute cost seconds.
    """
    link = entry.customer if _LINK.match(entry.customer or "") else _cell(entry.customer)
    return [entry.code, _cell(entry.customer_id), link, entry.issued.isoformat(),
            entry.valid_until.isoformat() if entry.valid_until else "-", entry.status.value,
            f"{entry.sent_at:%Y-%m-%d %H:%M}" if entry.sent_at else "-", _cell("、".join(entry.sent_to)),
            _cell(entry.note)]


def _context(campaign: Campaign) -> dict:
    return {"rows": [" | ".join(row_cells(e)) for e in campaign.rows()], "counts": campaign.counts()}


def render_table(settings: Settings, root: Path, campaign: Campaign) -> str:
    return render("campaign_table.md.j2", root / settings.folders.templates, **_context(campaign))


def render_note(settings: Settings, root: Path, campaign: Campaign) -> str:
    return render("campaign.md.j2", root / settings.folders.templates, c=campaign, **_context(campaign))


def parse_note(relpath: str, text: str) -> Campaign:
    """The campaign a note holds; VaultCRMError naming the file (and line) when it cannot be read."""
    _, fm, _ = split_note(text)
    try:
        meta = yaml.load(fm, Loader=yaml.CSafeLoader) if fm else None
    except yaml.YAMLError as exc:
        raise VaultCRMError(f"{relpath}: frontmatter 不是有效的 YAML（{getattr(exc, 'problem', exc)}），请修正后重试") from None
    if not isinstance(meta, dict) or ID_KEY not in meta:
        raise VaultCRMError(f"{relpath}: 不是活动笔记（缺少 {ID_KEY}）")
    try:
        campaign = campaign_from(meta, relpath)
        start = text.find(markers(BLOCK)[0])
        block = read_block(text, BLOCK)
        if block is None:
            raise ValueError(f"{relpath}: 找不到活动名单（{markers(BLOCK)[0]} … 标记之间的表格）")
        first_line = text.count("\n", 0, start) + 2
        entries = parse_rows(block, first_line, relpath)
    except ValueError as exc:
        raise VaultCRMError(f"{exc}；请修正后重试") from None
    campaign.entries = {e.code: e for e in entries}
    return campaign


def read_note(root: Path, relpath: str) -> CampaignNote | None:
    try:
        raw, stamp = read_stamped(note_path(root, relpath))
    except FileNotFoundError:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VaultCRMError(f"{relpath}: 文件不是 UTF-8 编码，请以 UTF-8 另存") from None
    note = CampaignNote(parse_note(relpath, text), relpath, text, stamp)
    fold_sent_log(root, note.campaign)
    return note


def note_files(root: Path, settings: Settings) -> list[str]:
    """Relative paths of the notes in the campaigns folder, by name."""
    base = folder(settings)
    try:
        names = sorted(n for n in os.listdir(root / base) if _NAME.match(n))
    except OSError:
        return []
    return [f"{base}/{n}" if base else n for n in names]


def all_campaigns(root: Path, settings: Settings) -> list[CampaignNote]:
    """Every campaign note; a note of the folder without 活动编号 is read past (it is the user's)."""
    found = []
    for relpath in note_files(root, settings):
        try:
            raw = read_stamped(note_path(root, relpath))[0]
        except (FileNotFoundError, IsADirectoryError):
            continue
        if ID_KEY.encode("utf-8") not in raw[:4096]:
            continue
        note = read_note(root, relpath)
        if note is not None:
            found.append(note)
    return found


def find_code(root: Path, settings: Settings, code: str) -> tuple[CampaignNote, Entry] | None:
    """The campaign and row holding coupon `code` (normalised), None when no campaign has it.

    Only the notes whose bytes hold the code are parsed, so `log` stays quick beside large campaigns.
    """
    needle = code.encode("ascii")
    for relpath in note_files(root, settings):
        try:
            raw = read_stamped(note_path(root, relpath))[0]
        except (FileNotFoundError, IsADirectoryError):
            continue
        if needle not in raw or ID_KEY.encode("utf-8") not in raw[:4096]:
            continue
        note = read_note(root, relpath)
        if note is not None and code in note.campaign.entries:
            return note, note.campaign.entries[code]
    return None


def write_note(root: Path, settings: Settings, note: CampaignNote) -> bool:
    """Rewrite the note's 活动名单 from its campaign; False when it already says exactly that."""
    text = replace_block(note.text, BLOCK, render_table(settings, root, note.campaign))
    if text == note.text:
        return False
    path = note_path(root, note.relpath)
    try:
        write_atomic(path, text.encode("utf-8"), expect=note.stamp, within=root)
    except ConcurrentEditError:
        raise ConcurrentChangeError(f"{note.relpath} 在读取后被修改（可能正在 Obsidian 中编辑），未写入；"
                                    "已发送的记录不会丢失，请稍后再运行一次") from None
    note.text, note.stamp = text, read_stamped(path)[1]
    return True


# -- the send log ----------------------------------------------------------------------------------
def sent_log_path(root: Path, campaign_id: str) -> Path:
    return Path(root) / SENT_LOG_DIR / f"{campaign_id}.sent"


def log_delivery(root: Path, campaign_id: str, code: str, channel: str, at: dt.datetime) -> None:
    """Remember one delivery at once (before anything else happens), one line."""
    line = "\t".join((code, " ".join(channel.split()), f"{at:%Y-%m-%d %H:%M}"))
    if not append_text(sent_log_path(root, campaign_id), line + "\n"):
        raise VaultCRMError(f"无法记录发送状态到 {SENT_LOG_DIR}/{campaign_id}.sent，已停止发送（避免重复发送）")


def fold_sent_log(root: Path, campaign: Campaign) -> None:
    """Apply the deliveries the log holds (a run killed before it rewrote the note) to the rows' 已发送至;
    whether a row is then 已发送 (reached on every channel it is meant for) is the sender's to say."""
    raw = read_state(sent_log_path(root, campaign.id), MAX_SENT_LOG)
    if not raw:
        return
    for line in raw.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        entry = campaign.entries.get(parts[0]) if len(parts) == 3 else None
        if entry is None or entry.status is SendStatus.SKIPPED:
            continue
        if parts[1] not in entry.sent_to:
            entry.sent_to.append(parts[1])
        if entry.sent_at is None:
            try:
                entry.sent_at = dt.datetime.strptime(parts[2], "%Y-%m-%d %H:%M")
            except ValueError:
                pass


def drop_sent_log(root: Path, campaign_id: str) -> None:
    try:
        os.unlink(sent_log_path(root, campaign_id))
    except FileNotFoundError:
        pass


__all__ = ["CampaignNote", "all_campaigns", "drop_sent_log", "find_code", "fold_sent_log", "folder", "log_delivery",
           "note_files", "parse_note", "read_note", "relpath_of", "render_note", "write_note"]
