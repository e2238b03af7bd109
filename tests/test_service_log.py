"""The dashboard's 服务日志 block: regenerated from SRV notes, the owner's text around it untouched."""

from __future__ import annotations

import datetime as dt
import os

from service_data import CONFIG, app_note, customer, raw_srv

from vaultcrm.core.loader import load_vault
from vaultcrm.services.log_table import update_service_log

TODAY = dt.date(2026, 2, 12)
HEADER = ("| 日期 | 时间 | 客户 | 服务项目 | 技师 | 服务时长 | 效果反馈 | 备注 |\n"
          "|------|------|------|----------|------|----------|----------|------|\n")

BEFORE = ("---\ntitle: 我的总览\n---\n\n# 店长的总览\n\n手写的说明，| 竖线 | 也在。\n\n## 服务日志\n\n"
          "<!-- vaultcrm:服务日志 开始 -->\n")
AFTER = ("<!-- vaultcrm:服务日志 结束 -->\n\n## 其他\n\n<!-- vaultcrm:每日统计 开始 -->\n| 项目 | 数据 |\n"
         "<!-- vaultcrm:每日统计 结束 -->\n\n- [[健康养生馆]]\n")


def _srv(srv_id: str, date: str, time: str = "14:00-14:30", **feedback) -> str:
    text = raw_srv(srv_id, date, time=time)
    for key, value in feedback.items():
        text = text.replace(f"  {key}:\n", f"  {key}: {value}\n", 1)
    return text


def test_block_replaced_and_surroundings_byte_identical(vault):
    root = vault({"服务追踪表.md": (BEFORE + "| 旧 | 行 |\n" + AFTER).encode("utf-8"),
                  "a.md": _srv("SRV-2026-001", "2026-02-10", 效果评价="良好", 后续建议="多喝水"),
                  "b.md": _srv("SRV-2026-002", "2026-02-12", "9:00-9:30", 跟进事项="问腰|背"),
                  "c.md": _srv("SRV-2026-003", "2026-02-12", "15:00-15:30").replace(
                      "满意度: 非常满意/满意/一般/不满意", "满意度: 一般")})
    assert update_service_log(load_vault(root, use_cache=False), TODAY) is True
    text = (root / "服务追踪表.md").read_bytes().decode("utf-8")
    assert text.startswith(BEFORE) and text.endswith(AFTER)
    assert text[len(BEFORE):-len(AFTER)] == HEADER + (
        "| 2026-02-12 | 15:00 | 张三 | 耳穴调理 | 张技师 | 30分钟 | 一般 | - |\n"
        "| 2026-02-12 | 09:00 | 张三 | 耳穴调理 | 张技师 | 30分钟 | - | 问腰／背 |\n"
        "| 2026-02-10 | 14:00 | 张三 | 耳穴调理 | 张技师 | 30分钟 | 良好 | 多喝水 |\n")


def test_crlf_dashboard_stays_crlf(vault):
    own = (BEFORE + AFTER).replace("\n", "\r\n").encode("utf-8")
    root = vault({"服务追踪表.md": own, "a.md": _srv("SRV-2026-001", "2026-02-10")})
    update_service_log(load_vault(root, use_cache=False), TODAY)
    raw = (root / "服务追踪表.md").read_bytes()
    row = "| 2026-02-10 | 14:00 | 张三 | 耳穴调理 | 张技师 | 30分钟 | - | - |\r\n"
    assert raw == own.replace(AFTER.replace("\n", "\r\n").encode("utf-8"),
                              (HEADER.replace("\n", "\r\n") + row + AFTER.replace("\n", "\r\n")).encode("utf-8"))


def test_only_the_last_thirty_days_and_nothing_from_the_future(vault):
    root = vault({"服务追踪表.md": BEFORE + AFTER, "old.md": _srv("SRV-2026-001", "2026-01-13"),
                  "edge.md": _srv("SRV-2026-002", "2026-01-14"), "future.md": _srv("SRV-2026-003", "2026-02-13")})
    update_service_log(load_vault(root, use_cache=False), TODAY)
    block = (root / "服务追踪表.md").read_text(encoding="utf-8")[len(BEFORE):-len(AFTER)]
    assert block == HEADER + "| 2026-01-14 | 14:00 | 张三 | 耳穴调理 | 张技师 | 30分钟 | - | - |\n"


def test_unchanged_table_is_not_rewritten(vault):
    root = vault({"服务追踪表.md": BEFORE + AFTER, "a.md": _srv("SRV-2026-001", "2026-02-10")})
    loaded = load_vault(root, use_cache=False)
    assert update_service_log(loaded, TODAY) is True
    os.utime(root / "服务追踪表.md", ns=(1_000_000_000, 1_000_000_000))
    assert update_service_log(loaded, TODAY) is False
    assert (root / "服务追踪表.md").stat().st_mtime_ns == 1_000_000_000


def test_missing_dashboard_is_created_from_its_template(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": app_note()}, config=CONFIG)
    result = cli(root, "log", "APP-2026-001", "--effect", "很好", "--advice", "每周一次", "--at", "2026-02-12 15:05")
    assert result.exit_code == 0, result.output
    assert "服务日志已更新" in result.stdout
    text = (root / "服务追踪表.md").read_text(encoding="utf-8")
    assert "# 服务追踪表" in text and "<!-- vaultcrm:月度统计 开始 -->" in text
    assert ("<!-- vaultcrm:服务日志 开始 -->\n" + HEADER +
            "| 2026-02-12 | 14:00 | 张三 | 全身推拿 | 李师傅 | 60分钟 | 很好 | 每周一次 |\n"
            "<!-- vaultcrm:服务日志 结束 -->") in text


def test_dashboard_without_markers_gets_the_block_appended(vault):
    own = "# 我的笔记\n\n不要动我。\n"
    root = vault({"服务追踪表.md": own, "a.md": _srv("SRV-2026-001", "2026-02-10")})
    update_service_log(load_vault(root, use_cache=False), TODAY)
    text = (root / "服务追踪表.md").read_text(encoding="utf-8")
    assert text.startswith(own)
    assert text.endswith("| 2026-02-10 | 14:00 | 张三 | 耳穴调理 | 张技师 | 30分钟 | - | - |\n"
                         "<!-- vaultcrm:服务日志 结束 -->\n")


def test_dashboard_folder_from_config(vault):
    root = vault({"a.md": _srv("SRV-2026-001", "2026-02-10")}, config="目录:\n  总览: 总览/看板.md\n服务日志天数: 7\n")
    assert update_service_log(load_vault(root, use_cache=False), TODAY) is True
    assert "| 2026-02-10 |" in (root / "总览/看板.md").read_text(encoding="utf-8")
