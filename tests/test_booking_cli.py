"""`vaultcrm book` end to end: the note it writes, customers, clashes, safety, prompts, concurrency."""

from __future__ import annotations

import subprocess
import sys

import pytest
from booking_data import CONFIG, app_note, customer_note, service_note
from conftest import run_cli

from vaultcrm.core.loader import load_vault

AT = ("--at", "2026-02-11 10:00")
THU = ("--date", "2026-02-12")


def notes(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


@pytest.fixture
def studio(vault):
    return vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000", preferred="王师傅")},
                 config=CONFIG)


def test_book_writes_the_app_template_filled(studio, cli):
    result = cli(studio, "book", "-c", "张三", *THU, "--time", "14:00", "--service", "全身推拿", "--channel", "wechat",
                 "--strength", "firm", "--note", "腰部酸痛", "--by", "小王", *AT)
    assert result.exit_code == 0, result.output
    assert "已创建预约 APP-2026-001" in result.stdout
    assert "张三（C-0001） 138****8000" in result.stdout
    assert "2026-02-12 周四 14:00–15:00" in result.stdout
    text = (studio / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert text.startswith("""---
预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  客户档案: "[[C-0001 张三]]"
  联系方式: '13800138000'
  预约日期: 2026-02-12
  预约时间: '14:00'
  预约渠道: 微信

服务信息:
  服务项目: 全身推拿
  服务时长: 60分钟
  预计费用: ¥198
  技师安排: 王师傅
  服务地点: 房间A

特殊要求:
  偏好技师: 王师傅
  力度要求: 重
  其他需求: 腰部酸痛

预约状态:
  创建时间: '2026-02-11 10:00'
  创建人: 小王
  当前状态: 待服务
  状态更新:
---
""")
    assert not load_vault(studio).diagnostics


def test_book_json_prints_the_appointment_with_chinese_keys(studio, cli):
    result = cli(studio, "book", "-c", "C-0001", *THU, "-t", "15:00", "-s", "艾灸调理", "--technician", "张技师",
                 "--room", "房间B", "--duration", "50", "--format", "json", *AT)
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data["预约编号"] == "APP-2026-001"
    assert data["预约信息"]["客户编号"] == "C-0001" and data["预约信息"]["预约时间"] == "15:00"
    assert data["服务信息"] == {"服务项目": "艾灸调理", "服务时长": 50, "预计费用": 168, "技师安排": "张技师",
                                "服务地点": "房间B"}
    assert data["预约状态"]["创建人"] == "前台" and data["预约状态"]["当前状态"] == "待服务"


def test_customer_found_by_phone(studio, cli):
    result = cli(studio, "book", "-c", "138 0013 8000", *THU, "-t", "14:00", "-s", "拔罐", *AT)
    assert result.exit_code == 0, result.output
    assert "客户编号: C-0001" in (studio / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert len(list((studio / "客户").iterdir())) == 1


def test_ambiguous_name_is_refused_with_candidates(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
                  "客户/C-0002 张三.md": customer_note("C-0002", "张三", "13900139000")}, config=CONFIG)
    before = notes(root)
    result = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "拔罐", *AT)
    assert result.exit_code == 1
    assert "「张三」对应 2 位客户" in result.stderr
    assert "C-0001 张三 138****8000" in result.stderr and "C-0002 张三 139****9000" in result.stderr
    assert notes(root) == before
    ok = cli(root, "book", "-c", "张三", "--phone", "13900139000", *THU, "-t", "14:00", "-s", "拔罐", *AT)
    assert ok.exit_code == 0, ok.output
    assert "客户编号: C-0002" in (root / "预约/APP-2026-001.md").read_text(encoding="utf-8")


