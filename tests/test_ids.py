"""ID allocation: atomic across processes, never overwriting, next free number per prefix and year."""

import subprocess
import sys
import textwrap

from hypothesis import given
from hypothesis import strategies as st

from vaultcrm.vault.ids import format_id, highest

WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from vaultcrm.core.config import Settings
    from vaultcrm.models import Appointment
    from vaultcrm.core.loader import load_vault
    from vaultcrm.core.store import create_record

    root = Path(sys.argv[1])
    vault = load_vault(root)
    record = Appointment.model_validate({"预约编号": "APP-2026-000", "预约信息": {"客户姓名": "并发" + sys.argv[2]}})
    made = create_record(root, vault.settings, record, vault.index.appointments.keys(), year=2026)
    print(made.id)
""")


def test_format_and_widths():
    assert format_id("APP", 7, 2026) == "APP-2026-007"
    assert format_id("APP", 1000, 2026) == "APP-2026-1000"
    assert format_id("CUS", 42) == "C-0042"
    assert highest("APP-2026-", ["APP-2026-999", "APP-2026-1000", "APP-2025-5000", "SRV-2026-3000"]) == 1000
    assert highest("APP-2026-", ["APP-2026-", "APP-2026-12x", "APP-2026-x12", "APP-SH01-2026-900"]) == 0


@given(st.lists(st.tuples(st.sampled_from(["APP", "SRV"]), st.sampled_from([2025, 2026]), st.integers(1, 99999),
                          st.sampled_from([None, "SH01"]))))
def test_the_next_id_is_past_every_id_of_its_prefix(made):
    ids = [format_id(kind, n, year, store) for kind, year, n, store in made]
    numbers = [n for kind, year, n, store in made if (kind, year, store) == ("APP", 2026, None)]
    assert highest("APP-2026-", ids) == max(numbers, default=0)


def test_sixteen_processes_get_sixteen_ids(vault):
    root = vault({"预约/APP-2026-041.md": "---\n预约编号: APP-2026-041\n预约信息:\n  客户姓名: 旧\n---\n"})
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(n)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(16)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    ids = sorted(out.strip() for out, _ in results)
    assert ids == [f"APP-2026-{n:03d}" for n in range(42, 58)]
    names = sorted(p.name for p in (root / "预约").iterdir())
    assert names == ["APP-2026-041.md", *[f"{i}.md" for i in ids]]


def test_a_hand_made_note_with_a_higher_number_is_respected(vault):
    from vaultcrm.core.loader import load_vault
    from vaultcrm.core.store import create_record
    from vaultcrm.models import Appointment

    root = vault({"随手记/x.md": "---\n预约编号: APP-2026-120\n预约信息:\n  客户姓名: 手写\n---\n",
                  "预约/APP-2026-121.md": "not ours, but the name is taken\n"})
    loaded = load_vault(root)
    made = create_record(root, loaded.settings, Appointment(id="APP-2026-000"), loaded.index.appointments.keys(),
                         year=2026)
    assert made.id == "APP-2026-122"
    assert (root / "预约/APP-2026-121.md").read_text() == "not ours, but the name is taken\n"
