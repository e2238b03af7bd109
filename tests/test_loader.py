"""Loading a whole vault: the cache, parallel parsing, and the committed example vault."""

import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultcrm.checks.cross_record import run_checks
from vaultcrm.core import loader
from vaultcrm.core.loader import load_vault
from vaultcrm.diagnostics import Severity
from vaultcrm.models import Appointment

EXAMPLE = REPO / "example_vault"


def note(n: int, day: str = "2026-02-12", time: str = "'14:00'") -> str:
    return (f"---\n预约编号: APP-2026-{n:03d}\n预约信息:\n  客户姓名: 客户{n}\n  预约日期: {day}\n  预约时间: {time}\n"
            f"服务信息:\n  服务项目: 推拿\n预约状态:\n  当前状态: 待服务\n---\n")


def test_unchanged_vault_is_not_parsed_again(vault):
    root = vault({f"预约/APP-2026-{n:03d}.md": note(n) for n in range(1, 21)})
    cold = load_vault(root)
    assert (cold.stats.parsed, cold.stats.cached) == (20, 0)
    warm = load_vault(root)
    assert (warm.stats.parsed, warm.stats.cached) == (0, 20)
    assert {a.id: a for a in warm.index.appointments.values()} == {a.id: a for a in cold.index.appointments.values()}


def test_one_changed_note_is_the_only_one_parsed(vault):
    root = vault({f"预约/APP-2026-{n:03d}.md": note(n) for n in range(1, 11)})
    load_vault(root)
    (root / "预约/APP-2026-003.md").write_text(note(3, day="2026-03-01"), encoding="utf-8")
    (root / "预约/APP-2026-004.md").unlink()
    again = load_vault(root)
    assert again.stats.parsed == 1
    assert again.index.appointments["APP-2026-003"].info.date.isoformat() == "2026-03-01"
    assert "APP-2026-004" not in again.index.appointments


def test_a_deleted_note_leaves_the_cache_though_no_note_changed(vault):
    from vaultcrm.core.config import load_settings
    from vaultcrm.vault.cache import Cache, fingerprint

    root = vault({f"预约/APP-2026-{n:03d}.md": note(n) for n in range(1, 11)})
    load_vault(root)
    (root / "预约/APP-2026-004.md").unlink()  # nothing is stale: only the count tells
    again = load_vault(root)
    assert (again.stats.parsed, again.stats.cached) == (0, 9)
    cache = Cache(root, fingerprint(load_settings(root)[0].timezone))
    cache.load()
    assert sorted(path for path, _ in cache.entries()) == sorted(again.files) and len(again.files) == 9


def test_cached_diagnostics_are_reported_again(vault):
    root = vault({"a.md": note(1, day="明天")})
    first = [str(d) for d in load_vault(root).diagnostics]
    second = [str(d) for d in load_vault(root).diagnostics]
    assert first == second and first and "a.md:5" in first[0]


def test_a_corrupt_cache_is_ignored(vault):
    root = vault({"a.md": note(1)})
    load_vault(root)
    for shard in (root / ".vaultcrm" / "cache").iterdir():
        shard.write_bytes(b"not a pickle")
    assert load_vault(root).index.appointments["APP-2026-001"].info.customer_name == "客户1"


def test_parallel_parsing_gives_the_same_vault_as_serial(vault, monkeypatch):
    files = {f"x/{n}.md": note(n, time=["'09:00'", "14:00", "'17:30'"][n % 3]) for n in range(1, 61)}
    files["bad.md"] = note(99, day="下周")
    root = vault(files)
    serial = load_vault(root, use_cache=False, workers=1)
    monkeypatch.setattr(loader, "PARALLEL_THRESHOLD", 1)
    parallel = load_vault(root, use_cache=False, workers=2)
    assert dict(parallel.index.appointments) == dict(serial.index.appointments)
    assert parallel.diagnostics == serial.diagnostics and parallel.diagnostics
    assert not (root / ".vaultcrm" / "cache").exists()  # use_cache=False leaves nothing behind
    cold = load_vault(root, workers=2)  # the parallel path that fills the vault's cache
    assert dict(cold.index.appointments) == dict(serial.index.appointments)
    assert cold.diagnostics == serial.diagnostics
    (root / "x/5.md").write_text(note(5, day="2026-03-03"), encoding="utf-8")
    (root / "x/6.md").unlink()
    again = load_vault(root, workers=2)
    assert again.stats.parsed == 1
    assert again.index.appointments["APP-2026-005"].info.date.isoformat() == "2026-03-03"
    assert "APP-2026-006" not in again.index.appointments