def test_walk_in_of_an_unknown_customer_creates_a_profile(studio, cli):
    result = cli(studio, "book", "-c", "王五", "--phone", "136-0013-6000", *THU, "-t", "16:00", "-s", "全身推拿",
                 "--channel", "walk-in", *AT)
    assert result.exit_code == 0, result.output
    assert "王五（C-0002，新建档案）" in result.stdout
    profile = (studio / "客户/C-0002 王五.md").read_text(encoding="utf-8")
    for line in ("客户编号: C-0002", "客户姓名: 王五", "联系方式: '13600136000'", "来源渠道: 到店", "会员等级: 普通"):
        assert line in profile.splitlines()
    app = (studio / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert '  客户档案: "[[C-0002 王五]]"' in app and "  客户编号: C-0002" in app
    again = cli(studio, "book", "-c", "王五", *THU, "-t", "18:00", "-s", "全身推拿", *AT)
    assert again.exit_code == 0, again.output
    assert len(list((studio / "客户").iterdir())) == 2
    assert not load_vault(studio).diagnostics


def test_unknown_customer_id_is_refused(studio, cli):
    result = cli(studio, "book", "-c", "C-0042", *THU, "-t", "14:00", "-s", "拔罐", *AT)
    assert (result.exit_code, result.stderr.strip()) == (1, "没有客户编号为 C-0042 的客户档案")


def test_clash_writes_nothing_and_names_the_appointment(vault, cli):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", customer="李四")}, config=CONFIG)
    before = notes(root)
    result = cli(root, "book", "-c", "王五", *THU, "-t", "14:30", "-s", "全身推拿", "--technician", "李师傅", *AT)
    assert result.exit_code == 1
    assert "技师 李师傅 已有预约 APP-2026-001 李四 2026-02-12 14:00–15:00" in result.stderr
    assert "最近的空闲时间：12:30、12:40、12:50、15:10、15:20、15:30" in result.stderr
    assert "14:30 有空的技师：王师傅" in result.stderr
    assert notes(root) == before


def test_unknown_service_is_refused_with_the_catalogue(studio, cli):
    result = cli(studio, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "泰式按摩", *AT)
    assert result.exit_code == 1
    assert "未知的服务项目「泰式按摩」，vaultcrm.yaml 中有：全身推拿、艾灸调理、拔罐" in result.stderr


def test_without_config_anything_goes_with_the_defaults(vault, cli):
    root = vault({})
    result = cli(root, "book", "-c", "赵六", *THU, "-t", "20:00", "-s", "泰式按摩", "--technician", "阿明", *AT)
    assert result.exit_code == 0, result.output
    text = (root / "预约/APP-2026-001.md").read_text(encoding="utf-8")
    assert "  服务时长: 60分钟" in text and "  技师安排: 阿明" in text and "  预计费用:\n" in text
    late = cli(root, "book", "-c", "赵六", *THU, "-t", "20:01", "-s", "泰式按摩", *AT)
    assert late.exit_code == 1 and "超出营业时间 09:00–21:00" in late.stderr


def test_allergy_refuses_unless_forced(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000", allergies="[艾草]")},
                 config=CONFIG)
    args = ("book", "-c", "张三", *THU, "-t", "14:00", "-s", "艾灸调理", *AT)
    refused = cli(root, *args)
    assert refused.exit_code == 1
    assert "未预约：张三 过敏史「艾草」与 艾灸调理 的材料「艾草」相符" in refused.stderr
    assert "--force" in refused.stderr
    assert not (root / "预约").exists()
    forced = cli(root, *args, "--force")
    assert forced.exit_code == 0, forced.output
    assert "注意（--force）：过敏史「艾草」与 艾灸调理 的材料「艾草」相符" in forced.stdout
    assert "过敏史    艾草" in forced.stdout
    forced_app = load_vault(root).index.appointments["APP-2026-001"]
    assert forced_app.state.history == [
        "2026-02-11 10:00 强制预约：过敏史「艾草」与 艾灸调理 的材料「艾草」相符（前台，强制）"]
    body = (root / forced_app.path).read_text(encoding="utf-8").split("\n---\n", 1)[1]
    assert "> [!warning] 强制预约（--force）" in body and "> - 2026-02-11 10:00 强制预约：过敏史「艾草」" in body


def test_contraindication_refuses(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", contraindications="孕期")}, config=CONFIG)
    result = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "拔罐", *AT)
    assert result.exit_code == 1 and "禁忌事项「孕期」与 拔罐 的禁忌「孕期」相符" in result.stderr
    assert cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "全身推拿", *AT).exit_code == 0


