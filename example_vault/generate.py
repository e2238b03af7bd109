"""Generate example_vault/: a believable studio over three months, deterministically.

Run `python example_vault/generate.py` to rebuild it; the same seed always gives the same notes.
Appointments are scheduled the way the front desk would: inside business hours and each technician's
working hours, never on their day off, with the buffer between a technician's appointments and no
double-booked room. Past appointments ended completed (with a service record), cancelled or as
no-shows; future ones are pending or confirmed. Walk-ins have a service record and no appointment.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import sys
from decimal import Decimal
from pathlib import Path

from vaultcrm.core.config import load_settings
from vaultcrm.core.render import render
from vaultcrm.core.store import file_name, folder_of, render_record
from vaultcrm.models import Appointment, Customer, FollowUp, ServiceRecord
from vaultcrm.models.customer import Package
from vaultcrm.values import AppointmentStatus as S
from vaultcrm.values import Channel, FollowUpStatus, Satisfaction, Strength

HERE = Path(__file__).resolve().parent
SEED = 20261123
FIRST_DAY = dt.date(2026, 8, 24)
NOW = dt.datetime(2026, 11, 23, 15, 0)  # the example's "now": appointments after it are still ahead
TODAY = NOW.date()
LAST_DAY = dt.date(2026, 12, 6)
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "霞",
         "平", "刚", "桂英", "建华", "文", "华", "玉兰", "红", "晓燕", "婷", "雪", "欣怡", "子涵", "浩然", "思远", "雨桐"]
ALLERGIES = [["艾草"], ["精油"], ["花粉"], ["按摩油"], ["刮痧油"], ["海鲜"]]
CONTRAS = [["孕期"], ["高血压"], ["皮肤破损"], ["骨折未愈"], ["糖尿病"], ["凝血障碍"]]
CONCERNS = ["颈椎不适", "腰肌劳损", "失眠多梦", "肩周炎", "手脚冰凉", "久坐腰酸", "偏头痛", None, None, None]
SOURCES = ["朋友推荐", "美团", "大众点评", "小红书", "路过进店", "老客户推荐"]
EFFECTS = ["良好", "明显放松", "肩颈轻松很多", "睡眠改善", "效果一般", "酸痛缓解"]
ADVICE = ["一周后复诊", "注意保暖，少吹空调", "多喝温水", "避免久坐，每小时起身活动", "两周内避免剧烈运动", None]
CAUTIONS = ["左肩旧伤，力度放轻", "腰部敏感", "怕痒，避开足心", "血压偏高，避免头部重压", None, None, None]
ADJUST = ["力度由重调为中", "延长肩颈部分10分钟", "改用无香型按摩油", None, None]
STAFF = ["前台小林", "前台小周", "店长"]


def build(out: Path) -> dict[str, int]:
    rng = random.Random(SEED)
    if out.exists():
        for child in out.iterdir():
            if child.name in {"generate.py", "demo.py"}:
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / ".obsidian").mkdir()
    (out / ".obsidian" / "app.json").write_text("{}\n", encoding="utf-8")
    (out / "vaultcrm.yaml").write_text(render("vaultcrm.yaml.j2", studio="静心健康养生馆"), encoding="utf-8")
    settings, _ = load_settings(out)
    services = settings.services
    techs = settings.technicians
    rooms = [r for r in settings.rooms if r != "足疗区"]

    def write(record) -> None:
        folder = folder_of(settings, record.kind)
        relpath = f"{folder}/{file_name(record)}"
        path = out / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_record(settings, out, record.model_copy(update={"path": relpath})), encoding="utf-8")

    # Customers ------------------------------------------------------------------------------------
    customers: list[Customer] = []
    used_names: set[str] = set()
    for n in range(1, 91):
        while True:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            if name not in used_names:
                used_names.add(name)
                break
        allergies = rng.choice(ALLERGIES) if rng.random() < 0.15 else []
        contras = rng.choice(CONTRAS) if rng.random() < 0.12 else []
        concerns = rng.choice(CONCERNS)
        has_health = bool(allergies or contras or concerns)
        first = FIRST_DAY + dt.timedelta(days=rng.randrange(0, 80))
        customers.append(Customer.model_validate({
            "客户编号": f"C-{n:04d}", "客户姓名": name, "联系方式": f"1{rng.choice('3589')}{rng.randrange(10**8, 10**9)}",
            "性别": rng.choice(["女", "女", "女", "男"]),
            "生日": dt.date(rng.randrange(1960, 2003), rng.randrange(1, 13), rng.randrange(1, 29)),
            "首次到店": first, "来源渠道": rng.choice(SOURCES), "会员等级": rng.choice(["普通"] * 6 + ["银卡", "银卡", "金卡", "钻石"]),
            "健康档案": {"过敏史": allergies, "禁忌事项": contras, "健康关注": concerns},
            "服务偏好": {"偏好技师": rng.choice([None, None, *techs]), "力度要求": rng.choice(list(Strength))},
            "标签": [], "推荐人": None,
            "授权同意": {"健康数据": True if has_health else rng.random() < 0.5, "营销": rng.random() < 0.6,
                      "同意日期": first},
        }))
    # A few prepaid packages
    for c in rng.sample(customers, 6):
        package = Package.model_validate({
            "名称": "肩颈理疗10次卡", "服务项目": "全身推拿", "总次数": 10, "剩余次数": rng.randrange(2, 9),
            "总金额": Decimal(1680), "开始日期": c.first_visit, "结束日期": c.first_visit + dt.timedelta(days=180)})
        customers[customers.index(c)] = c.model_copy(update={"packages": [package]})
    by_id = {c.id: c for c in customers}

    # Schedule -------------------------------------------------------------------------------------
    appointments: list[Appointment] = []
    services_done: list[tuple[dt.date, dt.time, Customer, str, str, str, int, Decimal, Appointment | None]] = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        weekday = WEEKDAYS[day.weekday()]
        busy_room: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {r: [] for r in settings.rooms}
        for tech_name, tech in techs.items():
            if weekday in tech.days_off:
                continue
            clock = dt.datetime.combine(day, tech.hours.start) + dt.timedelta(minutes=rng.choice([0, 30, 60]))
            closing = dt.datetime.combine(day, tech.hours.end)
            while True:
                clock += dt.timedelta(minutes=rng.choice([10, 20, 30, 60, 90]))
                service_name = rng.choice([s for s, conf in services.items() if conf.skill in tech.skills and not conf.package])
                conf = services[service_name]
                end = clock + dt.timedelta(minutes=conf.duration)
                if end > closing:
                    break
                pool = ["足疗区"] if service_name == "足疗" else rooms
                room = next((r for r in pool if all(end <= s or clock >= e for s, e in busy_room[r])), None)
                if room is None:
                    clock = end
                    continue
                if rng.random() < 0.55:  # an empty slot
                    clock = end
                    continue
                busy_room[room].append((clock, end))
                customer = _pick_customer(rng, customers, day, service_name, services)
                if customer is None:
                    clock = end
                    continue
                walk_in = end <= NOW and rng.random() < 0.1
                if walk_in:
                    services_done.append((day, clock.time(), customer, service_name, tech_name, room, conf.duration,
                                          conf.price, None))
                else:
                    appointments.append(_appointment(rng, customer, day, clock, service_name, conf, tech_name, room))
                clock = end + dt.timedelta(minutes=settings.buffer_minutes)
        day += dt.timedelta(days=1)

    appointments.sort(key=lambda a: (a.state.created_at, a.info.date, a.info.time))
    final: list[Appointment] = []
    for n, app in enumerate(appointments, 1):
        app = app.model_copy(update={"id": f"APP-2026-{n:03d}"})
        final.append(app)
        if app.status is S.COMPLETED or app.status is S.IN_PROGRESS:
            c = by_id[app.info.customer_id]
            if app.status is S.COMPLETED:
                services_done.append((app.info.date, app.info.time, c, app.service.service, app.service.technician,
                                      app.service.room, app.service.duration, app.service.price, app))
    services_done.sort(key=lambda s: (s[0], s[1]))
    srvs: list[ServiceRecord] = []
    seen_customers: set[str] = set()
    followups: list[FollowUp] = []
    for n, (day, start, c, service_name, tech, room, minutes, price, app) in enumerate(services_done, 1):
        end = (dt.datetime.combine(day, start) + dt.timedelta(minutes=minutes)).time()
        satisfaction = rng.choices(list(Satisfaction), weights=[45, 40, 11, 4])[0]
        stars = {Satisfaction.VERY_SATISFIED: 5, Satisfaction.SATISFIED: 4, Satisfaction.NEUTRAL: 3,
                 Satisfaction.DISSATISFIED: 2}[satisfaction]
        srv = ServiceRecord.model_validate({
            "服务编号": f"SRV-2026-{n:03d}",
            "服务基本信息": {"服务日期": day, "服务时间": f"{start:%H:%M}-{end:%H:%M}", "服务时长": minutes, "服务地点": room,
                       "预约编号": app.id if app else None},
            "客户信息": {"客户姓名": c.name, "客户编号": c.id, "客户档案": f"[[{c.id} {c.name}]]", "联系方式": c.phone},
            "服务信息": {"服务项目": service_name, "服务技师": tech, "服务费用": price},
            "服务详情": {"服务前评估": {"客户状态": rng.choice(["精神尚可", "疲劳", "肩颈僵硬", "睡眠不足"]),
                                   "健康关注": c.health.concerns, "注意事项": rng.choice(CAUTIONS)},
                     "服务过程": {"主要操作": f"{service_name}标准流程", "客户反应": rng.choice(["放松", "有酸胀感", "睡着了"]),
                              "调整内容": rng.choice(ADJUST)},
                     "服务后评估": {"即时效果": rng.choice(EFFECTS), "客户感受": rng.choice(["舒服", "轻松", "还不错"]),
                               "注意事项": rng.choice(CAUTIONS)}},
            "客户反馈": {"效果评价": rng.choice(EFFECTS), "满意度": satisfaction, "星级评分": stars,
                     "建议意见": rng.choice([None, None, "希望周末多排技师", "音乐可以再轻一点"])},
            "后续安排": {"下次预约": None, "后续建议": rng.choice(ADVICE), "跟进事项": None},
        })
        srvs.append(srv)
        if c.id not in seen_customers:
            seen_customers.add(c.id)
            followups.append(_followup(rng, "新客户首次回访", srv, c, day + dt.timedelta(days=3)))
        if satisfaction is Satisfaction.DISSATISFIED:
            followups.append(_followup(rng, "问题客户专项回访", srv, c, day + dt.timedelta(days=1)))
    followups.sort(key=lambda f: (f.basics.due, f.customer.customer_id))
    followups = [f.model_copy(update={"id": f"FLW-2026-{n:03d}"}) for n, f in enumerate(followups, 1)]

    for record in (*customers, *final, *srvs, *followups):
        write(record)
    _hand_edited_notes(out, next_app=len(final) + 1)
    (out / "服务追踪表.md").write_text(render("dashboard.md.j2", today="2026-08-24"), encoding="utf-8")
    return {"customers": len(customers), "appointments": len(final), "services": len(srvs),
            "followups": len(followups)}


def _pick_customer(rng, customers, day, service_name, services):
    """A customer who has already been in by this day and has no contraindication for the service."""
    conf = services[service_name]
    blocked = set(conf.contraindications) | set(conf.materials)
    eligible = [c for c in customers if c.first_visit <= day + dt.timedelta(days=3)
                and not (blocked & (set(c.health.allergies) | set(c.health.contraindications)))]
    if not eligible:
        return None
    regulars = eligible[: max(1, len(eligible) // 5)]
    return rng.choice(regulars) if rng.random() < 0.4 else rng.choice(eligible)


def _appointment(rng, c: Customer, day, start: dt.datetime, service_name, conf, tech, room) -> Appointment:
    lead_days = rng.choice([0, 1, 1, 2, 3, 5, 7])
    created = dt.datetime.combine(day - dt.timedelta(days=lead_days), dt.time(rng.randrange(9, 20), rng.choice([0, 15, 30, 45])))
    created = min(created, start - dt.timedelta(minutes=rng.choice([30, 45, 90])))
    staff = rng.choice(STAFF)
    end = start + dt.timedelta(minutes=conf.duration)
    if end <= NOW:
        status = rng.choices([S.COMPLETED, S.CANCELLED, S.NO_SHOW], weights=[86, 9, 5])[0]
    elif start <= NOW:
        status = S.IN_PROGRESS
    else:
        status = rng.choice([S.PENDING, S.PENDING, S.CONFIRMED])
    history = []
    when = min(created + dt.timedelta(hours=2), start - dt.timedelta(minutes=15))
    if status in (S.CONFIRMED, S.IN_PROGRESS, S.COMPLETED):
        history.append(f"{when:%Y-%m-%d %H:%M} 待服务 → 已确认（{staff}）")
    if status in (S.IN_PROGRESS, S.COMPLETED):
        history.append(f"{start:%Y-%m-%d %H:%M} 已确认 → 服务中（{staff}）")
    if status is S.COMPLETED:
        history.append(f"{end:%Y-%m-%d %H:%M} 服务中 → 已完成（{staff}）")
    if status is S.CANCELLED:
        history.append(f"{start - dt.timedelta(hours=rng.randrange(3, 30)):%Y-%m-%d %H:%M} 待服务 → 已取消（{staff}）")
    if status is S.NO_SHOW:
        history.append(f"{start + dt.timedelta(minutes=30):%Y-%m-%d %H:%M} 待服务 → 未到店（{staff}）")
    return Appointment.model_validate({
        "预约编号": "APP-2026-000",
        "预约信息": {"客户姓名": c.name, "客户编号": c.id, "客户档案": f"[[{c.id} {c.name}]]", "联系方式": c.phone,
                 "预约日期": day, "预约时间": start.time(), "预约渠道": rng.choices(list(Channel), weights=[35, 40, 10, 15])[0]},
        "服务信息": {"服务项目": service_name, "服务时长": conf.duration, "预计费用": conf.price, "技师安排": tech, "服务地点": room},
        "特殊要求": {"偏好技师": c.preferences.technician, "力度要求": c.preferences.strength,
                 "其他需求": rng.choice([None, None, None, "需要安静的房间", "怕冷，空调调高"])},
        "预约状态": {"创建时间": created, "创建人": staff, "当前状态": status, "状态更新": history},
    })


def _followup(rng, kind: str, srv: ServiceRecord, c: Customer, due: dt.date) -> FollowUp:
    done = due < TODAY and rng.random() < 0.85
    return FollowUp.model_validate({
        "跟进编号": "FLW-2026-000",
        "跟进基本信息": {"跟进日期": due if done else None, "跟进方式": rng.choice([Channel.PHONE, Channel.WECHAT]),
                   "跟进人": rng.choice(STAFF) if done else None, "服务编号": srv.id, "跟进类型": kind, "计划日期": due,
                   "跟进状态": FollowUpStatus.DONE if done else FollowUpStatus.PLANNED},
        "客户信息": {"客户姓名": c.name, "客户编号": c.id, "客户档案": f"[[{c.id} {c.name}]]", "联系方式": c.phone},
        "跟进内容": {"跟进目的": ["服务效果确认", "客户感受了解", "后续服务建议"],
                 "跟进记录": {"客户反馈": rng.choice(["感觉不错", "第二天有点酸", "睡得更好了"]) if done else None,
                          "效果评估": rng.choice(["良好", "一般"]) if done else None,
                          "客户满意度": rng.choice(["满意", "非常满意"]) if done else None},
                 "跟进结果": {"客户意向": rng.choice(["愿意再来", "考虑办卡", "暂不需要"]) if done else None,
                          "下次预约": None, "需要跟进": None}},
        "后续计划": {"跟进事项": None, "跟进时间": None, "负责人": None},
    })


HAND_EDITED = {
    # As Obsidian writes a note after a property edit: no quotes, no comments, bare times.
    "随手记/周六上门预约.md": """---
预约编号: APP-2026-900
预约信息:
  客户姓名: 周先生
  客户编号:
  联系方式: 13912345678
  预约日期: 2026/11/28
  预约时间: 15:30
  预约渠道: wechat
服务信息:
  服务项目: 全身推拿
  服务时长: 60 分钟
  预计费用: 198元
  技师安排: 王师傅
特殊要求:
  偏好技师:
  力度要求: firm
  其他需求: 第一次来，朋友推荐
预约状态:
  创建时间: 2026-11-22 18:05
  创建人: 店长
  当前状态: PENDING
  状态更新:
---

店长手记：周先生周六下午来，朋友老李介绍的。
""",
}


def _hand_edited_notes(out: Path, next_app: int) -> None:
    for rel, text in HAND_EDITED.items():
        text = text.replace("APP-2026-900", f"APP-2026-{next_app:03d}")
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    print(build(target))
