"""`vaultcrm sync` and the field-wise merge driver with real git: a bare "HQ" and store clones in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path
import textwrap
import time

import pytest
from chain_data import CHAIN_CONFIG, clone, git, make_hq
from conftest import lock_held, run_cli

from vaultcrm.chain.sync import SyncError, explain_remote_failure, sync
from vaultcrm.core.config import load_settings

PROFILE = "客户/C-0001 张三.md"
PROFILE_TEXT = """---
客户编号: C-0001
客户姓名: 张三
联系方式: '13800138000'  # 手机
会员等级: 普通
健康档案:
  过敏史:
  健康关注:
标签:
---

# C-0001 张三

## 备注
老客户。
"""


def vcrm(store_dir, *args, store=None):
    env = {"VAULTCRM_STORE": store} if store else {}
    return run_cli("--vault", str(store_dir), *args, env=env, timeout=180)


@pytest.fixture
def stores(tmp_path, monkeypatch):
    """HQ and two store clones (SH01, BJ01) sharing a config and one customer profile."""
    monkeypatch.delenv("VAULTCRM_STORE", raising=False)
    hq = make_hq(tmp_path)
    sh = clone(hq, tmp_path / "SH01", "SH01")
    (sh / "vaultcrm.yaml").write_text(textwrap.dedent(CHAIN_CONFIG), encoding="utf-8")
    (sh / "客户").mkdir()
    (sh / PROFILE).write_text(PROFILE_TEXT, encoding="utf-8")
    assert vcrm(sh, "init", "--store", "SH01").returncode == 0
    first = vcrm(sh, "sync")
    assert first.returncode == 0, first.stdout + first.stderr
    bj = clone(hq, tmp_path / "BJ01", "BJ01")
    assert vcrm(bj, "init", "--store", "BJ01").returncode == 0
    return hq, sh, bj


def edit(path, old, new, *, mtime=None):
    text = path.read_text(encoding="utf-8")
    assert old in text, text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def synced(store_dir):
    result = vcrm(store_dir, "sync")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_first_sync_commits_with_a_readable_message_and_pushes(stores):
    hq, sh, bj = stores
    assert (bj / PROFILE).is_file() and (bj / "vaultcrm.yaml").is_file()
    message = git(hq, "log", "-1", "--format=%B").stdout
    assert message.startswith("SH01 同步 ")
    assert "新增客户 1：C-0001 张三" in message
    tracked = git(hq, "ls-tree", "-r", "--name-only", "HEAD").stdout.splitlines()
    assert not [p for p in tracked if p.startswith(".vaultcrm")]


def test_edits_of_different_fields_of_one_profile_both_survive(stores):
    hq, sh, bj = stores
    # SH01 edits by hand in Obsidian: the Properties panel drops the quotes and comments
    edit(sh / PROFILE, "联系方式: '13800138000'  # 手机", "联系方式: 13800138000\n性别: 男")
    edit(sh / PROFILE, "标签:", "标签:\n  - 静安VIP")
    edit(bj / PROFILE, "  健康关注:", "  健康关注: 颈椎不适")
    edit(bj / PROFILE, "标签:", "标签:\n  - 朝阳会员")
    synced(sh)
    out = synced(bj)
    assert "已从总部仓库取回其他门店的 1 个提交" in out and "合并冲突" not in out
    synced(sh)
    a, b = (sh / PROFILE).read_text(encoding="utf-8"), (bj / PROFILE).read_text(encoding="utf-8")
    assert a == b
    assert "<<<<<<<" not in a and ">>>>>>>" not in a
    assert "性别: 男" in a and "健康关注: 颈椎不适" in a
    assert "  - 静安VIP" in a and "  - 朝阳会员" in a
    check = vcrm(sh, "check", "--format", "json")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_true_conflict_takes_the_later_edit_and_is_reported(stores):
    hq, sh, bj = stores
    now = time.time()
    edit(sh / PROFILE, "  健康关注:", "  健康关注: 腰痛", mtime=now - 3600)
    edit(bj / PROFILE, "  健康关注:", "  健康关注: 肩痛", mtime=now - 60)
    synced(sh)
    out = synced(bj)
    assert f"合并冲突（已取较新的修改）：{PROFILE}" in out
    assert "健康档案.健康关注：取「肩痛」，舍「腰痛」" in out
    synced(sh)
    for store_dir in (sh, bj):
        assert "健康关注: 肩痛" in (store_dir / PROFILE).read_text(encoding="utf-8")
    check = vcrm(bj, "check")
    assert "同步合并冲突" in check.stdout and "健康关注" in check.stdout


def test_both_bodies_changed_keeps_both_without_markers(stores):
    hq, sh, bj = stores
    edit(sh / PROFILE, "老客户。", "老客户，喜欢安静。", mtime=time.time() - 3600)
    edit(bj / PROFILE, "老客户。", "老客户，对精油过敏。")
    synced(sh)
    out = synced(bj)
    assert "正文两边都改了同一处" in out
    text = (bj / PROFILE).read_text(encoding="utf-8")
    assert "<<<<<<<" not in text and "=======" not in text
    assert "对精油过敏" in text and "喜欢安静" in text
    assert text.index("对精油过敏") < text.index("## 同步合并时保留的另一版本") < text.index("喜欢安静")


def test_bookings_at_two_stores_meet_in_every_clone(stores):
    hq, sh, bj = stores
    at = ("--date", "2026-02-12", "--service", "全身推拿", "--at", "2026-02-11 10:00")
    assert vcrm(sh, "book", "-c", "张三", "--time", "10:00", *at).returncode == 0
    assert vcrm(bj, "book", "-c", "张三", "--time", "15:00", *at).returncode == 0
    synced(sh), synced(bj), synced(sh)
    for store_dir in (sh, bj):
        assert (store_dir / "预约/SH01/APP-SH01-2026-001.md").is_file()
        assert (store_dir / "预约/BJ01/APP-BJ01-2026-001.md").is_file()
    assert "新增预约 1：APP-BJ01-2026-001" in git(hq, "log", "-1", "--format=%B").stdout


def test_sync_refuses_while_a_write_is_in_flight(stores):
    hq, sh, bj = stores
    with lock_held(sh):
        edit(sh / PROFILE, "  健康关注:", "  健康关注: 腰痛")
        settings, _ = load_settings(sh)
        with pytest.raises(SyncError, match="另一个 vaultcrm 命令正在写入笔记"):
            sync(sh, settings, lock_wait=0.3)
        assert "腰痛" not in git(sh, "log", "-p", "-1").stdout  # nothing committed


def test_no_remote_and_no_network_are_explained_and_nothing_is_lost(stores):
    hq, sh, bj = stores
    git(sh, "remote", "remove", "origin")
    result = vcrm(sh, "sync")
    assert result.returncode == 1 and "没有设置总部仓库（远程 origin）" in result.stderr
    git(sh, "remote", "add", "origin", "https://hq.vaultcrm.invalid/chain.git")
    edit(sh / PROFILE, "  健康关注:", "  健康关注: 腰痛")
    result = vcrm(sh, "sync")
    assert result.returncode == 1, result.stdout
    assert "连不上总部仓库" in result.stderr and "没有丢失" in result.stderr
    assert "Traceback" not in result.stderr
    assert "健康关注: 腰痛" in git(sh, "show", "HEAD:" + PROFILE).stdout  # committed locally


def test_remote_failures_are_told_apart():
    assert "身份验证" in explain_remote_failure("上传到总部仓库", "fatal: Authentication failed for 'https://x'", "u").message
    assert "身份验证" in explain_remote_failure("拉取", "git@hq: Permission denied (publickey).", "u").message
    assert "找不到总部仓库" in explain_remote_failure("拉取", "fatal: '/x' does not appear to be a git repository", "u").message
    assert "网络" in explain_remote_failure("拉取", "fatal: unable to access 'https://x/': Could not resolve host: x", "u").message


def test_the_vault_cannot_make_git_run_code(stores, tmp_path):
    hq, sh, bj = stores
    marker = tmp_path / "pwned"
    hook = sh / ".git/hooks/pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    edit(sh / PROFILE, "  健康关注:", "  健康关注: 腰痛")
    synced(sh)
    assert not marker.exists()  # hooks never run
    git(sh, "config", "core.fsmonitor", f"touch {marker}")
    result = vcrm(sh, "sync")
    assert result.returncode == 1 and "会让 git 执行程序的设置" in result.stderr
    assert "core.fsmonitor" in result.stderr
    assert not marker.exists()


def test_the_dashboards_own_blocks_never_pile_up_as_other_versions(stores):
    """Every store's `log` rewrites the dashboard's 服务日志 block: regenerated data, not text to keep twice."""
    hq, sh, bj = stores
    walk_in = ("--service", "全身推拿", "--customer", "张三")
    assert vcrm(sh, "log", *walk_in, "--at", "2026-02-12 10:00").returncode == 0
    synced(sh), synced(bj)
    for round_ in range(2):
        assert vcrm(sh, "log", *walk_in, "--at", f"2026-02-1{3 + round_} 11:00").returncode == 0
        assert vcrm(bj, "log", *walk_in, "--at", f"2026-02-1{3 + round_} 16:00").returncode == 0
        synced(sh), synced(bj), synced(sh)
    for store_dir in (sh, bj):
        text = (store_dir / "服务追踪表.md").read_text(encoding="utf-8")
        assert "同步合并时保留的另一版本" not in text and "<<<<<<<" not in text
        assert text.count("<!-- vaultcrm:服务日志 开始 -->") == 1
    assert vcrm(bj, "stats", "--at", "2026-02-15 20:00").returncode == 0
    block = (bj / "服务追踪表.md").read_text(encoding="utf-8").split("<!-- vaultcrm:服务日志 开始 -->")[1]
    assert block.count("全身推拿") == 5  # every store's services, after the merge


def test_a_push_rejected_because_another_store_pushed_first_is_retried(stores, monkeypatch):
    """The race every chain has: between this store's fetch and its push, another store pushes. git
    rejects the push (non-fast-forward); sync fetches, rebases with the field-wise merge, and pushes."""
    from vaultcrm.chain import sync as sync_module

    hq, sh, bj = stores
    synced(bj)
    edit(sh / PROFILE, "会员等级: 普通", "会员等级: 银卡")
    edit(bj / PROFILE, "  健康关注:", "  健康关注: 腰痛")
    real_git, pushes = sync_module.run_git, []

    def racing(root, *args, **kw):
        if args[:1] == ("push",) and not pushes:
            synced(bj)  # BJ01 gets there first, for real
        result = real_git(root, *args, **kw)
        if args[:1] == ("push",):
            pushes.append((result.code, result.err))
        return result

    monkeypatch.setattr(sync_module, "run_git", racing)
    result = sync(sh, load_settings(sh)[0])
    assert [code != 0 for code, _ in pushes] == [True, False], pushes
    assert "rejected" in pushes[0][1] or "fetch first" in pushes[0][1]
    assert result.pushed and result.received >= 1
    merged = git(hq, "show", "HEAD:" + PROFILE).stdout
    assert "会员等级: 银卡" in merged and "健康关注: 腰痛" in merged
    assert "<<<<<<<" not in merged


def test_a_rewritten_hq_history_is_refused_and_nothing_is_lost(stores):
    """HQ's history was rewritten (an amended commit force-pushed) and clashes with this store's own
    unsent change to a file that is not a note: sync stops with the reason, the store keeps its commit,
    and no conflict marker is left in any file."""
    hq, sh, bj = stores
    edit(bj / "vaultcrm.yaml", "名称: 静安店", "名称: 静安寺店")
    git(bj, "commit", "-qa", "--amend", "--no-edit")
    git(bj, "push", "-q", "--force", "origin", "main")
    edit(sh / "vaultcrm.yaml", "名称: 静安店", "名称: 南京西路店")
    result = vcrm(sh, "sync")
    assert result.returncode == 1, result.stdout
    assert "历史已分叉" in result.stderr and "没有丢失" in result.stderr and "Traceback" not in result.stderr
    assert "两边都改了 vaultcrm.yaml 的同一处" in result.stderr
    assert "南京西路店" in git(sh, "show", "HEAD:vaultcrm.yaml").stdout  # committed here, kept
    assert "南京西路店" in (sh / "vaultcrm.yaml").read_text(encoding="utf-8")
    assert not (sh / ".git" / "rebase-merge").exists() and not (sh / ".git" / "rebase-apply").exists()
    assert not [p for p in sh.rglob("*") if p.is_file() and ".git" not in p.parts
                and "<<<<<<<" in p.read_text(encoding="utf-8", errors="replace")]
    assert "静安寺店" in git(hq, "show", "HEAD:vaultcrm.yaml").stdout  # HQ untouched by the refused sync


KILLING_GIT = """#!/bin/sh
# git, except where the test kills the sync that runs it, for real (kill -9 of the vaultcrm process):
#   rebase: the sync's rebase is made to stop after its first commit, and the sync is killed there;
#   commit: git dies holding its index.lock, and the sync with it.
for arg in "$@"; do
  if [ "$arg" = --no-autostash ] && [ "$KILL_SYNC_AT" = rebase ]; then
    GIT_SEQUENCE_EDITOR='sed -i 1s/^pick/edit/' {real} "$@" --interactive >/dev/null 2>&1
    kill -9 $PPID; exit 1
  fi
  if [ "$arg" = commit ] && [ "$KILL_SYNC_AT" = commit ]; then
    : > .git/index.lock
    kill -9 $PPID; exit 1
  fi
