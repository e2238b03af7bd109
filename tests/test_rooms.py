"""Rooms that serve services: `房间` as a list or as a mapping with 服务项目, in config, `book` and `reschedule`."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml
from booking_data import app_note

from conftest import REPO
from vaultcrm.booking.slots import Slot, free_rooms, place
from vaultcrm.core.config import Settings, load_settings
from vaultcrm.errors import ConfigError, ConflictError

AT = ("--at", "2026-02-11 10:00")
THU = ("--date", "2026-02-12")

CONFIG = """
服务项目:
  全身推拿: {时长: 60分钟, 技能: 推拿}
  足疗: {时长: 60分钟, 技能: 足疗}
技师:
  王师傅: {技能: [推拿, 足疗]}
  陈技师: {技能: [推拿, 足疗]}
房间:
  房间A: {服务项目: [全身推拿]}
  多功能房:            # takes anything
  足疗区: {服务项目: [足疗]}
"""
STUDIO = Settings.model_validate(yaml.safe_load(CONFIG))


def at(hhmm: str) -> dt.datetime:
    return dt.datetime.combine(dt.date(2026, 2, 12), dt.time.fromisoformat(hhmm))


def app(app_id: str, service: str, room: str, tech: str = "王师傅", start: str = "14:00"):
    from vaultcrm.models import Appointment

    return Appointment.model_validate({
        "预约编号": app_id, "预约信息": {"客户姓名": "张三", "预约日期": dt.date(2026, 2, 12), "预约时间": start},
        "服务信息": {"服务项目": service, "服务时长": 60, "技师安排": tech, "服务地点": room}})


# -- the config -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("房间: [房间A, 足疗区]", {"房间A": [], "足疗区": []}),
    ("房间: 房间A、足疗区", {"房间A": [], "足疗区": []}),
    ("房间:\n  房间A:\n  足疗区: {服务项目: [足疗]}", {"房间A": [], "足疗区": ["足疗"]}),
    ("房间:\n  - 房间A\n  - 足疗区: {服务项目: 足疗}", {"房间A": [], "足疗区": ["足疗"]}),
    ("房间:", {}),
])
def test_rooms_are_a_list_or_a_mapping(text, expected):
    settings = Settings.model_validate(yaml.safe_load(text) or {})
    assert {name: room.services for name, room in settings.rooms.items()} == expected


def test_a_room_naming_an_unknown_service_is_a_config_error_with_its_line(vault):
    root = vault(config="服务项目:\n  足疗: {时长: 60}\n房间:\n  房间A:\n  足疗区: {服务项目: [足liao]}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(root)
    text = str(err.value.diagnostic) if hasattr(err.value, "diagnostic") else err.value.message
    assert "房间「足疗区」的服务项目「足liao」不在 服务项目 中（有：足疗）" in text
    assert "vaultcrm.yaml" in text


def test_a_broken_rooms_value_is_refused_by_the_cli_without_traceback(vault, cli):
    root = vault(config="房间:\n  房间A: {服务项目: {a: b}}\n")
    result = cli(root, "book", "-c", "张三", *THU, "-t", "14:00", "-s", "足疗", *AT)
    assert result.exit_code == 1
    assert "vaultcrm.yaml" in result.stderr and "房间" in result.stderr and "Traceback" not in result.output
    assert not (root / "预约").exists()


@pytest.mark.parametrize("source", ["example_vault/vaultcrm.yaml", "init"])
def test_the_shipped_configs_use_the_mapping_and_load_cleanly(tmp_path, cli, source):
    if source == "init":
        assert cli(tmp_path, "init").exit_code == 0
    else:
        shutil.copy(REPO / source, tmp_path / "vaultcrm.yaml")
    settings, diagnostics = load_settings(tmp_path)
    assert diagnostics == []
    assert settings.rooms["足疗区"].services == ["足疗"]
    assert "足疗" not in settings.rooms["房间A"].services and "全身推拿" in settings.rooms["房间A"].services
    check = cli(tmp_path, "check")
    assert check.exit_code == 0 and "房间" not in check.output


# -- the rules ------------------------------------------------------------------------------------
def test_a_room_that_lists_services_takes_only_those_and_an_open_room_takes_any():
    assert free_rooms(Slot(at("14:00"), 60), [], STUDIO, "足疗") == ["足疗区", "多功能房"]
    assert free_rooms(Slot(at("14:00"), 60), [], STUDIO, "全身推拿") == ["房间A", "多功能房"]


def test_foot_massage_goes_to_the_foot_area_then_to_the_open_room():
    assert place(Slot(at("14:00"), 60), "足疗", [], STUDIO).slot.room == "足疗区"
    busy = [app("APP-2026-001", "足疗", "足疗区")]
    assert place(Slot(at("14:00"), 60), "足疗", busy, STUDIO).slot.room == "多功能房"
    busier = busy + [app("APP-2026-002", "全身推拿", "多功能房", tech="张技师")]
    with pytest.raises(ConflictError) as err:
        place(Slot(at("14:00"), 60, "陈技师"), "足疗", busier, STUDIO)
    assert "此时没有空闲的房间" in err.value.message  # 房间A is free but does not do 足疗


def test_a_room_nobody_can_use_for_the_service_says_so():
    settings = Settings.model_validate(yaml.safe_load("房间:\n  房间A: {服务项目: [推拿]}\n"))
    with pytest.raises(ConflictError) as err:
        place(Slot(at("14:00"), 60), "足疗", [], settings)
    assert err.value.message.endswith("没有能做「足疗」的房间（见 vaultcrm.yaml 的 房间）")


def test_touching_appointments_share_the_foot_area():
    busy = [app("APP-2026-001", "足疗", "足疗区", start="13:00")]
    assert place(Slot(at("14:00"), 60, "陈技师"), "足疗", busy, STUDIO).slot.room == "足疗区"


# -- book and reschedule ----------------------------------------------------------------------------
@pytest.fixture
def example(tmp_path):
    """An empty vault with the example studio's config."""
    root = tmp_path / "vault"
    root.mkdir()
    shutil.copy(REPO / "example_vault/vaultcrm.yaml", root / "vaultcrm.yaml")
    return root