@pytest.mark.parametrize("days,refused", [(["2026-01-05", "2025-12-01"], False),
                                          (["2026-01-05", "2025-12-01", "2025-06-01"], True),
                                          (["2026-01-05", "2025-12-01", "2025-01-10"], False)])
def test_no_show_threshold(vault, cli, days, refused):
    files = {"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000")}
    for i, day in enumerate(days, 1):
        files[f"预约/APP-2025-{i:03}.md"] = app_note(f"APP-2025-{i:03}", date=day, status="未到店")
    root = vault(files, config=CONFIG)
    result = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "全身推拿", *AT)
    if refused:
        assert result.exit_code == 1
        assert "近 12 个月未到店 3 次（上限 3 次）" in result.stderr
        forced = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "全身推拿", "--force", *AT)
        assert forced.exit_code == 0 and "注意（--force）：近 12 个月未到店 3 次" in forced.stdout
    else:
        assert result.exit_code == 0, result.output
        assert "未到店    近 12 个月 2 次" in result.stdout


def test_service_memory_is_shown(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000", allergies="[花粉]"),
                  "服务记录/SRV-2026-001.md": service_note("SRV-2026-001", before="空腹勿做", after="腰部慎压",
                                                          adjustments="力度减轻", advice="两周后复诊")}, config=CONFIG)
    result = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "全身推拿", *AT)
    assert result.exit_code == 0, result.output
    for text in ("上次服务 SRV-2026-001 2026-01-20 全身推拿", "服务前注意事项：空腹勿做", "服务后注意事项：腰部慎压",
                 "调整内容：力度减轻", "后续建议：两周后复诊", "过敏史    花粉"):
        assert text in result.stdout


@pytest.mark.parametrize("missing,message", [("--customer", "缺少 --customer"), ("--date", "缺少 --date"),
                                             ("--time", "缺少 --time"), ("--service", "缺少 --service")])
def test_missing_field_without_a_terminal_is_a_usage_error(studio, cli, missing, message):
    given = {"--customer": "张三", "--date": "2026-02-12", "--time": "14:00", "--service": "拔罐"}
    del given[missing]
    result = cli(studio, "book", *[x for kv in given.items() for x in kv], *AT)
    assert result.exit_code == 2 and message in result.stderr
    assert not (studio / "预约").exists()


@pytest.mark.parametrize("option,value", [("--date", "2026-13-40"), ("--time", "25:00"), ("--channel", "fax"),
                                          ("--strength", "max"), ("--duration", "abc"), ("--phone", "call me")])
def test_bad_values_are_usage_errors(studio, cli, option, value):
    args = {"--customer": "张三", "--date": "2026-02-12", "--time": "14:00", "--service": "拔罐", option: value}
    result = cli(studio, "book", *[x for kv in args.items() for x in kv], *AT)
    assert result.exit_code == 2 and option in result.stderr


def test_prompts_on_a_terminal(studio, cli, monkeypatch):
    import vaultcrm.cli.options as options_cli

    monkeypatch.setattr(options_cli, "interactive", lambda: True)
    result = cli(studio, "book", "--service", "拔罐", *AT, input="张三\n2026-02-31\n2026-02-12\n14:00\ny\n")
    assert result.exit_code == 0, result.output
    assert "预约（待确认）" in result.stdout and "已创建预约 APP-2026-001" in result.stdout
    declined = cli(studio, "book", "-c", "张三", *THU, "-t", "16:00", "-s", "拔罐", *AT, input="也许\n否\n")
    assert declined.exit_code == 1
    assert "请回答 是 或 否" in declined.output and "（是/否，直接回车为“是”）" in declined.output
    assert "Error" not in declined.output and "[Y/n]" not in declined.output
    assert not (studio / "预约/APP-2026-002.md").exists()


