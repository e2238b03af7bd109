"""`vaultcrm free`: the bookable starts agree with `book`, both ways; the CLI's text and JSON output.

The property: for random small studios (hours, technicians with skills, hours and days off, rooms that
serve some services, the buffer) and random appointments and leave (请假), every start `free` offers is accepted by the
booking planner with the same date, time, service and technician (and gets the room `free` named), and
every grid start the planner accepts is offered by an unlimited search.
"""

from __future__ import annotations

import datetime as dt

import pytest
from booking_data import CONFIG, app_note, customer_note
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultcrm.booking.absence import away_of
from vaultcrm.booking.actions import BookingRequest, plan_booking
from vaultcrm.booking.availability import FreeQuery, customers_own, search
from vaultcrm.booking.slots import GRID_MINUTES
from vaultcrm.core.config import Settings
from vaultcrm.core.index import VaultIndex
from vaultcrm.errors import VaultCRMError
from vaultcrm.models import Appointment, Customer, Leave

MON = dt.date(2026, 11, 23)
TECHS = ["甲", "乙", "丙"]
SERVICES = {"推拿": "推拿", "足疗": "足疗", "拔罐": None}  # service → skill
ROOMS = ["房间A", "房间B", "足疗区"]
STATUSES = ["待服务", "已确认", "服务中", "已完成", "已取消", "未到店"]
CUSTOMERS = [("C-0001", "张三"), ("C-0002", "李四"), ("", "王五")]  # 王五 has no profile


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


clock = st.integers(8 * 12, 15 * 12).map(lambda n: n * 5)  # 08:00–15:00 in 5-minute steps


@st.composite
def studios(draw):
    opening = draw(st.sampled_from([9 * 60, 9 * 60 + 5, 9 * 60 + 30, 10 * 60]))
    closing = draw(st.sampled_from([13 * 60, 13 * 60 + 55, 14 * 60]))
    config: dict = {"营业时间": {"开始": hhmm(opening), "结束": hhmm(closing)},
                    "缓冲时间": draw(st.sampled_from([0, 5, 10, 15])), "爽约上限": 0,
                    "服务项目": {name: {"时长": draw(st.sampled_from([20, 30, 45, 60, 75])), "技能": skill}
                             for name, skill in SERVICES.items()}}
    techs = draw(st.lists(st.sampled_from(TECHS), unique=True, max_size=3))
    config["技师"] = {}
    for name in techs:
        tech: dict = {"技能": draw(st.lists(st.sampled_from(["推拿", "足疗"]), unique=True))}
        if draw(st.booleans()):
            start = draw(clock)
            tech["工作时间"] = {"开始": hhmm(start), "结束": hhmm(min(start + draw(st.sampled_from([60, 120, 240])),
                                                                      23 * 60))}
        tech["休息日"] = draw(st.lists(st.sampled_from(["周一", "周二", "2026-11-24"]), unique=True, max_size=1))
        config["技师"][name] = tech
    rooms = draw(st.sampled_from(["none", "list", "map"]))
    if rooms == "list":
        config["房间"] = draw(st.lists(st.sampled_from(ROOMS), unique=True, min_size=1))
    elif rooms == "map":
        config["房间"] = {name: {"服务项目": draw(st.lists(st.sampled_from(list(SERVICES)), unique=True))}
                        for name in draw(st.lists(st.sampled_from(ROOMS), unique=True, min_size=1))}
    settings_ = Settings.model_validate(config)
    appointments = []
    for n in range(draw(st.integers(0, 8))):
        cid, name = draw(st.sampled_from(CUSTOMERS))
        appointments.append(Appointment.model_validate({
            "预约编号": f"APP-2026-{n + 1:03d}",
            "预约信息": {"客户姓名": name, "客户编号": cid or None,
                         "预约日期": MON + dt.timedelta(days=draw(st.integers(0, 1))), "预约时间": hhmm(draw(clock))},
            "服务信息": {"服务项目": draw(st.sampled_from(list(SERVICES))),
                         "服务时长": draw(st.sampled_from([None, 30, 45, 60, 90])),
                         "技师安排": draw(st.sampled_from([*TECHS, None])),
                         "服务地点": draw(st.sampled_from([*ROOMS, None]))},
            "预约状态": {"当前状态": draw(st.sampled_from(STATUSES))},
        }, context=None).model_copy(update={"path": f"预约/APP-2026-{n + 1:03d}.md"}))
    customers = [Customer.model_validate({"客户编号": cid, "客户姓名": name}).model_copy(
        update={"path": f"客户/{cid} {name}.md"}) for cid, name in CUSTOMERS if cid]
    leaves = []
    for n in range(draw(st.integers(0, 2))):  # whole days, or from / until a time, over one or two days
        first = MON + dt.timedelta(days=draw(st.integers(0, 1)))
        leaves.append(Leave.model_validate({
            "请假编号": f"LV-2026-{n + 1:03d}", "技师": draw(st.sampled_from(TECHS)), "开始日期": first,
            "开始时间": draw(st.sampled_from([None, *map(hhmm, range(9 * 60, 14 * 60, 35))])),
            "结束日期": first + dt.timedelta(days=draw(st.integers(0, 1))),
            "结束时间": draw(st.sampled_from([None, "12:00", "13:30", "23:00"]))}).model_copy(
            update={"path": f"请假/LV-2026-{n + 1:03d}.md"}))
    index = VaultIndex(None, [*appointments, *customers, *leaves])
    now = dt.datetime.combine(MON, dt.time(0)) + dt.timedelta(minutes=draw(st.integers(0, 36 * 12)) * 5)
    service = draw(st.sampled_from(list(SERVICES)))
    technician = draw(st.sampled_from([None, *techs]))
    customer = draw(st.sampled_from([None, "张三", "王五"]))
    return settings_, index, now, service, technician, customer