done
exec {real} "$@"
"""


def killed_sync(tmp_path, store_dir, at):
    """`vaultcrm sync` killed at `at` (see KILLING_GIT)."""
    import shutil

    folder = tmp_path / "killing-git"
    folder.mkdir(exist_ok=True)
    (folder / "git").write_text(KILLING_GIT.format(real=shutil.which("git")), encoding="utf-8")
    (folder / "git").chmod(0o755)
    result = run_cli("--vault", str(store_dir), "sync", timeout=180,
                     env={"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "KILL_SYNC_AT": at})
    assert result.returncode == -9, result.stdout + result.stderr


def test_a_sync_killed_in_its_rebase_is_finished_by_the_next(stores, tmp_path):
    """The sync is killed in the middle of its rebase (the store's folder is left half rebased, on no
    branch); then the front desk books, and the owner edits the profile in Obsidian. The next sync gives
    the half-done rebase up, sets the note saved since aside (it is named, nothing is lost), and syncs:
    both stores' edits and the new booking reach HQ, with no conflict marker anywhere."""
    hq, sh, bj = stores
    ignored = (bj / ".gitignore").read_text(encoding="utf-8")  # as a clone set up before `init` ignored
    assert ".merge_file_*\n" in ignored  # git's merge temp files
    (bj / ".gitignore").write_text(ignored.replace(".merge_file_*\n", ""), encoding="utf-8")
    synced(bj)
    edit(sh / PROFILE, "会员等级: 普通", "会员等级: 银卡")
    synced(sh)
    edit(bj / PROFILE, "  健康关注:", "  健康关注: 腰痛")
    at = ("--date", "2026-02-12", "--service", "全身推拿", "--at", "2026-02-11 10:00")
    assert vcrm(bj, "book", "-c", "张三", "--time", "15:00", *at).returncode == 0
    killed_sync(tmp_path, bj, "rebase")
    assert (bj / ".git" / "rebase-merge").is_dir()
    assert git(bj, "symbolic-ref", "-q", "HEAD", check=False).returncode != 0  # on no branch
    assert vcrm(bj, "book", "-c", "张三", "--time", "17:00", *at).returncode == 0
    edit(bj / PROFILE, "老客户。", "老客户，喜欢安静。")
    # what git leaves at the top of the clone when killed while a merge driver runs:
    (bj / ".merge_file_a1B2c3").write_text((bj / PROFILE).read_text(encoding="utf-8"), encoding="utf-8")

    result = vcrm(bj, "sync")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "上次同步在合并途中被中断" in result.stdout and "Traceback" not in result.stderr
    aside = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(".vaultcrm/同步中断/")]
    assert [Path(p).name for p in aside] == [Path(PROFILE).name], result.stdout
    assert "喜欢安静" in (bj / aside[0]).read_text(encoding="utf-8")
    assert git(bj, "symbolic-ref", "--short", "HEAD").stdout.strip() == "main"
    assert not (bj / ".git" / "rebase-merge").exists() and not (bj / ".git" / "vaultcrm-sync").exists()
    merged = git(hq, "show", "HEAD:" + PROFILE).stdout
    assert "会员等级: 银卡" in merged and "健康关注: 腰痛" in merged and "<<<<<<<" not in merged
    booked = git(hq, "-c", "core.quotePath=false", "ls-tree", "-r", "--name-only", "HEAD", "预约/BJ01").stdout.split()
    assert booked == ["预约/BJ01/APP-BJ01-2026-001.md", "预约/BJ01/APP-BJ01-2026-002.md"]
    tree = git(hq, "ls-tree", "-r", "--name-only", "HEAD").stdout
    assert ".vaultcrm" not in tree  # the copy stays here
    assert ".merge_file" not in tree and not (bj / ".merge_file_a1B2c3").exists()  # a killed merge's temp file


def test_a_sync_killed_with_git_holding_its_lock_is_finished_later(stores, tmp_path):
    """git is killed in the sync's commit, leaving its index.lock. While that lock is recent the next sync
    refuses, as for any git at work; once it is old, it is removed and the sync goes through."""
    hq, sh, bj = stores
    edit(bj / PROFILE, "  健康关注:", "  健康关注: 腰痛")
    killed_sync(tmp_path, bj, "commit")
    refused = vcrm(bj, "sync")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "另一个 git 操作正在进行" in refused.stderr
    old = time.time() - 11 * 60
    os.utime(bj / ".git" / "index.lock", (old, old))
    synced(bj)
    assert not (bj / ".git" / "index.lock").exists() and not (bj / ".git" / "vaultcrm-sync").exists()
    assert "健康关注: 腰痛" in git(hq, "show", "HEAD:" + PROFILE).stdout
