"""A small studio (config and note builders) shared by the booking, status and reschedule tests.

2026-02-12 is a Thursday; 李师傅 is off on Mondays (2026-02-16), 王师傅 on Tuesdays, 张技师 on Wednesdays.
"""

from __future__ import annotations

CONFIG = """
营业时间: {开始: '09:00', 结束: '21:00'}
缓冲时间: 10分钟
爽约上限: 3
操作人: 前台
服务项目:
  全身推拿: {时长: 60分钟, 价格: ¥198, 技能: 推拿, 禁忌: [骨折未愈], 材料: [按摩油]}
  艾灸调理: {时长: 45分钟, 价格: ¥168, 技能: 艾灸, 禁忌: [孕期, 发热], 材料: [艾草, 艾条]}
  拔罐: {时长: 30分钟, 价格: ¥88, 技能: 拔罐, 禁忌: [孕期, 凝血障碍], 材料: [火罐]}
技师:
  李师傅: {技能: [推拿, 艾灸, 拔罐], 工作时间: {开始: '09:00', 结束: '18:00'}, 休息日: [周一]}
  王师傅: {技能: [推拿], 工作时间: {开始: '12:00', 结束: '21:00'}, 休息日: [星期二]}
  张技师: {技能: [艾灸], 休息日: [Wednesday]}
房间: [房间A, 房间B]
会员:  # list prices, no tier discount: these tests are about booking
  等级:
    普通: {门槛: 0, 折扣: 10}
"""


def app_note(app_id: str, *, customer: str = "张三", customer_id: str = "C-0001", date: str = "2026-02-12",
             time: str = "14:00", service: str = "全身推拿", minutes: int = 60, technician: str = "李师傅",
             room: str = "", status: str = "待服务") -> str:
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
  服务时长: {minutes}分钟
  预计费用: ¥198
  技师安排: {technician}
  服务地点: {room}
预约状态:
  创建时间: '2026-02-01 10:00'
  创建人: 前台
  当前状态: {status}
  状态更新:
---
"""


def customer_note(cid: str, name: str, phone: str = "", *, allergies: str = "", contraindications: str = "",
                  preferred: str = "") -> str:
    return f"""---
客户编号: {cid}
客户姓名: {name}
联系方式: '{phone}'
会员等级: 普通
健康档案:
  过敏史: {allergies}
  禁忌事项: {contraindications}
服务偏好:
  偏好技师: {preferred}
---
"""


def service_note(srv_id: str, *, customer_id: str = "C-0001", date: str = "2026-01-20", before: str = "",
                 after: str = "", adjustments: str = "", advice: str = "") -> str:
    return f"""---
服务编号: {srv_id}
服务基本信息:
  服务日期: {date}
  服务时间: 14:00-15:00
  服务时长: 60分钟
客户信息:
  客户姓名: 张三
  客户编号: {customer_id}
服务信息:
  服务项目: 全身推拿
  服务技师: 李师傅
服务详情:
  服务前评估:
    注意事项: {before}
  服务过程:
    调整内容: {adjustments}
  服务后评估:
    注意事项: {after}
后续安排:
  后续建议: {advice}
---
"""