def offered(settings_, index, now, service, technician, customer, limit=None):
    query = FreeQuery(service, MON, days=2, technician=technician, limit=limit)
    appointments = index.appointments_between(MON, MON + dt.timedelta(days=1))
    mine = []
    if customer:
        from vaultcrm.customers.resolve import new_customer, resolve_customer

        profile = resolve_customer(index, customer) or new_customer(customer)
        mine = customers_own(index, profile, appointments)
    return search(query, appointments, settings_, now=now, mine=mine,
                  away=away_of(index.leaves_between(MON, MON + dt.timedelta(days=1))))


def accepted(settings_, index, now, service, technician, customer, start: dt.datetime):
    """The room `book` picks, or None when it refuses."""
    req = BookingRequest(customer=customer or "路人", date=start.date(), time=start.time(), service=service,
                         technician=technician)
    try:
        return plan_booking(index, settings_, req, now).appointment.service
    except VaultCRMError:
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(studios())
def test_free_and_book_agree_both_ways(studio):
    settings_, index, now, service, technician, customer = studio
    try:
        slots = offered(*studio)
    except VaultCRMError:  # a technician without the skill: then `book` must refuse every time too
        slots = []
    for slot in slots:
        planned = accepted(settings_, index, now, service, slot.technician, customer, slot.start)
        assert planned is not None, f"offered {slot} but book refuses it"
        assert planned.technician == slot.technician and planned.room == slot.room
    offered_keys = {(s.start, s.technician) for s in slots}
    assert len(offered_keys) == len(slots)
    names = [technician] if technician else (list(settings_.technicians) or [None])
    for day in (MON, MON + dt.timedelta(days=1)):
        start = dt.datetime.combine(day, dt.time(8))
        while start < dt.datetime.combine(day, dt.time(15)):
            for name in names:
                if (start, name) not in offered_keys:
                    assert accepted(settings_, index, now, service, name, customer, start) is None, \
                        f"book accepts {start} {name} but free does not offer it"
            start += dt.timedelta(minutes=GRID_MINUTES)
    if slots:
        assert offered(*studio, limit=3) == slots[:3]
    assert slots == sorted(slots, key=lambda s: s.start)


