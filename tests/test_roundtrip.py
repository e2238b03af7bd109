"""Any record rendered through its template and read back is the same record (hypothesis)."""

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultcrm.core.config import Settings
from vaultcrm.core.store import render_record
from vaultcrm.models import Appointment, Customer, FollowUp, ServiceRecord
from vaultcrm.models.customer import Package
from vaultcrm.values import AppointmentStatus, Channel, FollowUpStatus, Satisfaction, Strength
from vaultcrm.vault.reader import parse_note

# Text a front desk could type, including what YAML treats specially.
TRICKY = ["14:00", "09:30", "13800138000", "yes", "No", "null", "~", "#标签", "a: b", "- 项", "[[C-0001 张三]]",
          "'单引号'", '"双引号"', "50%", "¥198", "1e3", "0x1F", "@某人", "`code`", "!重要", "&锚", "*星", "|", ">"]
text = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\u2028\u2029"),
            min_size=1, max_size=20),
).map(str.strip).filter(bool)
opt_text = st.none() | text
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
money = st.none() | st.decimals(min_value=0, max_value=99999, places=0, allow_nan=False).map(lambda d: Decimal(int(d)))
minutes = st.none() | st.integers(min_value=0, max_value=600)
phones = st.none() | st.from_regex(r"1[3-9]\d{9}", fullmatch=True)
items = st.lists(text.filter(lambda s: not any(c.isspace() for c in s) and s not in {"~", "null", "No", "yes"}), max_size=3)
ids = st.integers(min_value=1, max_value=20000)


@st.composite
def appointments(draw):
    return Appointment.model_validate({
        "预约编号": f"APP-2026-{draw(ids):03d}",
        "预约信息": {"客户姓名": draw(opt_text), "客户编号": draw(st.none() | st.just("C-0001")),
                 "客户档案": draw(st.none() | st.just("[[C-0001 张三]]")), "联系方式": draw(phones),
                 "预约日期": draw(st.none() | dates), "预约时间": draw(st.none() | times),
                 "预约渠道": draw(st.none() | st.sampled_from(list(Channel)))},
        "服务信息": {"服务项目": draw(opt_text), "服务时长": draw(minutes), "预计费用": draw(money), "技师安排": draw(opt_text),
                 "服务地点": draw(opt_text)},
        "特殊要求": {"偏好技师": draw(opt_text), "力度要求": draw(st.none() | st.sampled_from(list(Strength))),
                 "其他需求": draw(opt_text)},
        "预约状态": {"创建时间": draw(st.none() | st.datetimes(min_value=dt.datetime(2000, 1, 1)).map(
            lambda d: d.replace(second=0, microsecond=0))), "创建人": draw(opt_text),
                 "当前状态": draw(st.none() | st.sampled_from(list(AppointmentStatus))),
                 "状态更新": draw(st.lists(text, max_size=3))},
    })


@st.composite
def services(draw):
    start, end = draw(times), draw(times)
    return ServiceRecord.model_validate({
        "服务编号": f"SRV-2026-{draw(ids):03d}",
        "服务基本信息": {"服务日期": draw(st.none() | dates), "服务时间": f"{start:%H:%M}-{end:%H:%M}",
                   "服务时长": draw(minutes), "服务地点": draw(opt_text), "预约编号": draw(st.none() | st.just("APP-2026-001"))},
        "客户信息": {"客户姓名": draw(opt_text), "客户编号": "C-0002", "联系方式": draw(phones)},
        "服务信息": {"服务项目": draw(opt_text), "服务技师": draw(opt_text), "服务费用": draw(money)},
        "服务详情": {"服务前评估": {"客户状态": draw(opt_text), "健康关注": draw(opt_text), "注意事项": draw(opt_text)},
                 "服务过程": {"主要操作": draw(opt_text), "客户反应": draw(opt_text), "调整内容": draw(opt_text)},
                 "服务后评估": {"即时效果": draw(opt_text), "客户感受": draw(opt_text), "注意事项": draw(opt_text)}},
        "客户反馈": {"效果评价": draw(opt_text), "满意度": draw(st.none() | st.sampled_from(list(Satisfaction))),
                 "星级评分": draw(st.none() | st.integers(1, 5)), "建议意见": draw(opt_text)},
        "后续安排": {"下次预约": draw(opt_text), "后续建议": draw(opt_text), "跟进事项": draw(opt_text)},
        # the 服务流程 checklist: rendered into the body and read back from it
        "服务流程": [{"步骤": name, "完成": draw(st.booleans())}
                 for name in draw(st.lists(text, max_size=4, unique=True))],
    })


@st.composite
def followups(draw):
    return FollowUp.model_validate({
        "跟进编号": f"FLW-2026-{draw(ids):03d}",
        "跟进基本信息": {"跟进日期": draw(st.none() | dates), "跟进方式": draw(st.none() | st.sampled_from(list(Channel))),
                   "跟进人": draw(opt_text), "服务编号": "SRV-2026-001", "跟进类型": draw(opt_text),
                   "计划日期": draw(st.none() | dates), "跟进状态": draw(st.none() | st.sampled_from(list(FollowUpStatus)))},
        "客户信息": {"客户姓名": draw(opt_text)},
        "跟进内容": {"跟进目的": draw(items), "跟进记录": {"客户反馈": draw(opt_text)}, "跟进结果": {"客户意向": draw(opt_text)}},
        "后续计划": {"跟进事项": draw(opt_text), "负责人": draw(opt_text)},
    })


@st.composite
def customers(draw):
    return Customer.model_validate({
        "客户编号": f"C-{draw(ids):04d}", "客户姓名": draw(text), "联系方式": draw(phones), "性别": draw(opt_text),
        "生日": draw(st.none() | dates), "首次到店": draw(st.none() | dates), "来源渠道": draw(opt_text),
        "会员等级": draw(opt_text),
        "健康档案": {"过敏史": draw(items), "禁忌事项": draw(items), "健康关注": draw(opt_text)},
        "服务偏好": {"偏好技师": draw(opt_text), "力度要求": draw(st.none() | st.sampled_from(list(Strength)))},
        "标签": draw(items), "推荐人": draw(opt_text),
        "授权同意": {"健康数据": draw(st.none() | st.booleans()), "营销": draw(st.none() | st.booleans()),
                 "同意日期": draw(st.none() | dates)},
        "积分": draw(st.none() | st.integers(0, 10**6)),
        "套餐": [Package.model_validate({"名称": draw(text), "总次数": 10, "剩余次数": draw(st.integers(0, 10)),
                                       "余额": draw(money), "开始日期": draw(dates), "结束日期": draw(dates)})
               for _ in range(draw(st.integers(0, 2)))],
    })


def read_back(record):
    relpath = f"x/{record.record_id}.md"
    text = render_record(Settings(), __import__("pathlib").Path("/nonexistent"), record.model_copy(update={"path": relpath}))
    parsed, note = parse_note(relpath, text.encode("utf-8"))
    assert not [d for d in note.diagnostics if d.severity.value == "error"], (text, note.diagnostics)
    return parsed, relpath


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(appointments(), services(), followups(), customers()))
def test_render_then_read_gives_the_same_record(record):
    parsed, relpath = read_back(record)
    assert parsed == record.model_copy(update={"path": relpath})
