"""Follow-up rules and `vaultcrm follow plan | list | done | cancel`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from service_data import CONFIG, app_note, customer, raw_flw, raw_srv

from vaultcrm.core.config import FollowUpRules
from vaultcrm.core.index import VaultIndex
from vaultcrm.core.loader import load_vault
from vaultcrm.followups.rules import (
    NEW_CUSTOMER,
    PACKAGE,
    PROBLEM,
    REGULAR,
    followup_record,
    is_problem,
    plan_followups,
    problem_due,
)
from vaultcrm.models import Customer, ServiceRecord

TODAY = dt.date(2026, 2, 12)
AT = "2026-02-12 15:05"
RULES = FollowUpRules()


def _srv(stars=None, satisfaction=None) -> ServiceRecord:
    return ServiceRecord.model_validate({"服务编号": "SRV-2026-001", "服务基本信息": {"服务日期": "2026-02-12"},
                                         "客户反馈": {"星级评分": stars, "满意度": satisfaction}})


def _planned(root: Path, today: dt.date = TODAY, rules: FollowUpRules = RULES):
    return [(p.kind, p.due, p.service.id if p.service else None)
            for p in plan_followups(load_vault(root, use_cache=False).index, rules, today)]


def _frontmatter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])


def _days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


# -- the rules, one at a time -------------------------------------------------------------------------
@pytest.mark.parametrize("stars, satisfaction, problem", [
    (3, None, False), (2, None, True), (1, None, True), (5, "不满意", True), (None, "一般", False),
    (None, None, False), (4, "满意", False),
])
def test_problem_customer_threshold(stars, satisfaction, problem):
    assert is_problem(_srv(stars, satisfaction), RULES) is problem


def test_problem_due_within_configured_hours():
    assert problem_due(TODAY, RULES) == dt.date(2026, 2, 13)
    assert problem_due(TODAY, FollowUpRules(problem_hours=48)) == dt.date(2026, 2, 14)
    assert problem_due(TODAY, FollowUpRules(problem_hours=25)) == dt.date(2026, 2, 14)


def test_first_service_plans_new_customer_call_three_days_later(vault):
    root = vault({"客户/C-0001 张三.md": customer(), "s1.md": raw_srv("SRV-2026-001", "2026-02-10")})
    assert _planned(root) == [(NEW_CUSTOMER, dt.date(2026, 2, 13), "SRV-2026-001")]


def test_only_the_first_ever_service_is_new(vault):
    root = vault({"客户/C-0001 张三.md": customer(), "s1.md": raw_srv("SRV-2026-001", "2026-02-08"),
                  "s2.md": raw_srv("SRV-2026-002", "2026-02-11")})
    assert _planned(root) == [(NEW_CUSTOMER, dt.date(2026, 2, 11), "SRV-2026-001")]


def test_hand_written_srv_with_bare_times_triggers_the_problem_rule(vault):
    """Obsidian style: `服务时间: 14:00-14:30` and `联系方式: 13800138000` bare, no 客户编号."""
    root = vault({"客户/C-0001 张三.md": customer(),
                  "s1.md": raw_srv("SRV-2026-001", "2026/2/1", satisfaction="满意"),
                  "s2.md": raw_srv("SRV-2026-002", "2026年2月11日", satisfaction="不满意", time="9:00-9:30")})
    assert _planned(root) == [(PROBLEM, dt.date(2026, 2, 12), "SRV-2026-002")]


def test_earlier_hand_written_srv_means_not_new_when_logging(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": app_note(),
                  "服务记录/手写.md": raw_srv("SRV-2026-001", "2026-01-20")}, config=CONFIG)
    result = cli(root, "log", "APP-2026-001", "--stars", "3", "--at", AT)
    assert result.exit_code == 0, result.output
    assert not (root / "跟进").exists()
    assert "问题客户" not in result.stdout


def test_an_earlier_walk_in_logged_later_does_not_plan_a_second_first_visit_call(vault, cli):
    root = vault({}, config=CONFIG)
    for day in ("2026-02-10", "2026-02-05"):  # the later visit is logged first
        result = cli(root, "log", "--customer", "王五", "--phone", "13900001111", "--service", "足疗",
                     "--technician", "张技师", "--date", day, "--time", "10:00", "--at", f"{day} 12:00")
        assert result.exit_code == 0, result.output
    assert cli(root, "follow", "plan", "--at", "2026-02-12 09:00").exit_code == 0
    kinds = [_frontmatter(p)["跟进基本信息"]["跟进类型"] for p in sorted((root / "跟进").glob("*.md"))]
    assert kinds.count(NEW_CUSTOMER) == 1, kinds


@pytest.mark.parametrize("count, planned", [(3, False), (4, True)])
def test_regular_customer_boundary(vault, count, planned):
    files = {"客户/C-0001 张三.md": customer(), "old.md": raw_srv("SRV-2025-001", "2025-06-01")}
    for i in range(count):
        files[f"s{i}.md"] = raw_srv(f"SRV-2026-00{i + 1}", _days_ago(10 + 20 * i))
    root = vault(files)
    expected = [(REGULAR, TODAY, "SRV-2026-001")] if planned else []
    assert _planned(root) == expected


@pytest.mark.parametrize("oldest, planned", [(90, True), (91, False)])
def test_regular_window_is_ninety_days(vault, oldest, planned):
    files = {"客户/C-0001 张三.md": customer(), "old.md": raw_srv("SRV-2025-001", "2025-06-01")}
    for i, ago in enumerate((5, 30, 60, oldest)):
        files[f"s{i}.md"] = raw_srv(f"SRV-2026-00{i + 1}", _days_ago(ago))
    assert [k for k, _, _ in _planned(vault(files))] == ([REGULAR] if planned else [])


@pytest.mark.parametrize("ago, suppressed", [(20, True), (29, True), (31, False)])
def test_follow_up_within_thirty_days_suppresses_regular(vault, ago, suppressed):
    files = {"客户/C-0001 张三.md": customer(), "old.md": raw_srv("SRV-2025-001", "2025-06-01"),
             "f.md": raw_flw("FLW-2026-001", _days_ago(ago).isoformat(), service_id="SRV-2025-001")}
    for i in range(4):
        files[f"s{i}.md"] = raw_srv(f"SRV-2026-00{i + 1}", _days_ago(3 + 10 * i))
    kinds = [k for k, _, _ in _planned(vault(files))]
    assert kinds == ([] if suppressed else [REGULAR])


def test_package_midpoint(vault):
    package = ("\n  - 名称: 肩颈理疗套餐\n    总次数: 10\n    剩余次数: 6\n"
               "    开始日期: 2026-02-01\n    结束日期: 2026-04-02")
    root = vault({"客户/C-0001 张三.md": customer(packages=package)})
    assert _planned(root) == [(PACKAGE, dt.date(2026, 3, 3), None)]
    used_up = vault({"客户/C-0001 张三.md": customer(packages=package.replace("剩余次数: 6", "剩余次数: 0"))})
    assert _planned(used_up) == []
    assert _planned(root, rules=FollowUpRules(package_midpoint=False)) == []


def test_hand_written_package_follow_up_inside_validity_counts(vault):
    package = "\n  - 名称: 足疗卡\n    开始日期: 2026-02-01\n    结束日期: 2026-04-02"
    root = vault({"客户/C-0001 张三.md": customer(packages=package),
                  "f.md": raw_flw("FLW-2026-001", "2026-03-05", service_id="", kind=PACKAGE)})
    assert _planned(root) == []


def test_stale_triggers_are_not_planned_when_adopting_a_vault(vault):
    root = vault({"客户/C-0001 张三.md": customer(),
                  "s1.md": raw_srv("SRV-2025-001", "2025-03-01", satisfaction="不满意")})
    assert _planned(root) == []


# -- follow plan ----------------------------------------------------------------------------------------
def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def test_follow_plan_is_idempotent(vault, cli):
    package = "\n  - 名称: 足疗卡\n    开始日期: 2026-02-01\n    结束日期: 2026-03-01"
    root = vault({"客户/C-0001 张三.md": customer(packages=package),
                  "客户/C-0002 李四.md": customer("C-0002", "李四", "13900000000"),
                  "s1.md": raw_srv("SRV-2026-001", "2026-02-10", satisfaction="不满意"),
                  "s2.md": raw_srv("SRV-2026-002", "2026-02-11", name="李四", phone="13900000000")},
                 config=CONFIG)
    first = cli(root, "follow", "plan", "--at", AT)
    assert first.exit_code == 0, first.output
    assert "新安排 4 条回访" in first.stdout
    assert "问题客户 张三" in first.stdout
    files = _snapshot(root)
    kinds = sorted(_frontmatter(root / p)["跟进基本信息"]["跟进类型"] for p in files if p.startswith("跟进/"))
    assert kinds == sorted([NEW_CUSTOMER, NEW_CUSTOMER, PROBLEM, PACKAGE])
    second = cli(root, "follow", "plan", "--at", AT)
    assert second.exit_code == 0
    assert "新安排 0 条回访" in second.stdout
    assert _snapshot(root) == files


def test_hand_written_follow_up_for_the_service_counts_as_existing(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "s1.md": raw_srv("SRV-2026-001", "2026-02-10"),
                  "跟进/手写回访.md": raw_flw("FLW-2026-001", "2026-02-13")}, config=CONFIG)
    result = cli(root, "follow", "plan", "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.json() == {"新安排": 0, "跟进": []}


def test_cancelled_follow_up_is_not_planned_again(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "s1.md": raw_srv("SRV-2026-001", "2026-02-10")}, config=CONFIG)
    planned = cli(root, "follow", "plan", "--at", AT, "--format", "json").json()
    assert [f["跟进类型"] for f in planned["跟进"]] == [NEW_CUSTOMER]
    cancel = cli(root, "follow", "cancel", "FLW-2026-001", "--reason", "客户出国")
    assert cancel.exit_code == 0, cancel.output
    assert _frontmatter(root / "跟进/FLW-2026-001.md")["跟进基本信息"]["跟进状态"] == "已取消"
    assert cli(root, "follow", "plan", "--at", AT, "--format", "json").json()["新安排"] == 0
    assert cli(root, "follow", "cancel", "FLW-2026-001").exit_code == 1


# -- follow list ----------------------------------------------------------------------------------------
def test_follow_list_marks_overdue_and_filters_due(vault, cli):
    root = vault({"a.md": raw_flw("FLW-2026-001", "2026-02-10"), "b.md": raw_flw("FLW-2026-002", "2026-02-20"),
                  "c.md": raw_flw("FLW-2026-003", "2026-02-12", name="李四")}, config=CONFIG)
    rows = cli(root, "follow", "list", "--at", AT, "--format", "json").json()
    assert [(r["跟进编号"], r["逾期"]) for r in rows] == [("FLW-2026-001", True), ("FLW-2026-003", False),
                                                      ("FLW-2026-002", False)]
    due = cli(root, "follow", "list", "--due", "--at", AT, "--format", "json").json()
    assert [r["跟进编号"] for r in due] == ["FLW-2026-001", "FLW-2026-003"]
    text = cli(root, "follow", "list", "--at", AT)
    assert "待跟进回访 3 条，逾期 1 条" in text.stdout
    for column in ("编号", "计划日期", "类型", "客户", "电话", "服务"):
        assert column in text.stdout


# -- follow done ----------------------------------------------------------------------------------------
def test_follow_done_fills_the_template_and_keeps_user_text(vault, cli):
    note = raw_flw("FLW-2026-001", "2026-02-13").replace(
        "  跟进人:\n", "  跟进人:   # 谁打的电话\n  渠道备注: 只在下午接电话\n") + "\n## 通话记录\n上次没接通。\n"
    root = vault({"跟进/FLW-2026-001.md": note}, config=CONFIG)
    result = cli(root, "follow", "done", "FLW-2026-001", "--feedback", "腰不疼了", "--effect", "明显改善",
                 "--satisfaction", "very-satisfied", "--intention", "办卡", "--next", "2026-02-20 14:00",
                 "--needs", "否", "--items", "推荐套餐", "--when", "下周", "--owner", "店长", "--method", "wechat",
                 "--by", "小王", "--at", "2026-02-14 10:30")
    assert result.exit_code == 0, result.output
    after = (root / "跟进/FLW-2026-001.md").read_text(encoding="utf-8")
    assert "# 谁打的电话\n  渠道备注: 只在下午接电话\n" in after
    assert after.endswith("---\n\n## 通话记录\n上次没接通。\n")
    assert "  跟进目的:\n    服务效果确认\n    客户感受了解\n    后续服务建议\n" in after
    data = _frontmatter(root / "跟进/FLW-2026-001.md")
    assert data["跟进基本信息"] == {"跟进日期": dt.date(2026, 2, 14), "跟进方式": "微信", "跟进人": "小王",
                              "渠道备注": "只在下午接电话", "服务编号": "SRV-2026-001", "跟进状态": "已完成"}
    assert data["跟进内容"]["跟进记录"] == {"客户反馈": "腰不疼了", "效果评估": "明显改善", "客户满意度": "非常满意"}
    assert data["跟进内容"]["跟进结果"] == {"客户意向": "办卡", "下次预约": "2026-02-20 14:00", "需要跟进": "否"}
    assert data["后续计划"] == {"跟进事项": "推荐套餐", "跟进时间": "下周", "负责人": "店长"}
    again = cli(root, "follow", "done", "FLW-2026-001")
    assert again.exit_code == 1 and "已是「已完成」" in again.stderr


def test_follow_done_next_days_plans_the_next_call(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "s1.md": raw_srv("SRV-2026-001", "2026-02-10")}, config=CONFIG)
    assert cli(root, "follow", "plan", "--at", AT).exit_code == 0
    result = cli(root, "follow", "done", "FLW-2026-001", "--feedback", "还好", "--next-days", "7",
                 "--at", "2026-02-13 11:00")
    assert result.exit_code == 0, result.output
    assert "已安排下次回访 FLW-2026-002 2026-02-20" in result.stdout
    nxt = _frontmatter(root / "跟进/FLW-2026-002.md")
    assert nxt["跟进基本信息"]["计划日期"] == dt.date(2026, 2, 20)
    assert nxt["跟进基本信息"]["跟进状态"] == "待跟进"
    assert nxt["客户信息"]["客户编号"] == "C-0001"
    assert _frontmatter(root / "跟进/FLW-2026-001.md")["后续计划"]["跟进时间"] == dt.date(2026, 2, 20)


def test_follow_done_unknown_id(vault, cli):
    root = vault({}, config=CONFIG)
    result = cli(root, "follow", "done", "FLW-2026-099")
    assert result.exit_code == 1 and "找不到跟进 FLW-2026-099" in result.stderr


# -- planning is a fixed point ------------------------------------------------------------------------
_services = st.lists(st.tuples(st.sampled_from(["C-0001", "C-0002"]), st.integers(0, 120),
                               st.one_of(st.none(), st.integers(1, 5)),
                               st.sampled_from([None, "满意", "不满意", "一般"])), max_size=12)


@settings(max_examples=60, deadline=None)
@given(_services, st.integers(-30, 200), st.integers(1, 120))
def test_planning_twice_plans_nothing_new(services, package_start, package_days):
    start = TODAY - dt.timedelta(days=package_start)
    customers = [Customer.model_validate({"客户编号": cid, "客户姓名": name, "套餐": [
        {"名称": "卡", "开始日期": start, "结束日期": start + dt.timedelta(days=package_days)}]}) for cid, name in
                 (("C-0001", "张三"), ("C-0002", "李四"))]
    srvs = [ServiceRecord.model_validate({
        "服务编号": f"SRV-2026-{n:03d}", "服务基本信息": {"服务日期": TODAY - dt.timedelta(days=ago)},
        "客户信息": {"客户编号": cid}, "客户反馈": {"星级评分": stars, "满意度": sat}})
        for n, (cid, ago, stars, sat) in enumerate(services, 1)]
    records = [r.model_copy(update={"path": f"{r.record_id}.md"}) for r in (*customers, *srvs)]
    first = plan_followups(VaultIndex(Path("."), records), RULES, TODAY)
    flws = [followup_record(p).model_copy(update={"id": f"FLW-2026-{n:03d}", "path": f"FLW-{n}.md"})
            for n, p in enumerate(first, 1)]
    assert plan_followups(VaultIndex(Path("."), [*records, *flws]), RULES, TODAY) == []
    identities = [(p.kind, p.customer_key, p.service.id if p.service else None) for p in first]
    assert len(identities) == len(set(identities))


def test_follow_done_with_an_unknown_id_shows_the_id_format(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer()}, config=CONFIG)
    result = cli(root, "follow", "done", "FLW-2026-999")
    assert result.exit_code == 1
    assert "找不到跟进 FLW-2026-999" in result.output and "FLW-2026-001" in result.output
