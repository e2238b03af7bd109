"""The git merge driver (`vaultcrm merge-driver %O %A %B %P`): merge.py's decision applied to git's files.

git calls it from the top of the clone with three temporary files (ancestor, ours, theirs) and the
note's path; the merged note goes into the "ours" file and exit 0 tells git it merged cleanly. It
never exits non-zero for a note it could read, so git never writes conflict markers into one. Which
edit is later comes from the author dates of the last commits touching the note on each side (`sync`
sets the two sides' commits; a hand-run `git pull` uses HEAD and MERGE_HEAD); a tie goes to theirs.
What had to be decided is appended to `.vaultcrm/merge-report.jsonl` for `sync` and `check` to show.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..vault.state import append_text
from .gitrun import run_git
from .merge import merge_notes, show

REPORT = ".vaultcrm/merge-report.jsonl"
ENV_OURS, ENV_THEIRS = "VAULTCRM_MERGE_OURS", "VAULTCRM_MERGE_THEIRS"
MAX_NOTE = 32 << 20


def _author_time(root: Path, ref: str | None, relpath: str) -> int | None:
    if not ref:
        return None
    out = run_git(root, "log", "-1", "--format=%at", ref, "--", relpath).out.strip()
    return int(out) if out.isdigit() else None


def _ref(root: Path, name: str) -> str | None:
    found = run_git(root, "rev-parse", "-q", "--verify", name)
    return found.out.strip() if found.code == 0 else None


def later_side(root: Path, relpath: str) -> str:
    ours_ref = os.environ.get(ENV_OURS) or _ref(root, "HEAD")
    theirs_ref = os.environ.get(ENV_THEIRS) or _ref(root, "MERGE_HEAD") or _ref(root, "REBASE_HEAD")
    ours, theirs = _author_time(root, ours_ref, relpath), _author_time(root, theirs_ref, relpath)
    return "ours" if ours is not None and theirs is not None and ours > theirs else "theirs"


def _line_merge(root: Path):
    """A line-level three-way merge with `git merge-file` (runs no hooks or filters); None on overlap."""
    def merge(base: str, ours: str, theirs: str) -> str | None:
        folder = root / ".vaultcrm" / "merge"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            paths = []
            for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
                path = Path(tmp) / name
                path.write_text(text, encoding="utf-8")
                paths.append(str(path))
            done = subprocess.run(["git", "merge-file", "-p", "-q", *paths], capture_output=True,
                                  stdin=subprocess.DEVNULL)
        return done.stdout.decode("utf-8") if done.returncode == 0 else None
    return merge


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(MAX_NOTE)


def run_driver(root: Path, base: str, ours: str, theirs: str, relpath: str) -> int:
    later = later_side(root, relpath)
    raw = [_read(base) if os.path.exists(base) else b"", _read(ours), _read(theirs)]
    try:
        texts = [r.decode("utf-8") for r in raw]
    except UnicodeDecodeError:  # not a text note: the later file whole; reported, nothing marked up
        Path(ours).write_bytes(raw[1] if later == "ours" else raw[2])
        _report(root, relpath, later, ["（非 UTF-8 文件，整份取较新版本）"], False)
        return 0
    result = merge_notes(texts[0] or None, texts[1], texts[2], later=later,
                         other_label="较早的一次编辑", merge_lines=_line_merge(root))
    Path(ours).write_bytes(result.text.encode("utf-8"))
    if not result.clean:
        fields = [f"{c.field}：取「{show(c.ours if c.kept == 'ours' else c.theirs)}」，"
                  f"舍「{show(c.theirs if c.kept == 'ours' else c.ours)}」" for c in result.conflicts]
        _report(root, relpath, later, fields, result.body_kept_both)
    return 0


def _report(root: Path, relpath: str, later: str, fields: list[str], body: bool) -> None:
    line = {"时间": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "笔记": relpath, "字段": fields, "正文两份都保留": body}
    append_text(root / REPORT, json.dumps(line, ensure_ascii=False) + "\n")


def read_report(root: Path, since: int = 0) -> tuple[list[dict], int]:
    """(entries after byte `since`, the report's size now) — entries that do not parse are skipped."""
    path = root / REPORT
    try:
        with open(path, "rb") as handle:
            handle.seek(since)
            data = handle.read(4 << 20)
    except OSError:
        return [], since
    entries = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("笔记"), str):
            entries.append(entry)
    return entries, since + len(data)


__all__ = ["ENV_OURS", "ENV_THEIRS", "REPORT", "later_side", "read_report", "run_driver"]


def drive(root: Path, base: str, ours: str, theirs: str, relpath: str) -> int:
    """What git gets from `vaultcrm merge-driver`: the exit code; a failure is one line on stderr."""
    try:
        return run_driver(root, base, ours, theirs, relpath)
    except Exception as exc:  # noqa: BLE001 - git must get an exit code, the user a line
        sys.stderr.write(f"vaultcrm 合并 {relpath} 失败：{exc}\n")
        return 1
