"""The fast paths give the answers of the full ones: follow plan's candidate customers, plain-data checks,
the customer list and the profile refresh from plain visits."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from vaultcrm.checks.cross_record import CHECKS, run_checks
from vaultcrm.core.index import VaultIndex, visits_of
from vaultcrm.core.loader import load_vault
from vaultcrm.customers.profiles import managed_changes
from vaultcrm.customers.view import customer_view, list_row
from vaultcrm.followups.rules import plan_followups

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from generate import generate  # noqa: E402


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio")
    generate(1500, root, seed=3)
    load_vault(root)  # warm: the second load reads plain data from the cache, as commands do
    return root


def _key(p):
    return (p.due, p.customer_key, p.kind, p.service.id if p.service else None,
            p.package.name if p.package else None)


@pytest.mark.parametrize("today", ["2024-01-20", "2024-06-30", "2025-03-01", "2026-09-27", "2026-12-31"])
def test_follow_plan_of_candidates_is_the_plan_of_everyone(studio, today):
    day = dt.date.fromisoformat(today)
    fast = load_vault(studio)
    rules = fast.settings.followups
    planned = plan_followups(fast.index, rules, day)
    full = load_vault(studio)
    everyone = plan_followups(full.index, rules, day, histories=full.index.histories)
    assert [_key(p) for p in planned] == [_key(p) for p in everyone]
    assert planned or today in ("2024-01-20", "2026-12-31")


def test_plain_data_checks_find_what_model_checks_find(studio):
    vault = load_vault(studio)
    models = VaultIndex(studio, vault.index.records)  # every record built: the checks read models only
    assert run_checks(vault.index, vault.settings) == run_checks(models, vault.settings)
    assert CHECKS


@pytest.mark.parametrize("today", ["2024-06-30", "2025-03-01", "2026-09-27"])
def test_customer_list_rows_are_the_360_views_figures(studio, today):
    """`customer list` reads visits as plain data; `customer show` builds every model of the history."""
    day = dt.date.fromisoformat(today)
    vault = load_vault(studio)
    settings, index = vault.settings, vault.index
    full = load_vault(studio).index
    segmented = 0
    for customer in index.customers.values():
        row = list_row(index, customer, settings, day)
        view = customer_view(full, full.customers[customer.id], settings, day)
        assert row["到店次数"] == view.stats.visits and row["近12个月消费"] == view.stats.spend_recent
        assert row["最近到店"] == (view.stats.last_visit.isoformat() if view.stats.last_visit else None)
        assert row["积分"] == view.points.balance and row["会员等级"] == view.tier
        assert row["分群"] == [s.value for s in view.segments]
        segmented += bool(row["分群"])
    assert segmented and index.services.column("basics", "date")  # the plain path had plain data to read


def test_profile_refresh_from_plain_visits_is_the_one_from_models(studio):
    vault = load_vault(studio)
    full = VaultIndex(studio, vault.index.records)  # every record a model
    day = dt.date(2025, 3, 1)
    changed = 0
    for customer in vault.index.customers.values():
        plain = managed_changes(customer, vault.index.visits_of(customer.id), vault.settings, day)
        built = managed_changes(customer, visits_of(full.services_of(customer.id)),
                                vault.settings, day)
        assert plain == built
        changed += bool(plain)
    assert changed


def test_plain_data_checks_report_a_missing_profile_and_appointment(vault):
    root = vault({
        "预约/APP-2026-001.md": """
            ---
            预约编号: APP-2026-001
            预约信息:
              客户姓名: 张三
              客户编号: C-0404
              预约日期: 2026-03-01
              预约时间: '10:00'
            预约状态:
              当前状态: 已确认
            ---
            """,
        "服务记录/SRV-2026-001.md": """
            ---
            服务编号: SRV-2026-001
            服务基本信息:
              服务日期: 2026-03-01
              预约编号: APP-2026-001
            客户信息:
              客户姓名: 张三
              客户编号: C-0404
            ---
            """,
        "服务记录/SRV-2026-002.md": """
            ---
            服务编号: SRV-2026-002
            服务基本信息:
              服务日期: 2026-03-02
              预约编号: APP-2026-999
            ---
            """,
    })
    load_vault(root)
    loaded = load_vault(root)
    messages = [d.message for d in run_checks(loaded.index, loaded.settings)]
    assert any("客户编号 C-0404 没有对应的客户档案" in m for m in messages)
    assert any("预约编号 APP-2026-999 找不到对应的预约" in m for m in messages)
    assert any("但预约 APP-2026-001 的状态是「已确认」" in m for m in messages)