# -- edges, by hand ---------------------------------------------------------------------------------
STUDIO = Settings.model_validate(__import__("yaml").safe_load(CONFIG))
THU = dt.date(2026, 2, 12)


def starts(slots, tech=None):
    return [f"{s.start:%H:%M}" for s in slots if tech is None or s.technician == tech]


def app(start: str, tech: str = "李师傅", room: str | None = None, minutes: int = 60) -> Appointment:
    return Appointment.model_validate({
        "预约编号": f"APP-2026-{start.replace(':', '')}", "预约信息": {"客户姓名": "某", "预约日期": THU, "预约时间": start},
        "服务信息": {"服务项目": "全身推拿", "服务时长": minutes, "技师安排": tech, "服务地点": room}})


def test_the_buffer_exactly_and_the_last_slot_before_closing():
    slots = search(FreeQuery("全身推拿", THU, technician="李师傅", limit=None), [app("12:00")], STUDIO)
    got = starts(slots)
    assert "10:50" in got and "10:51" not in got and "11:00" not in got  # ends 11:50, 10 minutes before 12:00
    assert "13:10" in got and "13:00" not in got  # 13:00 would leave no buffer after 13:00's end
    assert got[-1] == "17:00"  # 李师傅 works until 18:00: the last 60-minute start


def test_days_off_and_working_hours_are_honoured():
    mon = dt.date(2026, 2, 16)  # 李师傅's day off
    slots = search(FreeQuery("全身推拿", mon, limit=None), [], STUDIO)
    assert {s.technician for s in slots} == {"王师傅"}
    assert starts(slots)[0] == "12:00" and starts(slots)[-1] == "20:00"


def test_after_and_before_bound_the_start():
    slots = search(FreeQuery("拔罐", THU, after=dt.time(14, 0), before=dt.time(14, 30), limit=None), [], STUDIO)
    assert starts(slots) == ["14:00", "14:10", "14:20"]


def test_rooms_are_those_book_would_pick():
    slots = search(FreeQuery("全身推拿", THU, technician="王师傅", after=dt.time(14), limit=2),
                   [app("14:00", tech="李师傅", room="房间A")], STUDIO)
    assert [(f"{s.start:%H:%M}", s.room) for s in slots] == [("14:00", "房间B"), ("14:10", "房间B")]


def test_an_unskilled_or_unknown_technician_is_an_error():
    with pytest.raises(VaultCRMError, match="技师 王师傅 没有「艾灸」技能"):
        search(FreeQuery("艾灸调理", THU, technician="王师傅"), [], STUDIO)
    with pytest.raises(VaultCRMError, match="未知的服务项目「泰式按摩」"):
        search(FreeQuery("泰式按摩", THU), [], STUDIO)


# -- the CLI --------------------------------------------------------------------------------------
AT = ("--at", "2026-02-12 13:55")


@pytest.fixture
def studio(vault):
    return vault({"客户/C-0001 张三.md": customer_note("C-0001", "张三", "13800138000"),
                  "预约/APP-2026-001.md": app_note("APP-2026-001", time="14:00", technician="李师傅", room="房间A"),
                  "预约/APP-2026-002.md": app_note("APP-2026-002", customer="李四", customer_id="C-0002",
                                                   time="16:00", technician="王师傅", room="房间B")},
                 config=CONFIG)


def test_free_text_lists_starts_with_technician_and_room(studio, cli):
    result = cli(studio, "free", "-s", "全身推拿", "-d", "2026-02-12", "--limit", "4", *AT)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "全身推拿（60分钟）可预约时间 · 2026-02-12（周四）",
        "2026-02-12（周四）",
        "  14:00–15:00  王师傅  房间B",
        "  14:10–15:10  王师傅  房间B",
        "  14:20–15:20  王师傅  房间B",
        "  14:30–15:30  王师傅  房间B",
        "（只列出最早的 4 个；--limit 0 列出全部）",
    ]


