"""`vaultcrm check` and `vaultcrm init` through the real command."""

import json

from conftest import run_cli

GOOD = """---
预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
  预约日期: 2026-02-12
  预约时间: '14:00'
服务信息:
  服务项目: 推拿
---
"""


def test_check_clean_vault_exits_0(vault, cli):
    root = vault({"预约/APP-2026-001.md": GOOD, "日记/随便.md": "今天很忙\n"})
    result = cli(root, "check")
    assert result.exit_code == 0
    assert "预约 1" in result.stdout and "错误 0" in result.stdout


def test_check_reports_path_line_message_and_exits_1(vault, cli):
    root = vault({"预约/APP-2026-001.md": GOOD.replace("'14:00'", "'25:00'"),
                  "b.md": GOOD.replace("客户姓名: 张三", "客户姓名: 李四")})
    result = cli(root, "check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "预约/APP-2026-001.md:6: 错误：预约信息.预约时间：无法识别的时间「25:00」，应写作 '14:00'" in lines
    assert "b.md:2: 错误：编号 APP-2026-001 重复，出现在：b.md、预约/APP-2026-001.md" in lines


def test_check_json_items(vault, cli):
    root = vault({"x.md": GOOD.replace("服务项目: 推拿", "服务项目: 推拿\n  预计费用: ¥")})
    result = cli(root, "check", "--format", "json")
    assert result.exit_code == 0  # warnings only
    assert json.loads(result.stdout) == [
        {"path": "x.md", "line": 9, "severity": "warning", "message": "服务信息.预计费用 未填写（仍是模板占位「¥」）"}]


def test_check_with_a_broken_config_names_its_line(vault, cli):
    root = vault({"a.md": GOOD}, config="营业时间:\n  开始: '09:00'\n  结束: 半夜\n")
    result = cli(root, "check")
    assert result.exit_code == 1
    assert "vaultcrm.yaml:3" in result.stderr and "营业时间.结束" in result.stderr
    assert "Traceback" not in result.output


def test_config_lists_make_unknown_names_warnings(vault, cli):
    root = vault({"a.md": GOOD}, config="服务项目:\n  全身推拿: {时长: 60分钟}\n")
    result = cli(root, "check")
    assert "a.md:8: 警告：服务项目「推拿」不在 vaultcrm.yaml 的服务项目中" in result.stdout


def test_init_never_overwrites(tmp_path, cli):
    root = tmp_path / "v"
    root.mkdir()
    (root / "服务追踪表.md").write_text("我自己的总览\n", encoding="utf-8")
    result = cli(root, "init")
    assert result.exit_code == 0
    assert (root / "服务追踪表.md").read_text(encoding="utf-8") == "我自己的总览\n"
    assert "已存在，未改动 服务追踪表.md" in result.stdout
    config = (root / "vaultcrm.yaml").read_text(encoding="utf-8")
    for key in ("服务项目:", "时长:", "价格:", "技能:", "禁忌:", "材料:", "技师:", "工作时间:", "房间:", "营业时间:",
                "缓冲时间:", "跟进规则:", "提醒规则:"):
        assert key in config
    for folder in ("预约", "服务记录", "跟进", "客户", "提醒", "统计/日报", "统计/月报"):
        assert (root / folder).is_dir()


def test_vault_found_upward_and_by_environment(tmp_path):
    root = tmp_path / "库"
    (root / ".obsidian").mkdir(parents=True)
    (root / "深" / "处").mkdir(parents=True)
    (root / "a.md").write_text(GOOD, encoding="utf-8")
    from_inside = run_cli("check", cwd=root / "深" / "处")
    assert from_inside.returncode == 0 and "预约 1" in from_inside.stdout
    by_env = run_cli("check", cwd=tmp_path, env={"VAULTCRM_VAULT": str(root)})
    assert "预约 1" in by_env.stdout


def test_vault_template_override_is_used(vault):
    from vaultcrm.core.loader import load_vault
    from vaultcrm.core.render import templates_dir
    from vaultcrm.core.store import create_record
    from vaultcrm.models import Appointment

    root = vault({})
    override = root / ".vaultcrm" / "templates"
    override.mkdir(parents=True)
    shipped = (templates_dir() / "appointment.md.j2").read_text(encoding="utf-8")
    (override / "appointment.md.j2").write_text(shipped + "\n本店自定义的预约页脚\n", encoding="utf-8")
    loaded = load_vault(root)
    made = create_record(root, loaded.settings, Appointment(id="APP-2026-000"), [], year=2026)
    assert (root / made.path).read_text(encoding="utf-8").endswith("本店自定义的预约页脚\n")


def test_hostile_or_broken_config_is_refused_with_a_message(vault, cli):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
    for config in (bomb, "营业时间:\n  开始: 2026-02-30\n", "[" * 5000):
        root = vault({"a.md": GOOD}, config=config)
        result = cli(root, "check")
        assert result.exit_code == 1, config[:40]
        assert "vaultcrm.yaml" in result.stderr and "Traceback" not in result.output
