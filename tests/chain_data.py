"""A chain of two stores (config), and real git repositories in tmp_path: a bare "HQ" and store clones."""

from __future__ import annotations

import subprocess
from pathlib import Path

from booking_data import CONFIG

CHAIN_CONFIG = CONFIG + """
门店:
  SH01:
    名称: 静安店
  BJ01:
    名称: 朝阳店
    营业时间: {开始: '10:00', 结束: '20:00'}
    技师:
      赵师傅: {技能: [推拿, 艾灸, 拔罐]}
    房间: [一号房]
"""


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, capture_output=True,
                          text=True, check=check)


def identify(clone: Path, name: str) -> None:
    git(clone, "config", "user.name", name)
    git(clone, "config", "user.email", f"{name.lower()}@example.com")


def make_hq(tmp_path: Path) -> Path:
    hq = tmp_path / "hq.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(hq))
    return hq


def clone(hq: Path, where: Path, name: str) -> Path:
    git(where.parent, "clone", "-q", str(hq), str(where))
    git(where, "checkout", "-q", "-B", "main")
    identify(where, name)
    return where
