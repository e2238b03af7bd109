"""Notes as a studio writes them, for the log, follow-up and service-log tests.

`raw_srv` and `raw_flw` follow the seed template as a user fills it in Obsidian: bare `14:00-14:30`,
unquoted phones, placeholders left in place, no vaultcrm keys.
"""

from __future__ import annotations

import datetime as dt

CONFIG = """
操作人: 前台
服务项目:
  全身推拿: {时长: 60分钟, 价格: ¥198}
  耳穴调理: {时长: 30分钟, 价格: ¥98}
  足疗: {时长: 60分钟, 价格: ¥128}
技师:
  李师傅: {技能: [推拿]}
  张技师: {技能: [耳穴, 足疗]}
房间: [房间A, 房间B]
"""


def customer(cid: str = "C-0001", name: str = "张三", phone: str = "13800138000", packages: str = "") -> str:
    return f"""---
客户编号: {cid}
客户姓名: {name}
联系方式: '{phone}'
套餐:{packages}
---
"""


def raw_srv(srv_id: str, date: str | dt.date, *, name: str = "张三", phone: str = "13800138000",
            service: str = "耳穴调理", time: str = "14:00-14:30", satisfaction: str = "非常满意/满意/一般/不满意",
            extra_feedback: str = "", customer_id: str = "") -> str:
    return f"""---
服务编号: {srv_id}
服务基本信息:
  服务日期: {date}
  服务时间: {time}
  服务时长: 30分钟
  服务地点: 房间A

客户信息:
  客户姓名: {name}
  客户编号: {customer_id}
  联系方式: {phone}

服务信息:
  服务项目: {service}
  服务技师: 张技师
  服务费用: ¥

服务详情:
  服务前评估:
    客户状态:
    健康关注:
    注意事项:

  服务过程:
    主要操作:
    客户反应:
    调整内容:

  服务后评估:
    即时效果:
    客户感受:
    注意事项:

客户反馈:
  效果评价:
  满意度: {satisfaction}
  建议意见:{extra_feedback}

后续安排:
  下次预约:
  后续建议:
  跟进事项:
---
"""


def raw_flw(flw_id: str, date: str, *, service_id: str = "SRV-2026-001", name: str = "张三", kind: str = "") -> str:
    kind_line = f"\n  跟进类型: {kind}" if kind else ""
    return f"""---
跟进编号: {flw_id}
跟进基本信息:
  跟进日期: {date}
  跟进方式: 电话/微信/到店
  跟进人:
  服务编号: {service_id}{kind_line}

客户信息:
  客户姓名: {name}
  客户编号:
  联系方式:

跟进内容:
  跟进目的:
    服务效果确认
    客户感受了解
    后续服务建议

  跟进记录:
    客户反馈:
    效果评估:
    客户满意度:

  跟进结果:
    客户意向:
    下次预约:
    需要跟进:

后续计划:
  跟进事项:
  跟进时间:
  负责人:
---
"""


def app_note(app_id: str = "APP-2026-001", *, status: str = "服务中", date: str = "2026-02-12",
             time: str = "14:00") -> str:
    return f"""---
预约编号: {app_id}
预约信息:
  客户姓名: 张三
  客户编号: C-0001
  客户档案: "[[C-0001 张三]]"
  联系方式: '13800138000'
  预约日期: {date}
  预约时间: '{time}'
  预约渠道: 电话

服务信息:
  服务项目: 全身推拿
  服务时长: 60分钟
  预计费用: ¥198
  技师安排: 李师傅
  服务地点: 房间A

特殊要求:
  偏好技师:
  力度要求: 中
  其他需求:

预约状态:
  创建时间: '2026-02-11 10:00'
  创建人: 前台
  当前状态: {status}
  状态更新:
    - '2026-02-12 14:00 已确认 → 服务中（前台）'
---
"""