def test_lazy_tables_answer_by_date_without_building_everything(vault):
    root = vault({f"{n}.md": note(n, day=f"2026-02-{10 + n % 3}") for n in range(1, 10)})
    load_vault(root)
    warm = load_vault(root)
    on_12 = warm.index.appointments_on(__import__("datetime").date(2026, 2, 12))
    assert [a.id for a in on_12] == ["APP-2026-002", "APP-2026-005", "APP-2026-008"]
    items = warm.index.appointments._items.values()
    assert sum(1 for item in items if isinstance(item, Appointment)) == 3  # only the day's models are built
    assert sum(1 for item in items if type(item) is tuple) == 6  # the rest are not even decoded


def test_duplicate_ids_are_reported_by_check(vault):
    root = vault({"a/x.md": note(1), "b/y.md": note(1)})
    loaded = load_vault(root)
    found = run_checks(loaded.index, loaded.settings)
    assert [str(d) for d in found if "重复" in d.message] == [
        "a/x.md:2: 错误：编号 APP-2026-001 重复，出现在：a/x.md、b/y.md",
        "b/y.md:2: 错误：编号 APP-2026-001 重复，出现在：a/x.md、b/y.md",
    ]


def test_example_vault_loads_with_zero_errors(tmp_path):
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".vaultcrm"))
    loaded = load_vault(root)
    problems = [*loaded.diagnostics, *run_checks(loaded.index, loaded.settings)]
    assert [str(d) for d in problems if d.severity is Severity.ERROR] == []
    idx = loaded.index
    assert len(idx.appointments) >= 300
    statuses = {a.status.code for a in idx.appointments.values()}
    assert statuses == {"PENDING", "CONFIRMED", "IN_PROGRESS", "COMPLETED", "CANCELLED", "NO_SHOW"}
    months = {a.info.date.strftime("%Y-%m") for a in idx.appointments.values()}
    assert len(months) >= 3
    walk_ins = [s for s in idx.services.values() if not s.basics.appointment_id]
    assert walk_ins
    assert len({a.service.technician for a in idx.appointments.values()}) >= 4
    assert len({a.service.room for a in idx.appointments.values()}) >= 2
    assert any(c.health.allergies for c in idx.customers.values())
    assert any(c.health.contraindications for c in idx.customers.values())
    assert len(idx.followups) > 0


