"""Synthetic template-shaped vaults for benchmarks: `python bench/generate.py 100000 bench/vaults/100k`.

Notes are rendered through vaultcrm's own templates (the shape users have), in the proportions of a
busy studio: about 40% appointments, 35% service records, 15% follow-ups, 10% customer profiles, plus a
few foreign notes that must be read past. Deterministic for a given size.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from decimal import Decimal
from pathlib import Path

from vaultcrm.core.config import Settings
from vaultcrm.core.store import render_record
from vaultcrm.models import Appointment, Customer, FollowUp, ServiceRecord
from vaultcrm.values import AppointmentStatus, Channel, FollowUpStatus, Satisfaction

SERVICES = [("耳穴调理", 30, 98), ("全身推拿", 60, 198), ("艾灸调理", 45, 168), ("足疗", 60, 128), ("拔罐", 30, 88)]
TECHS = ["李师傅", "王师傅", "张技师", "陈技师", "刘技师", "赵技师"]
NAMES = [a + b for a in "王李张刘陈杨黄赵吴周徐孙马朱胡郭" for b in ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳"]]


def generate(total: int, out: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    settings = Settings()
    out.mkdir(parents=True, exist_ok=True)
    n_customers = max(10, total // 10)
    counts = {"APP": 0, "SRV": 0, "FLW": 0}
    start = dt.date(2024, 1, 1)
    folders = {"APP": "预约", "SRV": "服务记录", "FLW": "跟进", "CUS": "客户"}
    for folder in folders.values():
        (out / folder).mkdir(exist_ok=True)
    (out / "随记").mkdir(exist_ok=True)
    for i in range(total):
        roll = rng.random()
        if i < n_customers:
            name = NAMES[i % len(NAMES)] + (str(i // len(NAMES)) if i >= len(NAMES) else "")
            record = Customer.model_validate({
                "客户编号": f"C-{i + 1:04d}", "客户姓名": name, "联系方式": f"138{i:08d}",
                "生日": dt.date(1980 + i % 20, 1 + i % 12, 1 + i % 28), "首次到店": start,
                "健康档案": {"过敏史": ["艾草"] if i % 13 == 0 else [], "禁忌事项": ["孕期"] if i % 17 == 0 else []},
                "授权同意": {"健康数据": True, "营销": i % 2 == 0, "同意日期": start}})
            name_path = f"{folders['CUS']}/C-{i + 1:04d} {name}.md"
        elif i % 50 == 0:
            (out / "随记" / f"note-{i}.md").write_text(f"---\ntitle: 随记 {i}\ntags: [日常]\n---\n\n今天天气不错。\n", encoding="utf-8")
            continue
        else:
            c = rng.randrange(n_customers)
            cname = NAMES[c % len(NAMES)]
            day = start + dt.timedelta(days=rng.randrange(0, 1000))
            service, minutes, price = rng.choice(SERVICES)
            hour, minute = rng.randrange(9, 20), rng.choice([0, 15, 30, 45])
            customer = {"客户姓名": cname, "客户编号": f"C-{c + 1:04d}", "客户档案": f"[[C-{c + 1:04d} {cname}]]",
                        "联系方式": f"138{c:08d}"}
            if roll < 0.45:
                counts["APP"] += 1
                rid = f"APP-{day.year}-{counts['APP']:05d}"
                record = Appointment.model_validate({
                    "预约编号": rid, "预约信息": {**customer, "预约日期": day, "预约时间": dt.time(hour, minute),
                                              "预约渠道": rng.choice(list(Channel))},
                    "服务信息": {"服务项目": service, "服务时长": minutes, "预计费用": Decimal(price),
                             "技师安排": rng.choice(TECHS), "服务地点": f"房间{rng.choice('ABC')}"},
                    "预约状态": {"创建时间": dt.datetime.combine(day, dt.time(9)), "创建人": "前台",
                             "当前状态": rng.choice(list(AppointmentStatus)),
                             "状态更新": [f"{day} 09:05 待服务 → 已确认（前台）"]}})
            elif roll < 0.85:
                counts["SRV"] += 1
                rid = f"SRV-{day.year}-{counts['SRV']:05d}"
                end = (dt.datetime.combine(day, dt.time(hour, minute)) + dt.timedelta(minutes=minutes)).time()
                record = ServiceRecord.model_validate({
                    "服务编号": rid, "服务基本信息": {"服务日期": day, "服务时间": f"{hour:02d}:{minute:02d}-{end:%H:%M}",
                                                  "服务时长": minutes, "服务地点": "房间A"},
                    "客户信息": customer, "服务信息": {"服务项目": service, "服务技师": rng.choice(TECHS), "服务费用": Decimal(price)},
                    "服务详情": {"服务前评估": {"客户状态": "疲劳", "注意事项": "左肩旧伤"},
                             "服务过程": {"主要操作": "标准流程", "调整内容": "力度调轻"},
                             "服务后评估": {"即时效果": "放松", "注意事项": "多喝水"}},
                    "客户反馈": {"效果评价": "良好", "满意度": rng.choice(list(Satisfaction)), "星级评分": rng.randrange(1, 6)},
                    "后续安排": {"后续建议": "一周后复诊"}})
            else:
                counts["FLW"] += 1
                rid = f"FLW-{day.year}-{counts['FLW']:05d}"
                record = FollowUp.model_validate({
                    "跟进编号": rid, "跟进基本信息": {"跟进方式": "电话", "服务编号": "SRV-2024-00001", "跟进类型": "新客户首次回访",
                                                  "计划日期": day, "跟进状态": rng.choice(list(FollowUpStatus))},
                    "客户信息": customer, "跟进内容": {"跟进目的": ["服务效果确认", "客户感受了解"]}})
            name_path = f"{folders[record.kind]}/{rid}.md"
        (out / name_path).write_text(render_record(settings, out, record.model_copy(update={"path": name_path})),
                                     encoding="utf-8")


if __name__ == "__main__":
    size = int(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent / "vaults" / str(size)
    generate(size, target)
    print(f"{size} notes in {target}")