@pytest.mark.slow
def test_concurrent_bookings_get_distinct_ids(vault):
    root = vault({})
    procs = [subprocess.Popen([sys.executable, "-m", "vaultcrm", "--vault", str(root), "book", "-c", "赵六",
                               "--date", "2026-02-12", "--time", "14:00", "--service", "推拿",
                               "--technician", f"技师{i}", "--room", f"房间{i}", "--force", *AT],  # one customer, 16 places
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(16)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 16, outputs
    ids = {line.split()[-1] for out, _ in outputs for line in out.splitlines() if line.startswith("已创建预约")}
    assert ids == {f"APP-2026-{i:03}" for i in range(1, 17)}
    vault_now = load_vault(root, use_cache=False)
    assert not vault_now.diagnostics
    assert len(vault_now.index.appointments) == 16
    assert list(vault_now.index.customers) == ["C-0001"]  # the new customer was created once
    assert {vault_now.index.appointments[i].info.customer_id for i in ids} == {"C-0001"}


@pytest.mark.slow
def test_concurrent_bookings_of_one_slot_let_exactly_one_through(vault):
    root = vault({})
    procs = [subprocess.Popen([sys.executable, "-m", "vaultcrm", "--vault", str(root), "book", "-c", f"客人{i}",
                               "--date", "2026-02-12", "--time", "14:00", "--service", "推拿", "--technician", "阿明",
                               *AT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 1, 1, 1], outputs
    assert len(list((root / "预约").iterdir())) == 1
    assert all("Traceback" not in err for _, err in outputs)


def test_subprocess_refusal_has_no_traceback(studio):
    proc = run_cli("--vault", str(studio), "book", "-c", "张三", *THU, "-t", "22:00", "-s", "拔罐", *AT)
    assert proc.returncode == 1 and "超出营业时间" in proc.stderr and "Traceback" not in proc.stderr


def test_forced_json_keeps_stdout_json_and_warns_on_stderr(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", allergies="[艾草]")}, config=CONFIG)
    result = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "艾灸调理", "--force", "-f", "json", *AT)
    assert result.exit_code == 0, result.output
    assert result.json()["服务信息"]["服务项目"] == "艾灸调理"
    assert "注意（--force）：过敏史「艾草」与 艾灸调理 的材料「艾草」相符" in result.stderr


@pytest.mark.parametrize("command", ["book", "log"])
def test_a_zero_duration_is_a_usage_error_not_the_default(vault, cli, command):
    root = vault({})
    args = ["--customer", "王五", "--phone", "13900001111", "--service", "足疗", "--date", "2026-02-13",
            "--time", "10:00", "--duration", "0", "--at", "2026-02-12 10:00"]
    result = cli(root, command, *args)
    assert result.exit_code == 2 and "--duration：时长应大于 0 分钟" in result.output
    assert not list(root.rglob("*.md"))


def test_a_new_customer_with_a_known_name_is_told_about_the_namesake(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000")}, config=CONFIG)
    result = cli(root, "book", "-c", "张三", "--phone", "13900000000", *THU, "-t", "14:00", "-s", "全身推拿", *AT)
    assert result.exit_code == 0, result.output
    assert "注意：已有同名客户 C-0001 张三 138****8000；本次按新客户建档" in result.stdout
    assert sorted(p.name for p in (root / "客户").iterdir()) == ["C-0001 张三.md", "C-0002 张三.md"]
    same = cli(root, "book", "-c", "张三", "--phone", "13800138000", *THU, "-t", "16:00", "-s", "全身推拿", *AT)
    assert same.exit_code == 0 and "同名客户" not in same.stdout
