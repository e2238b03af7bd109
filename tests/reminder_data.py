"""A small studio for the reminder tests: config, notes, and helpers to read a day note back.

张三 (C-0001, allergic to 花粉, 禁忌 孕期) has APP-2026-001 on 2026-02-12 14:00 with 李师傅 in 房间A;
his last service (SRV-2026-001) left notes for the technician. Business hours are 09:00–21:00.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

CONFIG = """
店名: 静心养生馆
营业时间: {开始: '09:00', 结束: '21:00'}
服务项目:
  耳穴调理: {时长: 30分钟, 价格: ¥98, 禁忌: [孕期], 材料: [王不留行籽, 耳穴贴]}
  全身推拿: {时长: 60分钟, 价格: ¥198, 材料: [按摩油]}
房间: [房间A, 房间B]
"""


def config(channels: str = "") -> str:
    """The studio's config, with `channels` (YAML list items, unindented) under 提醒规则.发送渠道."""
    text = textwrap.dedent(CONFIG).lstrip("\n")
    if channels:
        text += "提醒规则:\n  发送渠道:\n" + textwrap.indent(textwrap.dedent(channels).strip("\n"), "    ") + "\n"
    return text


def app_note(app_id: str = "APP-2026-001", *, customer: str = "张三", customer_id: str = "C-0001",
             date: str = "2026-02-12", time: str = "14:00", service: str = "耳穴调理", technician: str = "李师傅",
             room: str = "房间A", status: str = "待服务", created: str = "2026-02-01 10:00") -> str:
    return f"""---
预约编号: {app_id}
预约信息:
  客户姓名: {customer}
  客户编号: {customer_id}
  联系方式: '13800138000'
  预约日期: {date}
  预约时间: '{time}'
  预约渠道: 电话
服务信息:
  服务项目: {service}
  技师安排: {technician}
  服务地点: {room}
特殊要求:
  力度要求: 轻
预约状态:
  创建时间: '{created}'
  当前状态: {status}
---
"""


def customer_note(cid: str = "C-0001", name: str = "张三", *, birthday: str = "", packages: str = "") -> str:
    return f"""---
客户编号: {cid}
客户姓名: {name}
联系方式: '13800138000'
生日: {birthday}
健康档案:
  过敏史: [花粉]
  禁忌事项: [孕期]
  健康关注: 腰肌劳损
授权同意:
  营销: 是
套餐:{packages}
---
"""


LAST_SERVICE = """---
服务编号: SRV-2026-001
服务基本信息:
  服务日期: 2026-02-01
  服务时间: 10:00-10:30
  服务时长: 30分钟
  服务地点: 房间A
客户信息:
  客户姓名: 张三
  客户编号: C-0001
服务信息:
  服务项目: 耳穴调理
  服务技师: 李师傅
服务详情:
  服务前评估:
    注意事项: 左耳有小伤口
  服务过程:
    调整内容: 力度减轻
  服务后评估:
    注意事项: 多喝温水
后续安排:
  后续建议: 两周后复诊
---
"""


def followup_note(fid: str = "FLW-2026-001", *, due: str = "2026-02-14", status: str = "待跟进") -> str:
    return f"""---
跟进编号: {fid}
跟进基本信息:
  服务编号: SRV-2026-001
  跟进类型: 新客户首次回访
  计划日期: {due}
  跟进状态: {status}
客户信息:
  客户姓名: 张三
  客户编号: C-0001
  联系方式: '13800138000'
后续计划:
  负责人: 前台小林
---
"""


def studio_files(**customer) -> dict[str, str]:
    return {"预约/APP-2026-001.md": app_note(), "客户/C-0001 张三.md": customer_note(**customer),
            "服务记录/SRV-2026-001.md": LAST_SERVICE}


def day_state(root: Path, day: str) -> dict:
    """The `提醒状态表` of a day note, as YAML reads it."""
    text = (root / "提醒" / f"{day}.md").read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n")[1])["提醒状态表"] or {}


def rows(root: Path, day: str) -> list[list[str]]:
    """The 提醒记录 table rows of a day note, as cells."""
    text = (root / "提醒" / f"{day}.md").read_text(encoding="utf-8")
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| R-")]


def edit_note(root: Path, relpath: str, old: str, new: str) -> None:
    """Edit a note by hand, as a user would in Obsidian."""
    path = root / relpath
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relpath}"
    path.write_text(text.replace(old, new), encoding="utf-8")
