"""Writers that create customer profiles share the booking lock and decide inside it.

`import customers`, `book` for a new customer and a walk-in `log` read the vault, decide whether a
phone is new, and create a profile; run at the same moment in real processes they must never make
two profiles for one phone. A refused `book` leaves no profile behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_vault

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}
ENV.pop("VAULTCRM_VAULT", None)

CONFIG = """
服务项目:
  全身推拿: {时长: 60分钟, 价格: ¥198}
技师:
  李师傅: {技能: [推拿]}
房间: [房间A]
"""
APP = """---
预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  预约日期: 2026-02-21
  预约时间: '10:00'
服务信息:
  服务项目: 全身推拿
  服务时长: 60分钟
  技师安排: 李师傅
  服务地点: 房间A
预约状态:
  当前状态: 待服务
---
"""
PROFILE = "---\n客户编号: C-0001\n客户姓名: 张三\n联系方式: '13800138000'\n---\n"


def _vault(tmp_path: Path) -> Path:
    return write_vault(tmp_path / "vault", {"vaultcrm.yaml": CONFIG, "客户/C-0001 张三.md": PROFILE,
                                            "预约/APP-2026-001.md": APP})


def _start(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs: list[subprocess.Popen]) -> list[tuple[int, str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        results.append((proc.returncode, out + err))
    return results


def _profiles(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "客户").glob("*.md"))


@pytest.mark.slow
def test_eight_parallel_imports_of_one_sheet_make_each_profile_once(tmp_path):
    root = _vault(tmp_path)
    sheet = tmp_path / "客户.csv"
    sheet.write_text("姓名,电话\n孙七,13700001111\n周八,13600001111\n", encoding="utf-8")
    results = _finish([_start(root, "import", "customers", str(sheet)) for _ in range(8)])
    assert all(code == 0 for code, _ in results), results
    assert _profiles(root) == ["C-0001 张三.md", "C-0002 孙七.md", "C-0003 周八.md"]
    created = sum(out.count("新建档案") for _, out in results)
    assert created == 1, results  # one import made both; the seven others merged into them
    check = subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(root), "check"], env=ENV,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_parallel_import_and_book_of_one_new_phone_make_one_profile(tmp_path):
    root = _vault(tmp_path)
    sheet = tmp_path / "客户.csv"
    sheet.write_text("姓名,电话,过敏\n赵六,135-0000-1111,花粉\n", encoding="utf-8")
    procs = [_start(root, "import", "customers", str(sheet)),
             _start(root, "book", "--customer", "赵六", "--phone", "13500001111", "--date", "2026-02-21",
                    "--time", "15:00", "--service", "全身推拿", "--at", "2026-02-20 09:00")]
    results = _finish(procs)
    assert all(code == 0 for code, _ in results), results
    assert _profiles(root) == ["C-0001 张三.md", "C-0002 赵六.md"]
    profile = (root / "客户" / "C-0002 赵六.md").read_text(encoding="utf-8")
    assert "花粉" in profile  # whichever came first, the import's allergy is in the one profile
    booked = [p.read_text(encoding="utf-8") for p in (root / "预约").glob("*.md") if "赵六" in p.read_text("utf-8")]
    assert len(booked) == 1 and "客户编号: C-0002" in booked[0]


def test_refused_book_of_a_new_customer_leaves_no_profile(tmp_path, cli):
    root = _vault(tmp_path)
    result = cli(root, "book", "--customer", "赵六", "--phone", "13500001111", "--date", "2026-02-21",
                 "--time", "10:00", "--service", "全身推拿", "--technician", "李师傅", "--at", "2026-02-20 09:00")
    assert result.exit_code == 1
    assert "李师傅" in result.output and "APP-2026-001" in result.output
    assert _profiles(root) == ["C-0001 张三.md"]


def test_book_whose_appointment_cannot_be_written_leaves_no_profile(tmp_path, cli):
    """The profile is made before the appointment; a broken appointment template must undo both."""
    root = _vault(tmp_path)
    write_vault(root, {".vaultcrm/templates/appointment.md.j2": "---\n预约编号: {{ a.id }\n---\n"})
    result = cli(root, "book", "--customer", "赵六", "--phone", "13500001111", "--date", "2026-02-21",
                 "--time", "15:00", "--service", "全身推拿", "--at", "2026-02-20 09:00")
    assert result.exit_code == 1
    assert "appointment.md.j2" in result.output
    assert _profiles(root) == ["C-0001 张三.md"]
    assert sorted(p.name for p in (root / "预约").glob("*.md")) == ["APP-2026-001.md"]