def test_free_json_is_the_specs_list_and_every_slot_books(studio, cli):
    result = cli(studio, "free", "--service", "全身推拿", "--date", "2026-02-12", "--days", "2", "--limit", "0",
                 "--format", "json", *AT)
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data[0] == {"日期": "2026-02-12", "时间": "14:00", "技师": "王师傅", "房间": "房间B"}
    assert all(set(row) == {"日期", "时间", "技师", "房间"} for row in data)
    assert {row["日期"] for row in data} == {"2026-02-12", "2026-02-13"}
    assert not any(row["日期"] == "2026-02-12" and row["技师"] == "李师傅" and "14:00" <= row["时间"] < "15:10"
                   for row in data)
    for row in data[:3] + data[-2:]:
        booked = cli(studio, "book", "-c", "新客", "--phone", "13700000000", "-d", row["日期"], "-t", row["时间"],
                     "-s", "全身推拿", "--technician", row["技师"], "-f", "json", "--force" if False else "-y", *AT)
        assert booked.exit_code == 0, booked.output
        assert booked.json()["服务信息"]["服务地点"] == row["房间"]
        cli(studio, "status", booked.json()["预约编号"], "cancelled", *AT)


def test_free_for_a_customer_keeps_clear_of_their_own(studio, cli):
    args = ("free", "-s", "艾灸调理", "-d", "2026-02-12", "--after", "13:00", "--before", "15:30", "--limit", "0",
            "-f", "json", *AT)
    anyone = cli(studio, *args)
    assert sorted({row["时间"] for row in anyone.json()})[0] == "14:00"  # 张技师 is free (13:55 now)
    result = cli(studio, *args, "-c", "张三")  # but 张三 is on 李师傅's table 14:00–15:00
    assert result.exit_code == 0, result.output
    assert [(row["时间"], row["技师"]) for row in result.json()] == [
        ("15:00", "张技师"), ("15:10", "李师傅"), ("15:10", "张技师"), ("15:20", "李师傅"), ("15:20", "张技师")]


def test_free_technician_and_chinese_date_words(studio, cli):
    result = cli(studio, "free", "-s", "艾灸调理", "--technician", "张技师", "--date", "今天", "--limit", "1",
                 "-f", "json", *AT)
    assert result.exit_code == 0, result.output
    assert result.json() == [{"日期": "2026-02-12", "时间": "14:00", "技师": "张技师", "房间": "房间B"}]


def test_free_nothing_left(studio, cli):
    result = cli(studio, "free", "-s", "全身推拿", "-d", "2026-02-12", "--after", "20:30", *AT)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "  没有可预约的时间"


@pytest.mark.parametrize("args,message", [
    (("-s", "泰式按摩"), "未知的服务项目「泰式按摩」"),
    (("-s", "艾灸调理", "--technician", "王师傅"), "技师 王师傅 没有「艾灸」技能"),
    (("-s", "拔罐", "--days", "0"), "--days：应不小于 1"),
    (("-s", "拔罐", "--after", "25:00"), "--after"),
    (("-s", "拔罐", "-f", "xml"), "--format 不支持「xml」"),
    ((), "缺少 --service"),
])
def test_free_bad_input(studio, cli, args, message):
    result = cli(studio, "free", *args, *AT)
    assert result.exit_code in (1, 2) and message in result.stderr
    assert "Traceback" not in result.output


def test_book_suggestions_are_free_slots(studio, cli):
    refused = cli(studio, "book", "-c", "王五", "-d", "2026-02-12", "-t", "14:30", "-s", "全身推拿",
                  "--technician", "李师傅", *AT)
    assert refused.exit_code == 1
    line = next(x for x in refused.stderr.splitlines() if "最近的空闲时间" in x)
    suggested = line.split("：")[1].split("、")
    free = cli(studio, "free", "-s", "全身推拿", "-d", "2026-02-12", "--technician", "李师傅", "--limit", "0",
               "-f", "json", *AT).json()
    assert suggested == ["15:10", "15:20", "15:30"]  # nothing before: it is 13:55 already
    assert set(suggested) <= {row["时间"] for row in free}