def test_book_places_foot_massage_in_the_foot_area(example, cli):
    result = cli(example, "book", "-c", "林晓", "--phone", "13911112222", *THU, "-t", "14:00", "-s", "足疗", *AT)
    assert result.exit_code == 0, result.output
    assert "  服务地点: 足疗区\n" in (example / "预约/APP-2026-001.md").read_text(encoding="utf-8")


def test_book_refuses_a_room_that_does_not_do_the_service_naming_those_that_do(example, cli):
    args = ("book", "-c", "林晓", "--phone", "13911112222", *THU, "-t", "14:00", "-s", "足疗", "--room", "房间A", *AT)
    result = cli(example, *args)
    assert result.exit_code == 1
    assert "无法预约 2026-02-12 14:00–15:00 足疗：房间 房间A 不做「足疗」，可做的房间：足疗区" in result.stderr
    assert not (example / "预约").exists() and not (example / "客户").exists()
    forced = cli(example, *args, "--force")
    assert forced.exit_code == 0, forced.output
    assert "注意（--force）：房间 房间A 不做「足疗」" in forced.stdout


def test_reschedule_into_a_room_that_does_not_do_the_service_is_refused(vault, cli):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", service="足疗", technician="王师傅", room="足疗区")},
                 config=CONFIG)
    result = cli(root, "reschedule", "APP-2026-001", *THU, "-t", "14:00", "--room", "房间A", *AT)
    assert result.exit_code == 1 and "房间 房间A 不做「足疗」，可做的房间：多功能房、足疗区" in result.stderr
    moved = cli(root, "reschedule", "APP-2026-001", *THU, "-t", "14:00", "--room", "多功能房", *AT)
    assert moved.exit_code == 0, moved.output


def test_a_room_clash_offers_only_rooms_that_do_the_service(vault, cli):
    root = vault({"预约/APP-2026-001.md": app_note("APP-2026-001", service="足疗", technician="陈技师", room="足疗区")},
                 config=CONFIG)
    result = cli(root, "book", "-c", "李四", *THU, "-t", "14:00", "-s", "足疗", "--technician", "王师傅",
                 "--room", "足疗区", *AT)
    assert result.exit_code == 1
    assert "14:00 空闲的房间：多功能房" in result.stderr
