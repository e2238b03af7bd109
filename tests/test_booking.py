"""The pure booking rules: intervals, buffer, hours, days off, skills, suggestions; safety; customer lookup."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from booking_data import CONFIG

from vaultcrm.booking.safety import brief, hazards
from vaultcrm.booking.slots import Slot, clashes, place, suggest_starts, weekday_of
from vaultcrm.core.config import Settings
from vaultcrm.core.index import CustomerHistory, VaultIndex
from vaultcrm.customers.history import no_show_count
from vaultcrm.customers.resolve import AmbiguousCustomerError, describe, mask_phone, new_customer, resolve_customer
from vaultcrm.errors import ConflictError, NotFoundError, VaultCRMError
from vaultcrm.models import Appointment, Customer, ServiceRecord
from vaultcrm.values import Channel

STUDIO = Settings.model_validate(yaml.safe_load(CONFIG))
BARE = Settings()  # no vaultcrm.yaml
THU = dt.date(2026, 2, 12)


def app(app_id="APP-2026-001", start="14:00", minutes=60, tech="李师傅", room=None, status="待服务",
        day=THU, customer="张三") -> Appointment:
    return Appointment.model_validate({
        "预约编号": app_id,
        "预约信息": {"客户姓名": customer, "预约日期": day, "预约时间": start},
        "服务信息": {"服务项目": "全身推拿", "服务时长": minutes, "技师安排": tech, "服务地点": room},
        "预约状态": {"当前状态": status},
    })


def at(hhmm: str, day: dt.date = THU) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm))


def refused(slot, others, settings=STUDIO, service="全身推拿", **kw) -> str:
    with pytest.raises(ConflictError) as err:
        place(slot, service, others, settings, **kw)
    return "\n".join([err.value.message, *err.value.details])


# -- intervals and the buffer ---------------------------------------------------------------------
def test_touching_appointments_share_a_room():
    placed = place(Slot(at("15:00"), 60, "王师傅", "房间A"), "全身推拿", [app(room="房间A")], STUDIO)
    assert placed.slot.room == "房间A"


def test_overlapping_appointments_in_one_room_clash():
    text = refused(Slot(at("14:59"), 60, "王师傅", "房间A"), [app(room="房间A")])
    assert "房间 房间A 已有预约 APP-2026-001 张三 2026-02-12 14:00–15:00" in text


def test_same_technician_exactly_the_buffer_later_is_allowed():
    assert place(Slot(at("15:10"), 60, "李师傅"), "全身推拿", [app()], STUDIO).slot.start == at("15:10")


def test_same_technician_exactly_the_buffer_earlier_is_allowed():
    assert place(Slot(at("12:50"), 60, "李师傅"), "全身推拿", [app()], STUDIO).slot.start == at("12:50")


@pytest.mark.parametrize("start", ["15:09", "12:51", "15:00", "14:30"])
def test_same_technician_within_the_buffer_is_refused(start):
    text = refused(Slot(at(start), 60, "李师傅"), [app()])
    assert "技师 李师傅 已有预约 APP-2026-001 张三 2026-02-12 14:00–15:00" in text


def test_buffer_note_only_when_the_buffer_alone_clashes():
    assert "需间隔 10 分钟" in refused(Slot(at("15:05"), 60, "李师傅"), [app()])
    assert "需间隔" not in refused(Slot(at("14:30"), 60, "李师傅"), [app()])


def test_buffer_comes_from_config():
    settings = STUDIO.model_copy(update={"buffer_minutes": 0})
    assert place(Slot(at("15:00"), 60, "李师傅"), "全身推拿", [app()], settings).slot.technician == "李师傅"


@pytest.mark.parametrize("status,blocks", [("待服务", True), ("已确认", True), ("服务中", True),
                                           ("已完成", False), ("已取消", False), ("未到店", False)])
def test_only_active_appointments_block(status, blocks):
    slot = Slot(at("14:00"), 60, "李师傅")
    if blocks:
        refused(slot, [app(status=status)])
    else:
        assert place(slot, "全身推拿", [app(status=status)], STUDIO).slot.technician == "李师傅"


def test_other_days_do_not_clash():
    assert not clashes(Slot(at("14:00"), 60, "李师傅"), [], STUDIO)
    place(Slot(at("14:00"), 60, "李师傅"), "全身推拿", [app(day=THU + dt.timedelta(days=1))], STUDIO)


def test_the_appointment_being_moved_does_not_clash_with_itself():
    slot = Slot(at("14:30"), 60, "李师傅")
    refused(slot, [app()])
    assert place(slot, "全身推拿", [app()], STUDIO, ignore_id="APP-2026-001").slot.start == at("14:30")


def test_a_blank_duration_takes_the_service_duration():
    other = app(minutes=None)
    refused(Slot(at("15:05"), 30, "李师傅"), [other])
    place(Slot(at("15:10"), 30, "李师傅"), "全身推拿", [other], STUDIO)


# -- hours, days off, skills -----------------------------------------------------------------------
def test_last_slot_before_closing_ends_exactly_at_closing():
    assert place(Slot(at("20:00"), 60, "王师傅"), "全身推拿", [], STUDIO).slot.end == at("21:00")


@pytest.mark.parametrize("start", ["20:01", "08:59", "23:30"])
def test_outside_business_hours_is_refused(start):
    assert "超出营业时间 09:00–21:00" in refused(Slot(at(start), 60, "王师傅"), [])


def test_business_hours_apply_without_config_too():
    assert place(Slot(at("20:00"), 60), "任意项目", [], BARE).slot.technician is None
    assert "超出营业时间 09:00–21:00" in refused(Slot(at("20:01"), 60), [], BARE, service="任意项目")


def test_working_hours():
    assert place(Slot(at("17:00"), 60, "李师傅"), "全身推拿", [], STUDIO).slot.end == at("18:00")
    assert "超出技师 李师傅 的工作时间 09:00–18:00" in refused(Slot(at("17:01"), 60, "李师傅"), [])
    assert "超出技师 王师傅 的工作时间 12:00–21:00" in refused(Slot(at("11:30"), 60, "王师傅"), [])


@pytest.mark.parametrize("tech,day", [("李师傅", dt.date(2026, 2, 16)), ("王师傅", dt.date(2026, 2, 17)),
                                      ("张技师", dt.date(2026, 2, 18))])
def test_days_off(tech, day):
    service = "艾灸调理" if tech == "张技师" else "全身推拿"
    text = refused(Slot(at("14:00", day), 45, tech), [], service=service)
    assert f"是技师 {tech} 的休息日" in text
    place(Slot(at("14:00", day + dt.timedelta(days=1)), 45, tech), service, [], STUDIO)


@pytest.mark.parametrize("text,weekday", [("周一", 0), ("星期二", 1), ("礼拜三", 2), ("周日", 6), ("周天", 6),
                                          ("星期日", 6), ("Monday", 0), ("mon", 0), ("Thu", 3), ("sunday", 6),
                                          ("周八", None), ("月曜日", None), ("mo", None)])
def test_weekday_names(text, weekday):
    assert weekday_of(text) == weekday


def test_technician_needs_the_skill():
    text = refused(Slot(at("14:00"), 45, "王师傅"), [], service="艾灸调理")
    assert "技师 王师傅 没有「艾灸」技能（艾灸调理 需要）" in text
    assert "有空的技师：李师傅、张技师" in text


def test_force_overrides_clock_and_skill_but_never_a_clash():
    placed = place(Slot(at("20:30"), 60, "李师傅"), "全身推拿", [], STUDIO, force=True)
    assert placed.overridden == ["20:30–21:30 超出营业时间 09:00–21:00",
                                 "20:30–21:30 超出技师 李师傅 的工作时间 09:00–18:00"]
    refused(Slot(at("14:00"), 60, "李师傅"), [app()], force=True)


@pytest.mark.parametrize("kind,name,known", [("服务项目", "泰式按摩", "全身推拿、艾灸调理、拔罐"),
                                             ("技师", "赵师傅", "李师傅、王师傅、张技师"), ("房间", "房间Z", "房间A、房间B")])
def test_unknown_names_are_refused_with_the_known_ones(kind, name, known):
    args = {"服务项目": ("泰式按摩", None, None), "技师": ("全身推拿", "赵师傅", None),
            "房间": ("全身推拿", "王师傅", "房间Z")}[kind]
    with pytest.raises(VaultCRMError) as err:
        place(Slot(at("14:00"), 60, args[1], args[2]), args[0], [], STUDIO)
    assert err.value.message == f"未知的{kind}「{name}」，vaultcrm.yaml 中有：{known}"


def test_without_config_any_name_is_accepted():
    placed = place(Slot(at("14:00"), 60, "随便谁", "阁楼"), "泰式按摩", [], BARE)
    assert (placed.slot.technician, placed.slot.room) == ("随便谁", "阁楼")


# -- picking and suggesting -----------------------------------------------------------------------
def test_clash_offers_nearest_free_times_and_free_technicians():
    text = refused(Slot(at("14:30"), 60, "李师傅"), [app()])
    assert "李师傅 2026-02-12 最近的空闲时间：12:30、12:40、12:50、15:10、15:20、15:30" in text
    assert "14:30 有空的技师：王师傅" in text  # 张技师 cannot do 推拿


def test_suggestions_stay_inside_the_day_and_the_technicians_hours():
    starts = suggest_starts(Slot(at("16:30"), 60, "李师傅"), "全身推拿", [app(start="16:00")], STUDIO, ["李师傅"])
    assert [t.strftime("%H:%M") for t in starts] == ["14:30", "14:40", "14:50"]  # 17:10 would end after 18:00


def test_room_clash_offers_free_rooms():
    assert "14:00 空闲的房间：房间B" in refused(Slot(at("14:00"), 60, "王师傅", "房间A"), [app(room="房间A")])


def test_auto_pick_prefers_the_customers_technician_then_config_order():
    assert place(Slot(at("14:00"), 60), "全身推拿", [], STUDIO, preferred="王师傅").slot.technician == "王师傅"
    assert place(Slot(at("14:00"), 60), "全身推拿", [], STUDIO).slot.technician == "李师傅"
    assert place(Slot(at("14:00"), 60), "全身推拿", [app()], STUDIO, preferred="李师傅").slot.technician == "王师傅"


def test_auto_pick_needs_the_skill_and_a_free_room():
    placed = place(Slot(at("14:00"), 45), "艾灸调理", [app(room="房间A")], STUDIO)
    assert (placed.slot.technician, placed.slot.room) == ("张技师", "房间B")


def test_no_free_technician_is_refused_with_times():
    text = refused(Slot(at("14:00"), 60), [app(), app("APP-2026-002", tech="王师傅")])
    assert text.startswith("无法预约 2026-02-12 14:00–15:00 全身推拿：此时没有空闲的技师")
    assert "会推拿的技师 2026-02-12 最近的空闲时间：12:30、12:40、12:50、15:10、15:20、15:30" in text


def test_no_free_room_is_refused():
    busy = [app(room="房间A"), app("APP-2026-002", tech="王师傅", room="房间B")]
    text = refused(Slot(at("14:00"), 45, "张技师"), busy, service="艾灸调理")
    assert "此时没有空闲的房间" in text


# -- safety ---------------------------------------------------------------------------------------
def customer(allergies=(), contraindications=(), **kw) -> Customer:
    return Customer.model_validate({"客户编号": "C-0001", "客户姓名": "张三", "联系方式": "13800138000",
                                    "健康档案": {"过敏史": list(allergies), "禁忌事项": list(contraindications)}, **kw})


@pytest.mark.parametrize("allergies,contra,service,expected", [
    (["艾草"], [], "艾灸调理", ["过敏史「艾草」与 艾灸调理 的材料「艾草」相符"]),
    (["艾"], [], "艾灸调理", ["过敏史「艾」与 艾灸调理 的材料「艾草」相符", "过敏史「艾」与 艾灸调理 的材料「艾条」相符"]),
    (["艾草过敏"], [], "艾灸调理", ["过敏史「艾草过敏」与 艾灸调理 的材料「艾草」相符"]),
    ([], ["孕期"], "拔罐", ["禁忌事项「孕期」与 拔罐 的禁忌「孕期」相符"]),
    ([], ["孕期"], "全身推拿", []),
    (["无"], ["无"], "艾灸调理", []),
    (["花粉"], [], "艾灸调理", []),
])
def test_hazards_match_by_substring_both_ways(allergies, contra, service, expected):
    assert hazards(customer(allergies, contra), service, STUDIO.services[service]) == expected


def no_show(day: str) -> Appointment:
    return app(day=dt.date.fromisoformat(day), status="未到店")


@pytest.mark.parametrize("days,count", [(["2026-02-01", "2025-12-01"], 2),
                                        (["2026-02-01", "2025-12-01", "2025-03-01"], 3),
                                        (["2026-02-01", "2025-12-01", "2025-02-12", "2024-06-01"], 2)])
def test_no_shows_count_only_the_last_twelve_months(days, count):
    history = CustomerHistory(None, appointments=[no_show(d) for d in days] + [app(status="已完成")])
    assert no_show_count(history, THU) == count
    assert brief(customer(), history, "全身推拿", STUDIO, THU).too_many_no_shows is (count >= 3)


def test_briefing_carries_the_last_services_memory():
    def srv(srv_id, day, after):
        return ServiceRecord.model_validate({"服务编号": srv_id, "服务基本信息": {"服务日期": day},
                                             "服务详情": {"服务后评估": {"注意事项": after}, "服务过程": {"调整内容": "力度减轻"}},
                                             "后续安排": {"后续建议": "多喝温水"}})
    history = CustomerHistory(None, services=[srv("SRV-2026-001", "2026-01-01", "旧"), srv("SRV-2026-002", "2026-02-01", "腰部慎压")])
    b = brief(customer(["艾草"]), history, "全身推拿", STUDIO, THU)
    assert b.last_service.id == "SRV-2026-002"
    assert b.memory == [("服务后注意事项", "腰部慎压"), ("调整内容", "力度减轻"), ("后续建议", "多喝温水")]
    assert (b.allergies, b.hazards, b.refusals()) == (["艾草"], [], [])


# -- customers ------------------------------------------------------------------------------------
def index_of(*customers: Customer) -> VaultIndex:
    return VaultIndex(Path("."), [c.model_copy(update={"path": f"客户/{c.id}.md"}) for c in customers])


def person(cid, name, phone=None) -> Customer:
    return Customer.model_validate({"客户编号": cid, "客户姓名": name, "联系方式": phone})


def test_customers_are_found_by_id_phone_or_name():
    index = index_of(person("C-0001", "张三", "13800138000"), person("C-0002", "李四", "13900139000"))
    assert resolve_customer(index, "C-0002").name == "李四"
    assert resolve_customer(index, "139-0013-9000").id == "C-0002"
    assert resolve_customer(index, " 张三 ").id == "C-0001"
    assert resolve_customer(index, "王五") is None


def test_ambiguous_names_list_the_candidates_and_a_phone_decides():
    index = index_of(person("C-0002", "张三", "13900139000"), person("C-0001", "张三", "13800138000"))
    with pytest.raises(AmbiguousCustomerError) as err:
        resolve_customer(index, "张三")
    assert err.value.details == ["C-0001 张三 138****8000", "C-0002 张三 139****9000"]
    assert resolve_customer(index, "张三", phone="13900139000").id == "C-0002"
    assert resolve_customer(index, "张三", phone="13700137000") is None  # a third 张三


def test_unknown_id_or_phone_cannot_make_a_profile():
    with pytest.raises(NotFoundError):
        resolve_customer(index_of(), "C-0009")
    with pytest.raises(NotFoundError):
        resolve_customer(index_of(), "13800138000")
    with pytest.raises(VaultCRMError):
        new_customer("C-0009")


def test_new_customer_profile():
    c = new_customer("王五", "13600136000", Channel.WALK_IN)
    assert (c.name, c.phone, c.source, c.tier) == ("王五", "13600136000", "到店", "普通")
    assert describe(person("C-0003", "王五", "13600136000")) == "C-0003 王五 136****6000"
    assert mask_phone("12345") == "1****" and mask_phone(None) == ""


def test_auto_pick_outside_business_hours_says_so():
    text = refused(Slot(at("22:00"), 60), [])
    assert text.startswith("无法预约 2026-02-12 22:00–23:00 全身推拿：22:00–23:00 超出营业时间 09:00–21:00")
    assert "会推拿的技师 2026-02-12 最近的空闲时间：19:40、19:50、20:00" in text
    forced = place(Slot(at("20:30"), 60), "全身推拿", [app(start="20:00", tech="王师傅")], STUDIO, force=True)
    assert forced.slot.technician == "李师傅"  # 王师傅 is busy; 李师傅's hours are overridden
