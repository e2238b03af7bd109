"""`vaultcrm.yaml` mistakes are caught where they are made: `vaultcrm.yaml:LINE: …`, through the real CLI.

Wrong values stop every command (exit 1, nothing written); unknown or misspelt keys are warnings that
`check` lists with the nearest known key. Backup and restore go on with a broken config (they are how
one is saved and brought back).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultcrm.core.config import load_settings

REPO = Path(__file__).resolve().parent.parent
GOOD_TECH = "技师:\n  李师傅:\n    技能: [推拿]\n    工作时间: {开始: '09:00', 结束: '18:00'}\n    休息日: [周一]\n    提成比例: 0.3\n"

BAD = [
    ("服务项目:\n  全身推拿:\n    时长: 60分钟\n    价格: -198\n", 4, "服务项目.全身推拿.价格：价格不能为负数"),
    ("服务项目:\n  全身推拿:\n    时长: 0分钟\n", 3, "服务项目.全身推拿.时长：时长应大于 0 分钟"),
    ("服务项目:\n  全身推拿:\n    时长: -30\n", 3, "服务项目.全身推拿.时长：时长「-30」不在 0–1440 分钟之内"),
    ("提醒规则:\n  发送渠道:\n    - 类型: 命令\n      命令: 'true'\n      超时: 0\n", 5, "超时应大于 0 秒（现为 0）"),
    ("提醒规则:\n  发送渠道:\n    - {类型: webhook, 地址: 'http://x', 超时: -5}\n", 3, "超时应大于 0 秒（现为 -5）"),
    (GOOD_TECH.replace("提成比例: 0.3", "提成比例: 30"), 6, "技师.李师傅.提成比例：提成比例应在 0 到 1 之间"),
    (GOOD_TECH.replace("提成比例: 0.3", "提成比例: -0.1"), 6, "提成比例应在 0 到 1 之间（如 0.3 表示 30%），现为 -0.1"),
    (GOOD_TECH + "  李师傅:\n    技能: [足疗]\n", 7, "键「李师傅」重复（第 2 行已有）：后一个会覆盖前一个"),
    ("服务项目:\n  足疗: {时长: 60分钟}\n  足疗: {时长: 90分钟}\n", 3, "键「足疗」重复（第 2 行已有）"),
    ("营业时间:\n  开始: '21:00'\n  结束: '09:00'\n", 1, "营业时间：开始（21:00）应早于结束（09:00）"),
    (GOOD_TECH.replace("结束: '18:00'", "结束: '08:00'"), 4, "技师.李师傅.工作时间：开始（09:00）应早于结束（08:00）"),
    (GOOD_TECH.replace("[周一]", "[周一, 周八]"), 5, "技师.李师傅.休息日：无法识别的休息日「周八」，应写作 周一…周日"),
    ("缓冲时间: -10\n", 1, "缓冲时间"),
    ("提醒规则:\n  发送渠道:\n    - {类型: 命令, 命令: [true]}\n", 3, "配置项 提醒规则.发送渠道.0.命令：应为文字"),
    ("服务项目:\n  足疗: {时长: 60分钟\n技师: {}\n", 3, "配置文件 YAML 语法错误：花括号没有正确结束：第 2 行的「{」缺少对应的「}」"),
]


@pytest.mark.parametrize("config, line, message", BAD, ids=[m[:12] for _, _, m in BAD])
def test_a_wrong_value_is_an_error_on_its_line(vault, cli, config, line, message):
    root = vault({}, config=config)
    result = cli(root, "check")
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"vaultcrm.yaml:{line}: 错误："), result.stderr
    assert message in first, result.stderr
    assert "Traceback" not in result.output and "意外错误" not in result.output


@pytest.mark.parametrize("args", [
    ("book", "--customer", "张三", "--phone", "13800138000", "--service", "推拿", "--date", "2026-02-12",
     "--time", "10:00"),
    ("stats",),
    ("remind",),
    ("customer", "list"),
    ("export", "csv"),
], ids=lambda a: a[0])
def test_every_command_stops_on_a_config_error_and_writes_nothing(vault, cli, args):
    root = vault({}, config=GOOD_TECH.replace("提成比例: 0.3", "提成比例: 30"))
    before = sorted(p.relative_to(root) for p in root.rglob("*") if ".vaultcrm" not in p.parts)
    result = cli(root, *args)
    assert result.exit_code == 1
    assert "vaultcrm.yaml:6: 错误：配置项 技师.李师傅.提成比例" in result.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*") if ".vaultcrm" not in p.parts) == before


def test_several_errors_are_listed_in_line_order(vault, cli):
    config = GOOD_TECH.replace("提成比例: 0.3", "提成比例: 30").replace("[周一]", "[周八]")
    result = cli(vault({}, config="营业时间: {开始: '21:00', 结束: '09:00'}\n" + config), "check")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("vaultcrm.yaml:1: 错误：配置项 营业时间")
    assert lines[1].strip().startswith("vaultcrm.yaml:6: 错误：配置项 技师.李师傅.休息日")
    assert lines[2].strip().startswith("vaultcrm.yaml:7: 错误：配置项 技师.李师傅.提成比例")


@pytest.mark.parametrize("config, expected", [
    ("服务项木:\n  全身推拿: {时长: 60分钟}\n", "vaultcrm.yaml:1: 警告：未知的键「服务项木」，是不是「服务项目」？"),
    (GOOD_TECH.replace("    休息日", "    休假日"), "vaultcrm.yaml:5: 警告：技师.李师傅 中未知的键「休假日」，是不是「休息日」？"),
    ("提醒规则:\n  发送渠道:\n    - {类型: 命令, 命令: 'true', 超时s: 3}\n",
     "vaultcrm.yaml:3: 警告：提醒规则.发送渠道.0 中未知的键「超时s」，是不是「超时」？"),
    ("营业时间:\n  开始: '09:00'\n  结束: '21:00'\n  午休: '12:00'\n", "vaultcrm.yaml:4: 警告：营业时间 中未知的键「午休」"),
])
def test_an_unknown_key_is_a_warning_with_the_nearest_known_key(vault, cli, config, expected):
    root = vault({}, config=config)
    result = cli(root, "check")
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if line.startswith("vaultcrm.yaml:")]
    assert line.startswith(expected)
    assert line.endswith("（未知的键不起作用）")
    assert "警告 1" in result.stdout
    assert cli(root, "stats").exit_code == 0  # harmless: other commands go on


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "配置文件不是 UTF-8 编码的文本（第 1 行有无法识别的字节）"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "配置文件含有 NUL 字节，不是文本文件"),
    ("店名: 测试\n时区: Asia/Shanghai\n备注: \x07\n".encode(), "配置文件含有不可用的控制字符 U+0007"),
    ("店名: 测试馆\n".encode("utf-16"), "配置文件不是 UTF-8 编码的文本"),
    ("店名: 测试馆\n".encode("gbk"), "配置文件不是 UTF-8 编码的文本"),
], ids=["png", "elf", "bell", "utf16", "gbk"])
def test_a_binary_or_non_utf8_config_gives_a_clear_message(vault, cli, content, message):
    root = vault({})
    (root / "vaultcrm.yaml").write_bytes(content)
    result = cli(root, "check")
    assert result.exit_code == 1
    assert result.stderr.startswith("vaultcrm.yaml:")
    assert message in result.stderr
    assert "意外错误" not in result.output and "Traceback" not in result.output


def test_backup_and_restore_go_on_with_a_broken_config(vault, cli):
    root = vault({"随手记/a.md": "今天\n"}, config="店名: 测试馆\n")
    assert cli(root, "backup", "--at", "2026-02-12 10:00").exit_code == 0
    (root / "vaultcrm.yaml").write_text("技师:\n  李师傅: {提成比例: 30}\n", encoding="utf-8")
    saved = cli(root, "backup", "--at", "2026-02-13 11:00")
    assert saved.exit_code == 0 and "已备份 2 个文件" in saved.stdout
    assert "注意：vaultcrm.yaml:2: 错误：配置项 技师.李师傅.提成比例" in saved.stderr
    restored = cli(root, "restore", "vaultcrm-2026-02-12-100000.zip", "--yes", "--at", "2026-02-13 11:05")
    assert restored.exit_code == 0, restored.output
    assert (root / "vaultcrm.yaml").read_text(encoding="utf-8") == "店名: 测试馆\n"
    assert cli(root, "check").exit_code == 0


def test_the_example_vault_and_the_init_template_load_without_a_warning(tmp_path, cli):
    settings, warnings = load_settings(REPO / "example_vault")
    assert warnings == [] and settings.technicians
    root = tmp_path / "new"
    root.mkdir()
    assert cli(root, "init").exit_code == 0
    settings, warnings = load_settings(root)
    assert warnings == [] and settings.services
    result = cli(root, "check")
    assert result.exit_code == 0 and "vaultcrm.yaml" not in result.stdout
