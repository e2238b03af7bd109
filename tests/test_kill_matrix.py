"""Kill matrix: each multi-note command SIGKILLed at every rename, unlink and link it makes.

For each command the run is first traced without a kill: its end state is the reference, and the
syscalls it made are counted (strace counts each syscall on its own). Then, for every syscall name
and every k up to its count, a fresh copy of the vault runs the command under
`strace -e inject=NAME:signal=KILL:when=k`. After each kill the user runs the same command again
and `check`; the vault must then hold exactly the reference notes, `check` must pass, no ID may be
doubled, no journal may be left, and after `customer forget` the real name and phone must be in no
file of the vault outside `.vaultcrm/backups` (caches and the journal included).

The kills hit everything the command does: the parse cache, the journal itself, the note writes'
temp files and links, and the journal's removal.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import write_vault
from vaultcrm.core.loader import load_vault

pytestmark = pytest.mark.slow

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}
ENV.pop("VAULTCRM_VAULT", None)
PASSPHRASE = "kill matrix passphrase"
ENV["VAULTCRM_BACKUP_PASSPHRASE"] = PASSPHRASE
SYSCALLS = "rename,renameat,renameat2,unlink,unlinkat,link,linkat"
STRACE = shutil.which("strace")

CONFIG = """
操作人: 前台
服务项目:
  全身推拿: {时长: 60分钟, 价格: ¥198}
技师:
  李师傅: {技能: [推拿]}
房间: [房间A, 房间B]
"""
PROFILE = """---
客户编号: {id}
客户姓名: {name}
联系方式: '{phone}'
推荐人: {referrer}
---

# {id} {name}

## 备注
{name}喜欢安静的房间。
"""
APP = """---
预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  联系方式: '13800138000'
  预约日期: 2026-02-20
  预约时间: '10:00'
  预约渠道: 电话
服务信息:
  服务项目: 全身推拿
  服务时长: 60分钟
  技师安排: 李师傅
预约状态:
  创建时间: '2026-02-01 10:00'
  当前状态: 待服务
  状态更新:
---

# APP-2026-001 张三

## 备注
张三（13800138000）第一次来。
"""
OLD_SRV = """---
服务编号: SRV-2023-001
服务基本信息:
  服务日期: 2023-05-01
  服务时间: 10:00-11:00
  服务时长: 60分钟
客户信息:
  客户姓名: 王五
  客户编号: C-0003
  联系方式: '13700000003'
服务信息:
  服务项目: 全身推拿
  服务技师: 李师傅
  服务费用: ¥198
---

# SRV-2023-001 王五
"""
CAMPAIGN = """---
活动编号: CMP-2026-001
活动名称: 老客回馈
活动类型: 单次
目标分群: 全部
目标标签: []
优惠内容: 8折
优惠方式: 折扣
有效期至: 2026-03-31
发送渠道: []
创建时间: '2026-02-01 10:00'
创建人: 前台
---

# CMP-2026-001 老客回馈

<!-- vaultcrm:活动名单 开始 -->
| 优惠券 | 客户编号 | 客户 | 发券日期 | 有效期至 | 状态 | 发送时间 | 已发送至 | 说明 |
|---|---|---|---|---|---|---|---|---|
| K7MX-3QPD | C-0002 | [[C-0002 李四]] | 2026-02-01 | 2026-03-31 | 已发送 | 2026-02-01 10:00 | 短信 | - |
<!-- vaultcrm:活动名单 结束 -->
"""
# 张三's 候补 entry (open: forget calls it off) and her birthday coupon; 王五's (purge) coupon in CMP-2026-001.
WAITLIST = """---
候补编号: WL-2026-001
客户: 张三
客户编号: C-0001
客户档案: "[[C-0001 张三]]"
联系方式: '13800138000'
服务项目: 全身推拿
日期: 2026-02-22
最早: '10:00'
最晚: '18:00'
状态: 等待中
创建时间: '2026-02-19 10:00'
---

