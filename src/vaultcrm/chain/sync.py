"""`vaultcrm sync`: commit this store's changes, pull with rebase, push to `origin` — git is the sync engine.

Network steps (fetch, push) run without any vault lock; the local steps (commit, rebase) run under the
`booking` lock, so a `book` or `log` in flight is never half-committed and never has its note rewritten
under it by the rebase: sync waits a few seconds for it, and otherwise refuses (cron tries again).
A push beaten by another store's push fetches and rebases again. Every failure says in Chinese what
happened (no remote, no network, authentication, history diverged) and leaves the store's own commits
in place: nothing is lost, and the next sync carries on.

A sync killed in its local steps (a power cut, cron's timeout) leaves `.git/vaultcrm-sync` behind, and
perhaps a rebase half done and git's `index.lock`. The next sync finishes the job: it gives that rebase
up (the store's commits are all still there), sets aside any note saved in the half-rebased folder
since, and syncs again.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core import journal
from ..core.config import Settings
from ..core.locks import BOOKING, holding
from ..errors import VaultCRMError
from ..vault.lock import LockTimeout
from ..vault.writer import write_atomic
from .driver import ENV_OURS, ENV_THEIRS, REPORT, read_report
from .gitrun import is_repository, refuse_unsafe_config, run_git

PUSH_ATTEMPTS = 4
MARK = "vaultcrm-sync"  # in .git: there while the local steps run; found at the start only after a kill
STALE_LOCK = 600  # seconds (git's longest step here): an older index.lock under a mark is a killed git's
RESCUE = ".vaultcrm/同步中断"  # machine-local, never synced (`.gitignore`)
GIT_BUSY = "另一个 git 操作正在进行（.git/index.lock 存在），本次同步未进行；稍后会再试"
MERGE_TEMP = ".merge_file_*"  # git's temporary files for a merge driver, in the clone's top folder
KIND_OF_PREFIX = (("APP-", "预约"), ("SRV-", "服务记录"), ("FLW-", "跟进"), ("C-", "客户"))
STATUS_WORD = {"A": "新增", "M": "修改", "D": "删除", "R": "改名"}


class SyncError(VaultCRMError):
    pass


@dataclass
class SyncResult:
    store: str
    committed: str | None = None  # the commit message, when there was something to commit
    received: int = 0  # commits of other stores brought in
    pushed: bool = False
    conflicts: list[dict] = field(default_factory=list)  # merge-report entries of this run
    kept_deleted: list[str] = field(default_factory=list)  # notes one side deleted and the other edited: kept
    resumed: bool = False  # a killed sync's half-done rebase was given up before this one
    set_aside: list[str] = field(default_factory=list)  # files saved after that kill, copied under `RESCUE`
    seconds: float = 0.0


NETWORK = re.compile(r"could not resolve host|unable to access|connection (refused|timed out|reset)|network is "
                     r"unreachable|could not read from remote|operation timed out|no route to host|"
                     r"failed to connect|temporary failure in name resolution", re.I)
AUTH = re.compile(r"authentication failed|permission denied|could not read username|403|401|"
                  r"access denied|publickey|invalid credentials|terminal prompts disabled", re.I)
MISSING_REMOTE_REPO = re.compile(r"does not appear to be a git repository|repository .* not found|not found", re.I)


def explain_remote_failure(step: str, err: str, url: str) -> SyncError:
    detail = [line for line in err.strip().splitlines() if line.strip()][-3:]
    if AUTH.search(err):
        message = (f"{step}失败：总部仓库（{url}）拒绝了本机的身份验证。请检查本机的 SSH 密钥或访问令牌"
                   "（git 凭据），本机的修改已提交在本地，没有丢失")
    elif MISSING_REMOTE_REPO.search(err) and not NETWORK.search(err):
        message = f"{step}失败：找不到总部仓库 {url}。请检查地址（git remote set-url origin 地址）；本机的修改已提交在本地，没有丢失"
    elif NETWORK.search(err):
        message = (f"{step}失败：连不上总部仓库（{url}），可能是网络断开。本机的修改已提交在本地，没有丢失；"
                   "网络恢复后下次同步会一并上传")
    else:
        message = f"{step}失败（{url}）：本机的修改已提交在本地，没有丢失"
    return SyncError(message, details=detail)


def _changed_files(root: Path) -> list[tuple[str, str]]:
    out = run_git(root, "diff", "--cached", "--name-status", "--no-renames", "-z").out
    parts = out.split("\0")
    return [(parts[i][:1], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def commit_message(store: str, changes: list[tuple[str, str]], now: dt.datetime) -> str:
    """`SH01 同步 …` and one line per kind and change: 新增预约 2：APP-SH01-2026-001、…"""
    groups: dict[tuple[str, str], list[str]] = {}
    for status, path in changes:
        stem = path.rsplit("/", 1)[-1].removesuffix(".md")
        kind = next((k for prefix, k in KIND_OF_PREFIX if stem.startswith(prefix)), "其他文件")
        groups.setdefault((STATUS_WORD.get(status, "修改"), kind), []).append(stem if kind != "其他文件" else path)
    lines = [f"{store} 同步 {now:%Y-%m-%d %H:%M}：{len(changes)} 个文件", ""]
    for (word, kind), names in sorted(groups.items(), key=lambda item: (item[0][1] == "其他文件", item[0])):
        shown = "、".join(sorted(names)[:20]) + ("…" if len(names) > 20 else "")
        lines.append(f"{word}{kind} {len(names)}：{shown}")
    return "\n".join(lines) + "\n"


def _drop_merge_leftovers(root: Path) -> None:
    """git's temporary copies of a note being merged (`.merge_file_XXXXXX`, at the top of the clone)
    stay behind when git is killed mid-merge: never committed, removed (untracked ones only)."""
    if not any(root.glob(MERGE_TEMP)):
        return
    listed = run_git(root, "ls-files", "--others", "-z", "--", MERGE_TEMP).out.split("\0")
    for name in filter(None, listed):
        if "/" not in name and (root / name).is_file() and not (root / name).is_symlink():
            (root / name).unlink(missing_ok=True)


def _commit(root: Path, store: str, now: dt.datetime) -> str | None:
    _drop_merge_leftovers(root)
    run_git(root, "add", "-A", check=True)
    changes = _changed_files(root)
    if not changes:
        return None
    newest = max((os.stat(root / p).st_mtime for s, p in changes if s != "D" and (root / p).exists()),
                 default=time.time())
    message = commit_message(store, changes, now)
    env = {"GIT_AUTHOR_DATE": f"@{int(newest)} +0000"}
    ident = [] if run_git(root, "config", "user.email").out.strip() else [  # a clone with no identity: the store's
        "-c", f"user.name=vaultcrm {store}", "-c", f"user.email={store.lower()}@vaultcrm.invalid"]
    done = run_git(root, *ident, "commit", "-q", "--no-verify", "-m", message, env=env)
    if done.code != 0:
        raise SyncError(f"提交本店的修改失败：{(done.err or done.out).strip()}")
    return message


def _branch(root: Path) -> str:
    name = run_git(root, "symbolic-ref", "--short", "-q", "HEAD").out.strip()
    if not name:
        raise SyncError("本库当前不在任何分支上（可能有一次未完成的 git 操作）；请先处理好，或联系负责同步的同事")
    return name


def _rev(root: Path, ref: str) -> str | None:
    found = run_git(root, "rev-parse", "-q", "--verify", ref + "^{commit}")
    return found.out.strip() if found.code == 0 else None


def _resolve_leftovers(root: Path) -> list[str]:
    """Files git could not merge alone because one side deleted what the other edited: the edited
    version stays. A file both sides edited that the merge driver does not take (not a note, such as
    `vaultcrm.yaml`) is left unmerged, and the rebase is given up: its conflict markers are never kept."""
    stages: dict[str, set[str]] = {}
    for entry in filter(None, run_git(root, "ls-files", "-u", "-z").out.split("\0")):
        meta, _, path = entry.partition("\t")
        stages.setdefault(path, set()).add(meta.split()[-1])
    kept = []
    for path, present in stages.items():
        if {"2", "3"} <= present:
            continue  # both sides' versions: a real conflict in a file that is not a note
        if (root / path).exists():  # git leaves the edited version in the working tree
            run_git(root, "add", "--", path, check=True)
            kept.append(path)
        else:
            run_git(root, "rm", "-q", "--cached", "--", path)
    return kept


def _rebase(root: Path, upstream: str, local: str, result: SyncResult) -> None:
    env = {ENV_OURS: upstream, ENV_THEIRS: local, "GIT_EDITOR": "true"}
    done = run_git(root, "rebase", "--no-autostash", upstream, env=env, timeout=600)
    for _ in range(50):
        if done.code == 0:
            return
        if not _rebasing(root):
            break
        result.kept_deleted += _resolve_leftovers(root)
        if run_git(root, "diff", "--name-only", "--diff-filter=U").out.strip():
            break
        done = run_git(root, "-c", "core.editor=true", "rebase", "--continue", env=env, timeout=600)
        if done.code != 0 and "nothing to commit" in (done.out + done.err):
            done = run_git(root, "rebase", "--skip", env=env, timeout=600)
    clashing = sorted(filter(None, run_git(root, "diff", "--name-only", "--diff-filter=U", "-z").out.split("\0")))
    run_git(root, "rebase", "--abort")
    files = "、".join(clashing[:5]) + (f" 等 {len(clashing)} 个文件" if len(clashing) > 5 else "")
    raise SyncError("本店与总部仓库的历史无法自动合并（历史已分叉：" + (f"两边都改了 {files} 的同一处，" if clashing else "")
                    + "或总部仓库被改写过）。本店的提交都还在本机，没有丢失；"
                    "请联系负责同步的同事处理（git status 可查看），处理好之前 sync 不会改动任何笔记",
                    details=[line for line in (done.err or done.out).strip().splitlines()][-3:])


def sync(root: Path, settings: Settings, *, now: dt.datetime | None = None, lock_wait: float = 10.0) -> SyncResult:
    started = time.perf_counter()
    store = settings.store
    if not store:
        raise SyncError("本机还没有设置门店，不能同步：请运行 vaultcrm init --store 门店代码")
    if not is_repository(root):
        raise SyncError(f"{root} 不是 git 仓库：请从总部仓库 git clone 到本机后再运行 vaultcrm init --store {store}")
    refuse_unsafe_config(root)
    url = run_git(root, "remote", "get-url", "origin").out.strip()
    if not url:
        raise SyncError("没有设置总部仓库（远程 origin）：请运行 git remote add origin 总部仓库地址（见 README「连锁门店」）")
    now = now or settings.now()
    result = SyncResult(store)
    if (root / ".git" / MARK).exists():
        _locked(root, lock_wait, lambda: _recover(root, now, result))
    if (root / ".git" / "index.lock").exists():
        raise SyncError(GIT_BUSY)
    _, report_start = read_report(root)
    branch = _branch(root)
    journal.recover(root)  # a killed multi-note operation is finished before its notes are committed
    for attempt in range(PUSH_ATTEMPTS):
        fetched = run_git(root, "fetch", "-q", "origin", timeout=300)
        if fetched.code != 0:
            _locked(root, lock_wait, lambda: _commit_into(root, store, now, result))
            raise explain_remote_failure("从总部仓库拉取", fetched.err, url)
        upstream = _rev(root, f"refs/remotes/origin/{branch}")

        def local_steps() -> None:
            mark = root / ".git" / MARK
            mark.write_text(f"{os.getpid()} {now.isoformat()}\n", encoding="utf-8")
            try:
                _commit_into(root, store, now, result)
                local = _rev(root, "HEAD")
                if upstream and local and upstream != local:
                    behind = run_git(root, "rev-list", "--count", f"HEAD..{upstream}").out.strip()
                    if behind.isdigit() and int(behind):
                        _rebase(root, upstream, local, result)
                        result.received += int(behind)
            finally:
                mark.unlink(missing_ok=True)  # only a kill leaves it

        _locked(root, lock_wait, local_steps)
        if _rev(root, "HEAD") is None:  # an empty clone with nothing to send yet
            break
        if upstream == _rev(root, "HEAD"):
            break
        pushed = run_git(root, "push", "-q", "origin", f"HEAD:refs/heads/{branch}", timeout=300)
        if pushed.code == 0:
            result.pushed = True
            run_git(root, "branch", "-q", f"--set-upstream-to=origin/{branch}")
            break
        if re.search(r"rejected|fetch first|non-fast-forward", pushed.err, re.I) and attempt < PUSH_ATTEMPTS - 1:
            continue  # another store pushed first: fetch and rebase again
        raise explain_remote_failure("上传到总部仓库", pushed.err, url)
    result.conflicts, _ = read_report(root, report_start)
    result.seconds = time.perf_counter() - started
    return result


def _rebasing(root: Path) -> bool:
    return (root / ".git" / "rebase-merge").exists() or (root / ".git" / "rebase-apply").exists()


def _recover(root: Path, now: dt.datetime, result: SyncResult) -> None:
    """Undo what a killed sync left half done (under the booking lock): its git's stale `index.lock`,
    and its rebase, given up so that this sync does it again from the store's own commits. A file that
    differs from git's index in the half-rebased folder (saved since the kill, or being written by git
    when it was killed) cannot be told apart safely: it is copied under `RESCUE` before the rebase is
    given up, and `sync` names it."""
    lock = root / ".git" / "index.lock"
    if lock.exists():
        if time.time() - lock.stat().st_mtime < STALE_LOCK:
            raise SyncError(GIT_BUSY)
        lock.unlink(missing_ok=True)
    if _rebasing(root):
        unmerged = set(run_git(root, "diff", "--name-only", "--diff-filter=U", "-z").out.split("\0"))
        changed = [path for path in run_git(root, "diff", "--name-only", "-z").out.split("\0")
                   if path and path not in unmerged and (root / path).is_file() and not (root / path).is_symlink()]
        folder = f"{RESCUE}/{now:%Y%m%d-%H%M%S}"
        for path in changed:
            write_atomic(root / folder / path, (root / path).read_bytes(), within=root)
            result.set_aside.append(f"{folder}/{path}")
        done = run_git(root, "rebase", "--abort")
        if done.code != 0:
            raise SyncError("上次同步在合并途中被中断，撤销那次未完成的合并失败；本店的提交都还在本机，没有丢失。"
                            "请联系负责同步的同事处理（git status 可查看）",
                            details=(done.err or done.out).strip().splitlines()[-3:])
        result.resumed = True
    (root / ".git" / MARK).unlink(missing_ok=True)


def _commit_into(root: Path, store: str, now: dt.datetime, result: SyncResult) -> None:
    message = _commit(root, store, now)
    if message:
        result.committed = message if result.committed is None else result.committed + message


def _locked(root: Path, wait: float, step) -> None:
    try:
        with holding(root, BOOKING, timeout=wait):
            step()
    except LockTimeout:
        raise SyncError(f"另一个 vaultcrm 命令正在写入笔记（已等待 {wait:g} 秒），本次同步未进行，没有改动任何内容；"
                        "稍后再试（cron 下次会自动重试）") from None


__all__ = ["REPORT", "SyncError", "SyncResult", "commit_message", "explain_remote_failure", "sync"]