def test_example_vault_is_what_its_script_generates(tmp_path):
    """The committed example is reproducible: regenerating it gives the same files."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate_example", EXAMPLE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "again"
    module.build(out)

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
                if p.is_file() and ".vaultcrm" not in p.parts and p.name not in {"generate.py", "demo.py"}}

    assert tree(out) == tree(EXAMPLE)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_workers_default_to_the_cores_there_are():
    assert loader._workers(None) == max(1, min(len(os.sched_getaffinity(0)), 8))


def test_temp_files_of_a_killed_writer_are_swept_when_stale(vault):
    root = vault({"预约/APP-2026-001.md": note(1)})
    stale = root / "预约" / ".APP-2026-002.md.vaultcrm-0badc0de.tmp"
    fresh = root / "预约" / ".APP-2026-003.md.vaultcrm-0badc0df.tmp"
    user = root / "预约" / ".my-own.tmp"
    for path in (stale, fresh, user):
        path.write_text("half a note", encoding="utf-8")
    old = __import__("time").time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(user, (old, old))
    load_vault(root)
    assert not stale.exists() and fresh.exists() and user.exists()


def test_reload_from_a_previous_load_equals_a_fresh_load(vault):
    files = {f"预约/{n}.md": note(n) for n in range(1, 21)}
    files["bad.md"] = note(90, day="下周")
    files["日记.md"] = "今天很忙\n"
    root = vault(files)
    first = load_vault(root)
    (root / "预约/3.md").write_text(note(3, day="2026-03-03"), encoding="utf-8")
    (root / "预约/4.md").unlink()
    (root / "归档").mkdir()
    (root / "预约/5.md").rename(root / "归档/5.md")
    (root / "新.md").write_text(note(21), encoding="utf-8")
    again = load_vault(root, previous=first)
    fresh = load_vault(root, use_cache=False)
    assert again.stats.parsed == 3  # the edited, the moved and the new note
    assert dict(again.index.appointments) == dict(fresh.index.appointments)
    assert again.diagnostics == fresh.diagnostics and again.diagnostics
    assert again.index.appointments["APP-2026-005"].path == "归档/5.md"
    cold = load_vault(root)  # the cache on disk was kept up to date by the reload
    assert cold.stats.parsed == 0 and dict(cold.index.appointments) == dict(fresh.index.appointments)


def _order(index) -> list:
    """Every table in iteration order (commands list records in it), and the duplicates."""
    tables = [[(rid, r.path, r.model_dump()) for rid, r in table.items()] for table in index._tables]
    return [tables, sorted((rid, [r.path for r in records]) for rid, records in index.duplicates.items())]


OPERATIONS = st.lists(st.tuples(st.sampled_from(["edit", "delete", "create", "move", "renumber", "break", "plain"]),
                                st.integers(1, 12), st.integers(1, 12)), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(OPERATIONS, min_size=1, max_size=3))
def test_a_chain_of_reloads_equals_a_fresh_load_in_order_too(tmp_path_factory, rounds):
    """Edits, deletions, new notes, moves, a note renumbered onto another's ID (a duplicate) and back,
    broken notes: each reload from the previous load gives the tables a fresh load gives, in its order."""
    root = tmp_path_factory.mktemp("chain")
    for n in range(1, 9):
        (root / "预约").mkdir(exist_ok=True)
        (root / "预约" / f"{n:02d}.md").write_text(note(n), encoding="utf-8")
    current = load_vault(root)
    for operations in rounds:
        for op, a, b in operations:
            path = root / "预约" / f"{a:02d}.md"
            if op == "edit" and path.exists():
                path.write_text(note(a, day=f"2026-03-{b:02d}"), encoding="utf-8")
            elif op == "delete" and path.exists():
                path.unlink()
            elif op == "create":
                (root / "新" / f"{a:02d}-{b}.md").parent.mkdir(exist_ok=True)
                (root / "新" / f"{a:02d}-{b}.md").write_text(note(100 + a * 13 + b), encoding="utf-8")
            elif op == "move" and path.exists():
                (root / "归档").mkdir(exist_ok=True)
                path.rename(root / "归档" / f"{a:02d}-{b}.md")
            elif op == "renumber" and path.exists():
                path.write_text(note(b), encoding="utf-8")  # now holds note b's ID: maybe taken twice
            elif op == "break" and path.exists():
                path.write_text(note(a, day="下周"), encoding="utf-8")
            elif op == "plain":  # a note with no record: the tables, and what was worked out from them, stay
                (root / "笔记").mkdir(exist_ok=True)
                (root / "笔记" / f"{a}.md").write_text(f"随手记 {b}\n", encoding="utf-8")
        days_before = current.index.appointments.dates("info", "date")
        had_duplicates = bool(current.index.duplicates)  # then a reload builds afresh, carrying nothing over
        current = load_vault(root, previous=current)
        fresh = load_vault(root, use_cache=False)
        assert _order(current.index) == _order(fresh.index)
        assert current.diagnostics == fresh.diagnostics
        assert current.index.appointments.dates("info", "date") == fresh.index.appointments.dates("info", "date")
        if all(op == "plain" for op, _, _ in operations) and not had_duplicates:
            assert current.index.appointments.dates("info", "date") is days_before
    from_disk = load_vault(root)  # the shards the reloads saved hold what a fresh read finds
    assert from_disk.stats.parsed == 0 and _order(from_disk.index) == _order(fresh.index)
