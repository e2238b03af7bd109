"""A studio for the campaign tests: five customers, four of them not seen since the winter (流失预警).

Today is 2026-06-30. 张三 and 钱七 said yes to marketing, 李四 said no, 王五 never answered, 赵六 (yes)
came last week so is no 流失预警. Every customer's phone ends in their number (1380000000N).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

AT = "2026-06-30 10:00"

SMS_SCRIPT = '''
import json, os, sys
message = sys.stdin.read()
record = {k: os.environ.get("VAULTCRM_" + k.upper()) for k in ("phone", "coupon", "campaign", "reminder_id")}
record["message"] = message
with open(sys.argv[1], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(record, ensure_ascii=False) + "\\n")
kill_on = os.environ.get("SMS_KILL_PARENT_ON")
if kill_on and record["phone"] == kill_on:
    import signal
    os.kill(int(os.environ["SMS_PARENT"]) if "SMS_PARENT" in os.environ else os.getppid(), signal.SIGKILL)
'''


def profile(cid: str, name: str, consent: str = "", *, tags: str = "[]", birthday: str = "") -> str:
    return f"""---
客户编号: {cid}
客户姓名: {name}
联系方式: '1380000000{cid[-1]}'
生日: {birthday}
会员等级:
标签: {tags}
授权同意:
  健康数据:
  营销: {consent}
  同意日期:
---

# {cid} {name}

## 备注
"""


def service(sid: str, day: str, name: str, cid: str, fee: str = "¥198") -> str:
    return f"""---
服务编号: {sid}
服务基本信息:
  服务日期: {day}
客户信息:
  客户姓名: {name}
  客户编号: {cid}
服务信息:
  服务项目: 全身推拿
  服务费用: {fee}
---
"""


def studio() -> dict[str, str]:
    return {
        "客户/C-0001 张三.md": profile("C-0001", "张三", "是"),
        "客户/C-0002 李四.md": profile("C-0002", "李四", "否"),
        "客户/C-0003 王五.md": profile("C-0003", "王五"),
        "客户/C-0004 赵六.md": profile("C-0004", "赵六", "是"),
        "客户/C-0005 钱七.md": profile("C-0005", "钱七", "是", tags="[VIP]"),
        "服务记录/SRV-2026-001.md": service("SRV-2026-001", "2026-02-10", "张三", "C-0001"),
        "服务记录/SRV-2026-002.md": service("SRV-2026-002", "2026-01-05", "李四", "C-0002"),
        "服务记录/SRV-2026-003.md": service("SRV-2026-003", "2026-02-20", "王五", "C-0003"),
        "服务记录/SRV-2026-004.md": service("SRV-2026-004", "2026-06-20", "赵六", "C-0004"),
        "服务记录/SRV-2026-005.md": service("SRV-2026-005", "2026-03-01", "钱七", "C-0005"),
    }


def config(channels: str = "", extra: str = "") -> str:
    text = textwrap.dedent("""
        店名: 静心养生馆
        操作人: 前台小林
        服务项目:
          全身推拿: {时长: 60分钟, 价格: ¥200}
        技师:
          李师傅: {技能: [推拿]}
        房间: [房间A]
        会员:
          等级:
            普通: {门槛: 0, 折扣: 10}
        """).lstrip("\n")
    if channels:
        text += "提醒规则:\n  发送渠道:\n" + textwrap.indent(textwrap.dedent(channels).strip("\n"), "    ") + "\n"
    return text + textwrap.dedent(extra)


def sms_channel(tmp: Path, name: str = "短信") -> str:
    """A command channel (an SMS gateway stand-in) appending each message as a JSON line to tmp/sms.jsonl."""
    script = tmp / "sms.py"
    script.write_text(SMS_SCRIPT, encoding="utf-8")
    return f"- {{类型: 命令, 名称: {name}, 命令: ['{sys.executable}', '{script}', '{tmp / 'sms.jsonl'}']}}\n"


def webhook_channel(url: str, name: str = "短信平台") -> str:
    return f"- {{类型: webhook, 名称: {name}, 地址: '{url}/sms', 超时: 5}}\n"


def roster(root: Path, relpath: str = "活动/CMP-2026-001.md") -> dict[str, dict[str, str]]:
    """The 活动名单 rows of a campaign note, by 客户编号."""
    from vaultcrm.campaigns.roster import COLUMNS

    text = (root / relpath).read_text(encoding="utf-8")
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and line[2:3].isalnum() and not line.startswith("| 优惠券")]
    return {r[1]: dict(zip(COLUMNS, r)) for r in rows}
