"""Whether `vaultcrm stats` has anything to do: a digest of everything the derived notes are made from.

`stats` rewrites the daily, monthly and 排班 notes, the dashboard's blocks and every profile's 标签,
会员等级 and 积分 from the records. Rendering them all takes most of its time on a large vault, and
when no note has changed since a run that finished, the result is the same. So a finished run leaves
a digest of what it read and left behind: every note's path and stamp (as loaded, with the notes it
wrote as it wrote them), the settings, the day, the code and the templates. The next run that finds
the same digest has nothing to write and stops there (the way make compares stamps).

Any change counts: a note created, edited (its ctime moves even when a sync tool restores the mtime),
moved or deleted, the derived notes themselves edited by hand, `vaultcrm.yaml`, a template, the
program, or the date. A note edited while a run was going keeps the stamp that run loaded, so the next
run sees the edit. A run that could not write everything (a profile open in Obsidian) leaves no digest.

The digest file sits in the synced `.vaultcrm/` folder like the cache: it is one hex string, read as
data; a planted or malformed one only means a full run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from ..core.render import templates_dir
from ..vault.cache import Stamp
from ..vault.scan import stamp_of
from ..vault.state import clear_junk, read_state
from ..vault.writer import write_atomic

FORMAT = 1
STATE = Path(".vaultcrm") / "stats-digest"
_DIGEST = re.compile(rb"[0-9a-f]{64}")


def _tree_stamps(folder: Path, suffixes: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(relative path, mtime_ns, size) of the files under `folder` ending so; [] when it is missing."""
    found = []
    for where, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(names):
            if name.endswith(suffixes):
                try:
                    st = os.stat(os.path.join(where, name))
                except OSError:
                    continue
                found.append((os.path.relpath(os.path.join(where, name), folder), st.st_mtime_ns, st.st_size))
    return found


def code_stamps(override: Path) -> list:
    """The program, its templates and the vault's own templates, as stamps: a change to any of them
    can change what `stats` writes."""
    package = Path(__file__).resolve().parent.parent
    return [_tree_stamps(package, (".py",)), _tree_stamps(templates_dir(), (".j2",)),
            _tree_stamps(override, (".j2",)) if override.is_dir() else []]


def digest(files: Mapping[str, Stamp], settings_json: str, today: dt.date, code: list) -> str:
    """The digest of one state of the inputs: equal digests, equal derived notes."""
    blob = msgspec.msgpack.encode([FORMAT, today.isoformat(), settings_json, code, sorted(files.items())])
    return hashlib.sha256(blob).hexdigest()


def settings_json(settings) -> str:
    return settings.model_dump_json()


def after_writes(root: Path, files: Mapping[str, Stamp], written: Iterable[str]) -> dict[str, Stamp]:
    """`files` as loaded, with the notes a run wrote as they are now (stamped right after the writes)."""
    out = dict(files)
    for relpath in written:
        try:
            st = os.lstat(root / relpath)
        except OSError:
            out.pop(relpath, None)
            continue
        out[relpath] = stamp_of(st)
    return out


def read_digest(root: Path) -> str | None:
    raw = read_state(root / STATE, 256)
    if raw is None:
        return None
    raw = raw.strip()
    return raw.decode() if _DIGEST.fullmatch(raw) else None


def save_digest(root: Path, value: str | None) -> None:
    """Best effort: without the file the next run only does the full work again."""
    target = root / STATE
    try:
        if value is None:
            if os.path.lexists(target) and not os.path.isdir(target):
                os.unlink(target)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if clear_junk(target):
            write_atomic(target, value.encode() + b"\n", within=root)
    except (OSError, ValueError):
        pass