# WL-2026-001 张三
"""
BIRTHDAY = CAMPAIGN.replace("CMP-2026-001", "生日关怀").replace("老客回馈", "生日关怀") \
    .replace("活动类型: 单次", "活动类型: 常设").replace("目标分群: 全部", "目标分群: 生日").replace("有效期至: 2026-03-31", "有效期至:") \
    .replace("| K7MX-3QPD | C-0002 | [[C-0002 李四]] | 2026-02-01 | 2026-03-31 | 已发送 | 2026-02-01 10:00 | 短信 | - |",
             "| H4TR-8WNB | C-0001 | [[C-0001 张三]] | 2026-02-15 | 2026-03-01 | 已发送 | 2026-02-15 09:00 | 短信 | 2月22日生日 |")
BASE = {
    "vaultcrm.yaml": CONFIG,
    "客户/C-0001 张三.md": PROFILE.format(id="C-0001", name="张三", phone="13800138000", referrer=""),
    "客户/C-0002 李四.md": PROFILE.format(id="C-0002", name="李四", phone="13900000002", referrer="张三"),
    "客户/C-0003 王五.md": PROFILE.format(id="C-0003", name="王五", phone="13700000003", referrer=""),
    "预约/APP-2026-001.md": APP,
    "服务记录/SRV-2023-001.md": OLD_SRV,
    "活动/CMP-2026-001.md": CAMPAIGN.replace("| - |\n<!--", "| - |\n| P9QK-2MZD | C-0003 | [[C-0003 王五]] | 2026-02-01 | "
                                             "2026-03-31 | 跳过 | - | - | 未授权营销 |\n<!--"),
    "活动/生日关怀.md": BIRTHDAY,
    "候补/WL-2026-001.md": WAITLIST,
}
LEAVE_CONFIG = CONFIG.replace("技师:\n  李师傅: {技能: [推拿]}", """技师:
  李师傅: {技能: [推拿, 艾灸]}
  王师傅: {技能: [推拿]}
  赵师傅: {技能: [推拿]}""").replace("全身推拿: {时长: 60分钟, 价格: ¥198}", """全身推拿: {时长: 60分钟, 价格: ¥198, 技能: 推拿}
  艾灸调理: {时长: 45分钟, 技能: 艾灸}""")
# 李师傅's leave on 2026-02-20: APP-001 goes to 王师傅, APP-002 to 赵师傅 (李四's preferred), APP-003 (艾灸) to nobody.
LEAVE_SEED = {
    "vaultcrm.yaml": LEAVE_CONFIG,
    "预约/APP-2026-002.md": APP.replace("APP-2026-001", "APP-2026-002").replace("张三", "李四")
    .replace("C-0001", "C-0002").replace("'10:00'", "'14:00'").replace("服务时长: 60分钟", "服务时长: 60分钟\n  服务地点: 房间B")
    .replace("预约状态:", "特殊要求:\n  偏好技师: 赵师傅\n预约状态:"),
    "预约/APP-2026-003.md": APP.replace("APP-2026-001", "APP-2026-003").replace("'10:00'", "'16:00'")
    .replace("全身推拿", "艾灸调理").replace("60分钟", "45分钟"),
}
# A chain (门店): 孙七 registered at both stores between two syncs; `customer merge` keeps SH01's profile.
MERGE_SEED = {
    "vaultcrm.yaml": CONFIG + "门店:\n  SH01:\n    名称: 静安店\n  BJ01:\n    名称: 朝阳店\n",
    "客户/C-SH01-0001 孙七.md": PROFILE.format(id="C-SH01-0001", name="孙七", phone="13600136000", referrer="")
    .replace("---\n\n#", "门店: SH01\n积分: 10\n---\n\n#"),
    "客户/C-BJ01-0001 孙七.md": PROFILE.format(id="C-BJ01-0001", name="孙七", phone="136-0013-6000", referrer="")
    .replace("---\n\n#", "门店: BJ01\n积分: 5\n标签: [怕冷]\n---\n\n#"),
    "预约/APP-BJ01-2026-001.md": APP.replace("APP-2026-001", "APP-BJ01-2026-001").replace("张三", "孙七")
    .replace("C-0001", "C-BJ01-0001").replace("13800138000", "13600136000")
    .replace("客户编号: C-BJ01-0001", "客户编号: C-BJ01-0001\n  客户档案: \"[[C-BJ01-0001 孙七]]\""),
}
SEEDS = {"leave": LEAVE_SEED, "merge": MERGE_SEED}
SHEET = "姓名,电话,过敏,备注\n孙七,137 0000 1111,,老客户介绍\n周八,13600001111,花粉,\n张三,13800138000,精油,常点李师傅\n"

COMMANDS = {
    "log": ["log", "APP-2026-001", "--at", "2026-02-20 11:00"],
    "book": ["book", "--customer", "赵六", "--phone", "13500001111", "--date", "2026-02-21", "--time", "14:00",
             "--service", "全身推拿", "--technician", "李师傅", "--at", "2026-02-20 09:00"],
    "series": ["book", "--customer", "赵六", "--phone", "13500001111", "--date", "2026-02-21", "--time", "14:00",
               "--service", "全身推拿", "--technician", "李师傅", "--repeat", "weekly", "--times", "4",
               "--at", "2026-02-20 09:00"],
    "forget": ["customer", "forget", "C-0001", "--yes", "--at", "2026-02-20 12:00"],
    "purge": ["purge", "--before", "2025-01-01", "--yes", "--at", "2026-02-20 12:00"],
    "import": ["import", "customers", "{sheet}"],
    "restore": ["restore", "{archive}", "--yes", "--at", "2026-02-20 13:00"],
    "log-coupon": ["log", "--customer", "C-0002", "--service", "全身推拿", "--coupon", "K7MX-3QPD",
                   "--at", "2026-02-20 11:00"],
    "leave": ["leave", "李师傅", "--date", "2026-02-20", "--reason", "病假", "--reassign", "--yes",
              "--at", "2026-02-19 12:00"],
    "restore-encrypted": ["restore", "{sealed}", "--yes", "--at", "2026-02-20 13:00"],
    "merge": ["customer", "merge", "C-SH01-0001", "C-BJ01-0001", "--at", "2026-02-20 12:00"],
}
ENVS = {"merge": {"VAULTCRM_STORE": "SH01"}}  # a row's environment beyond ENV (a chain vault's store)


def _strace_usable() -> str | None:
    if STRACE is None:
        return "strace 未安装（apt-get install strace）"
    probe = subprocess.run([STRACE, "-f", "-qq", "-o", os.devnull, "-e", "trace=none", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"strace 无法跟踪进程（{probe.stderr.strip()[:200]}）"
    return None


def _args(name: str, tmp: Path) -> list[str]:
    return [a.replace("{sheet}", str(tmp / "sheet.csv")).replace("{archive}", str(tmp / "archive.zip"))
            .replace("{sealed}", str(tmp / "archive.zip.enc")) for a in COMMANDS[name]]


def _traced(root: Path, args: list[str], out: Path, inject: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [STRACE, "-f", "-qq", "-o", str(out), "-e", f"trace={SYSCALLS}"]
    if inject:
        cmd += ["-e", f"inject={inject}:signal=KILL"]
    cmd += [sys.executable, "-m", "vaultcrm", "--vault", str(root), *args]
    return subprocess.run(cmd, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=120)


def _counts(trace: Path) -> collections.Counter:
    names = re.findall(r"^(?:\d+\s+)?(\w+)\(", trace.read_text(encoding="utf-8", errors="replace"), re.M)
    return collections.Counter(n for n in names if n in SYSCALLS.split(","))


def _snapshot(root: Path) -> dict[str, bytes]:
    """What the user sees: every note, the config and the audit log (not caches, locks or backups)."""
    files = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and (not rel.startswith(".") and rel.endswith(".md") or rel in (
                "vaultcrm.yaml", ".vaultcrm/logs/audit.log")):
            files[rel] = path.read_bytes()
    return files


def _template(name: str, tmp: Path, cli) -> Path:
    root = write_vault(tmp / "template", {**BASE, **SEEDS.get(name, {})})
    if name == "import":
        (tmp / "sheet.csv").write_text(SHEET, encoding="utf-8")
    if name == "restore":  # an archive of the vault, then a forget that renames and scrubs: restore undoes it
        assert cli(root, "backup").exit_code == 0
        archive = next((root / ".vaultcrm" / "backups").glob("*.zip"))
        shutil.move(archive, tmp / "archive.zip")
        assert cli(root, "customer", "forget", "C-0001", "--yes", "--at", "2026-02-19 12:00").exit_code == 0
    if name == "restore-encrypted":  # the same, from an encrypted archive (as if brought back from the NAS)
        assert cli(root, "backup", "--encrypt").exit_code == 0
        archive = next((root / ".vaultcrm" / "backups").glob("*.zip.enc"))
        shutil.move(archive, tmp / "archive.zip.enc")
        assert cli(root, "customer", "forget", "C-0001", "--yes", "--at", "2026-02-19 12:00").exit_code == 0
    return root


def _all_bytes(root: Path) -> list[tuple[str, bytes]]:
    return [(p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith(".vaultcrm/backups/")]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_kill_point_is_finished_by_the_next_command(name, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("VAULTCRM_BACKUP_PASSPHRASE", PASSPHRASE)
    reason = _strace_usable()
    if reason:
        pytest.skip(reason)
    env = ENVS.get(name, {})
    for key, value in env.items():  # for the in-process re-runs too
        monkeypatch.setenv(key, value)
    template = _template(name, tmp_path, cli)
    args = _args(name, tmp_path)

    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    done = _traced(reference, args, tmp_path / "reference.trace", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = _snapshot(reference)
    counts = _counts(tmp_path / "reference.trace")
    points = [(syscall, k) for syscall, n in sorted(counts.items()) for k in range(1, n + 1)]
    assert len(points) >= 4, counts

    def kill(point: tuple[str, int]) -> tuple[tuple[str, int], Path, int]:
        syscall, k = point
        root = tmp_path / f"{syscall}-{k}"
        shutil.copytree(template, root)
        run = _traced(root, args, tmp_path / f"{syscall}-{k}.trace", f"{syscall}:when={k}", env)
        return point, root, run.returncode

    with ThreadPoolExecutor(max_workers=2) as pool:
        killed = list(pool.map(kill, points))

    for (syscall, k), root, code in killed:
        where = f"{name} killed at {syscall} #{k}"
        assert code == -9, f"{where}: not killed (exit {code})"
        again = cli(root, *args)
        assert again.exit_code == 0, f"{where}: re-run failed: {again.output}"
        check = cli(root, "check")
        assert check.exit_code == 0, f"{where}: check failed: {check.output}"
        assert _snapshot(root) == expected, f"{where}: end state differs from an uninterrupted run"
        assert not [p for p in (root / ".vaultcrm" / "journal").glob("*") if p.is_file()], where
        ids = [r.record_id for r in load_vault(root).index.records]
        assert len(ids) == len(set(ids)), f"{where}: duplicate IDs {ids}"
        if name == "forget":
            for rel, data in _all_bytes(root):
                assert "张三".encode() not in data and b"13800138000" not in data, f"{where}: real name in {rel}"
    print(f"\n{name}: {len(killed)} kill points survived ({', '.join(f'{s}×{n}' for s, n in sorted(counts.items()))})")


def test_a_killed_recovery_is_finished_by_the_next_command(tmp_path, cli):
    """Replaying a journal is itself killed at every rename/unlink/link: the next command replays the
    rest (every step is idempotent) and the vault ends exactly as an uninterrupted `forget` leaves it."""
    reason = _strace_usable()
    if reason:
        pytest.skip(reason)
    template = _template("forget", tmp_path, cli)
    args = _args("forget", tmp_path)
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    assert _traced(reference, args, tmp_path / "reference.trace").returncode == 0
    expected = _snapshot(reference)

    # Kill forget at its first write after the journal is in place: every step is left to replay.
    calls = re.findall(r"^(?:\d+\s+)?(\w+)\((.*)$", (tmp_path / "reference.trace").read_text("utf-8"), re.M)
    after = next(i for i, (_, rest) in enumerate(calls) if "/journal/2" in rest.split(",")[-1]) + 1
    syscall = calls[after][0]
    k = sum(1 for s, _ in calls[:after + 1] if s == syscall)
    interrupted = tmp_path / "interrupted"
    shutil.copytree(template, interrupted)
    assert _traced(interrupted, args, tmp_path / "interrupted.trace", f"{syscall}:when={k}").returncode == -9
    assert list((interrupted / ".vaultcrm" / "journal").glob("*.json"))

    replayed = tmp_path / "replayed"
    shutil.copytree(interrupted, replayed)
    assert _traced(replayed, ["check"], tmp_path / "check.trace").returncode == 0
    assert _snapshot(replayed) == expected
    counts = _counts(tmp_path / "check.trace")
    points = [(s, n) for s, total in sorted(counts.items()) for n in range(1, total + 1)]
    assert len(points) >= 3, counts
    for s, n in points:
        root = tmp_path / f"check-{s}-{n}"
        shutil.copytree(interrupted, root)
        assert _traced(root, ["check"], tmp_path / f"check-{s}-{n}.trace", f"{s}:when={n}").returncode == -9
        assert cli(root, "check").exit_code == 0, f"check killed at {s} #{n}"
        assert _snapshot(root) == expected, f"check killed at {s} #{n}: end state differs"
        assert not list((root / ".vaultcrm" / "journal").glob("*.json"))
    print(f"\nreplay (check) of an interrupted forget: {len(points)} kill points survived")
