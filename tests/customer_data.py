"""A studio's customers and their history, for the customer, membership and import tests.

Today is 2026-06-30 in these tests (`--at`). 张三 (C-0001) comes often, has an allergy, a package, a
no-show and an open follow-up; 李四 (C-0002) has not been back since February; two 王芳 share a name.
"""

from __future__ import annotations

AT = ("--at", "2026-06-30")

CONFIG = """
服务项目:
  全身推拿: {时长: 60分钟, 价格: ¥198, 技能: 推拿}
  足疗: {时长: 60分钟, 价格: ¥128, 技能: 推拿}
技师:
  李师傅: {技能: [推拿], 工作时间: {开始: '09:00', 结束: '21:00'}}
房间: [房间A]
"""

ZHANG = """---
客户编号: C-0001
客户姓名: 张三
联系方式: '13800138000'
性别: 女
生日: 1990-05-01
首次到店:
来源渠道: 微信
会员等级: 普通   # 开卡时定的

健康档案:
  过敏史:
    - 艾草
  禁忌事项:
  健康关注: 腰椎间盘突出

服务偏好:
  偏好技师: 李师傅
  力度要求: 中

标签:
  - 老客户
  - 流失预警
推荐人:
会员卡号: VIP-0088

授权同意:
  健康数据: true
  营销:
  同意日期: 2026-01-01

积分:
套餐:
  - 名称: 推拿10次卡
    服务项目: 全身推拿
    总次数: 10
    剩余次数: 4
    总金额: ¥1680
    余额:
    开始日期: 2026-01-01
    结束日期: 2026-12-31
---

# C-0001 张三

## 备注

喜欢安静，不要聊天。
"""


def profile(cid: str, name: str, phone: str, *, tier: str = "普通", tags: str = "", extra: str = "") -> str:
    return f"""---
客户编号: {cid}
客户姓名: {name}
联系方式: '{phone}'
会员等级: {tier}
标签:{tags}
{extra}---

# {cid} {name}
"""


def srv(srv_id: str, date: str, *, cid: str = "C-0001", name: str = "张三", fee: str = "¥198",
        service: str = "全身推拿", adjustments: str = "", advice: str = "") -> str:
    return f"""---
服务编号: {srv_id}
服务基本信息:
  服务日期: {date}
  服务时间: '14:00-15:00'
  服务时长: 60分钟
客户信息:
  客户姓名: {name}
  客户编号: {cid}
服务信息:
  服务项目: {service}
  服务技师: 李师傅
  服务费用: {fee}
服务详情:
  服务过程:
    调整内容: {adjustments}
客户反馈:
  满意度: 满意
后续安排:
  后续建议: {advice}
---
"""


def app(app_id: str, date: str, status: str, *, cid: str = "C-0001", name: str = "张三") -> str:
    return f"""---
预约编号: {app_id}
预约信息:
  客户姓名: {name}
  客户编号: {cid}
  预约日期: {date}
  预约时间: '10:00'
服务信息:
  服务项目: 全身推拿
预约状态:
  当前状态: {status}
---
"""


def flw(flw_id: str, due: str, status: str, *, cid: str = "C-0001") -> str:
    return f"""---
跟进编号: {flw_id}
跟进基本信息:
  跟进类型: 长期客户定期回访
  计划日期: {due}
  跟进状态: {status}
客户信息:
  客户姓名: 张三
  客户编号: {cid}
---
"""


def studio_files() -> dict[str, str]:
    return {
        "客户/C-0001 张三.md": ZHANG,
        "客户/C-0002 李四.md": profile("C-0002", "李四", "13900139000", tier="金卡"),
        "客户/C-0003 王芳.md": profile("C-0003", "王芳", "13700137001"),
        "客户/C-0004 王芳.md": profile("C-0004", "王芳", "13700137002"),
        "服务记录/SRV-2026-001.md": srv("SRV-2026-001", "2026-04-10", fee="¥1200"),
        "服务记录/SRV-2026-002.md": srv("SRV-2026-002", "2026-05-15", fee="¥1000", adjustments="加强肩颈"),
        "服务记录/SRV-2026-003.md": srv("SRV-2026-003", "2026-06-01", advice="多喝热水"),
        "服务记录/SRV-2026-004.md": srv("SRV-2026-004", "2026-06-20", fee="¥128", service="足疗",
                                     adjustments="水温调低"),
        "服务记录/SRV-2026-005.md": srv("SRV-2026-005", "2026-02-01", cid="C-0002", name="李四", fee="¥300"),
        "预约/APP-2026-001.md": app("APP-2026-001", "2026-05-01", "未到店"),
        "预约/APP-2026-002.md": app("APP-2026-002", "2026-07-03", "已确认"),
        "跟进/FLW-2026-001.md": flw("FLW-2026-001", "2026-07-05", "待跟进"),
        "跟进/FLW-2026-002.md": flw("FLW-2026-002", "2026-05-05", "已完成"),
    }
