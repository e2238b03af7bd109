"""A chain's stores: `门店` in config, the machine's store, store-coded IDs and folders."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from booking_data import CONFIG, customer_note
from chain_data import CHAIN_CONFIG, clone, git, make_hq
from conftest import run_cli

AT = ("--at", "2026-02-11 10:00")
THU = ("--date", "2026-02-12")


@pytest.fixture
def chain(vault):
    return vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000")}, config=CHAIN_CONFIG)


def book(cli, root, *extra):
    return cli(root, "book", "-c", "李四", "--phone", "13900139000", *THU, "--time", "14:00", "--service", "全身推拿",
               *AT, *extra)


def test_init_store_records_the_machine_store_and_books_store_coded(chain, cli, monkeypatch):
    monkeypatch.delenv("VAULTCRM_STORE", raising=False)
    result = cli(chain, "init", "--store", "sh01")
    assert result.exit_code == 0, result.output
    assert (chain / ".vaultcrm/store").read_text() == "SH01\n"
    assert ".vaultcrm/*" in (chain / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "*.md merge=vaultcrm" in (chain / ".gitattributes").read_text(encoding="utf-8")
    result = book(cli, chain)
    assert result.exit_code == 0, result.output
    assert "已创建预约 APP-SH01-2026-001" in result.stdout
    note = (chain / "预约/SH01/APP-SH01-2026-001.md").read_text(encoding="utf-8")
    assert note.startswith("---\n预约编号: APP-SH01-2026-001\n门店: SH01\n预约信息:\n  客户姓名: 李四\n")
    profile = (chain / "客户/C-SH01-0001 李四.md").read_text(encoding="utf-8")  # profiles are shared: no store folder
    assert profile.startswith("---\n客户编号: C-SH01-0001\n门店: SH01\n客户姓名: 李四\n")
    again = cli(chain, "book", "-c", "C-SH01-0001", THU[0], THU[1], "--time", "16:00", "--service", "拔罐", *AT)
    assert "已创建预约 APP-SH01-2026-002" in again.stdout, again.output
    assert "李四（C-SH01-0001）" in again.stdout


def test_environment_overrides_and_the_store_has_its_own_technicians_and_hours(chain, cli, monkeypatch):
    (chain / ".vaultcrm").mkdir()
    (chain / ".vaultcrm/store").write_text("SH01\n")
    monkeypatch.setenv("VAULTCRM_STORE", "BJ01")
    refused = book(cli, chain, "--technician", "李师傅")
    assert refused.exit_code == 1
    assert "赵师傅" in refused.output  # BJ01 lists only its own technician
    early = cli(chain, "book", "-c", "李四", *THU, "--time", "09:00", "--service", "拔罐", *AT)
    assert early.exit_code == 1 and "营业时间" in early.output, early.output
    result = book(cli, chain)
    assert result.exit_code == 0, result.output
    assert "APP-BJ01-2026-001" in result.stdout and "赵师傅" in result.stdout
    assert (chain / "预约/BJ01/APP-BJ01-2026-001.md").is_file()


def test_a_chain_vault_without_a_machine_store_refuses_to_book(chain, cli, monkeypatch):
    monkeypatch.delenv("VAULTCRM_STORE", raising=False)
    before = sorted(p.relative_to(chain) for p in chain.rglob("*") if ".vaultcrm" not in p.parts)
    result = book(cli, chain)
    assert result.exit_code == 1
    assert "本机还没有设置门店" in result.output and "init --store" in result.output
    assert sorted(p.relative_to(chain) for p in chain.rglob("*") if ".vaultcrm" not in p.parts) == before


def test_an_unknown_store_is_refused_with_the_known_ones(chain, cli, monkeypatch):
    monkeypatch.delenv("VAULTCRM_STORE", raising=False)
    result = cli(chain, "init", "--store", "GZ01")
    assert result.exit_code == 1
    assert "门店 GZ01 不在 vaultcrm.yaml 的 门店 中（有：SH01、BJ01）" in result.output
    assert not (chain / ".vaultcrm/store").exists() and not (chain / ".gitignore").exists()
    monkeypatch.setenv("VAULTCRM_STORE", "GZ01")
    assert "不在 vaultcrm.yaml 的 门店 中" in book(cli, chain).output
    assert cli(chain, "init", "--store", "sh-01").exit_code == 1


def test_a_single_store_vault_is_unchanged(vault, cli, monkeypatch):
    monkeypatch.delenv("VAULTCRM_STORE", raising=False)
    root = vault({}, config=CONFIG)
    result = book(cli, root)
    assert "已创建预约 APP-2026-001" in result.stdout
    assert "门店" not in (root / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert "门店" not in (root / "客户/C-0001 李四.md").read_text(encoding="utf-8")
    monkeypatch.setenv("VAULTCRM_STORE", "SH01")  # a store for a vault that is no chain is a mistake, said so
    refused = book(cli, root)
    assert refused.exit_code == 1 and "没有 门店 一节" in refused.output


WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from vaultcrm.core.loader import load_vault
    from vaultcrm.core.store import create_record
    from vaultcrm.models import Appointment

    root = Path(sys.argv[1])
    vault = load_vault(root)
    record = Appointment.model_validate({"预约编号": "APP-2026-000", "预约信息": {"客户姓名": "并发"}})
    print(create_record(root, vault.settings, record, vault.index.appointments.keys(), year=2026).id)
""")


def test_two_stores_allocating_at_the_same_moment_never_collide(tmp_path):
    """Each store in its own clone of the same repository, all allocating at once."""
    hq = make_hq(tmp_path)
    seed = clone(hq, tmp_path / "seed", "HQ")
    (seed / "vaultcrm.yaml").write_text(textwrap.dedent(CHAIN_CONFIG), encoding="utf-8")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "chain")
    git(seed, "push", "-q", "origin", "main")
    clones = {code: clone(hq, tmp_path / code, code) for code in ("SH01", "BJ01")}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(clones[code])], env={**__import__("os").environ,
                              "VAULTCRM_STORE": code}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for code in ("SH01", "BJ01") for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    ids = sorted(out.strip() for out, _ in results)
    assert ids == sorted([f"APP-SH01-2026-{n:03d}" for n in range(1, 7)] + [f"APP-BJ01-2026-{n:03d}" for n in range(1, 7)])


def test_machine_state_is_never_committed(tmp_path):
    hq = make_hq(tmp_path)
    store = clone(hq, tmp_path / "sh01", "SH01")
    result = run_cli("init", str(store), "--store", "SH01")
    assert result.returncode == 0, result.stderr
    status = git(store, "status", "--porcelain", "--untracked-files=all").stdout
    assert ".vaultcrm" not in status and "vaultcrm.yaml" in status and ".gitignore" in status
    assert git(store, "check-ignore", ".vaultcrm/store").returncode == 0
    assert "merge-driver %O %A %B %P" in git(store, "config", "merge.vaultcrm.driver").stdout


def test_csv_export_carries_the_store_last_in_a_chain_only(chain, cli, monkeypatch, tmp_path):
    import csv

    monkeypatch.setenv("VAULTCRM_STORE", "SH01")
    assert book(cli, chain).exit_code == 0
    out = tmp_path / "导出"
    assert cli(chain, "export", "csv", "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader((out / "预约.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert list(rows[0])[-2:] == ["门店", "笔记路径"] and rows[0]["门店"] == "SH01"
    assert "门店" not in next(csv.reader((out / "跟进.csv").read_text(encoding="utf-8-sig").splitlines()))
