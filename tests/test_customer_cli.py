"""`vaultcrm customer show | list | edit | tag | points | package add`, through the real command line."""

from __future__ import annotations

import pytest
from customer_data import AT, CONFIG, ZHANG, studio_files

from vaultcrm.core.loader import load_vault

ZHANG_PATH = "客户/C-0001 张三.md"


@pytest.fixture
def studio(vault):
    return vault(studio_files(), config=CONFIG)


def read(root, rel: str = ZHANG_PATH) -> str:
    return (root / rel).read_text(encoding="utf-8")


# -- show ---------------------------------------------------------------------------------------------
def test_show_puts_allergies_first_then_the_whole_story(studio, cli):
    result = cli(studio, "customer", "show", "张三", *AT)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("艾草") < out.index("到店")  # what can hurt comes before the figures
    assert "健康警示" in out and "腰椎间盘突出" in out
    assert "4 次（2026-04-10 至 2026-06-20）" in out
    assert "累计 ¥2526" in out and "近 12 个月 1 次，累计 1 次" in out
    assert "普通（9折），按消费可升为 银卡" in out
    assert "2526 分（可抵 ¥25.26）" in out
    assert "分群    潜力客户" in out
    for text in ("调整内容：水温调低", "后续建议：多喝热水", "FLW-2026-001", "APP-2026-002", "推拿10次卡 剩余 4/10 次"):
        assert text in out
    assert "FLW-2026-002" not in out  # done follow-ups are not open


def test_show_json_has_the_figures(studio, cli):
    data = cli(studio, "customer", "show", "C-0001", "--format", "json", *AT).json()
    assert data["过敏史"] == ["艾草"] and data["健康关注"] == "腰椎间盘突出"
    assert (data["到店次数"], data["首次到店"], data["最近到店"]) == (4, "2026-04-10", "2026-06-20")
    assert (data["累计消费"], data["近12个月未到店"], data["未到店次数"]) == (2526, 1, 1)
    assert [s["服务编号"] for s in data["最近服务"]] == ["SRV-2026-004", "SRV-2026-003", "SRV-2026-002"]
    assert data["最近服务"][0]["服务记忆"] == {"调整内容": "水温调低"}
    assert data["待跟进"] == [{"跟进编号": "FLW-2026-001", "跟进类型": "长期客户定期回访", "计划日期": "2026-07-05"}]
    assert data["套餐"][0]["剩余次数"] == 4 and data["套餐"][0]["可用"] is True
    assert (data["会员等级"], data["折扣"], data["可升等级"]) == ("普通", 9, "银卡")
    assert (data["积分"], data["分群"], data["标签"]) == (2526, ["潜力客户"], ["老客户", "流失预警"])


def test_show_finds_by_phone(studio, cli):
    assert cli(studio, "customer", "show", "139 0013 9000", "-f", "json", *AT).json()["客户编号"] == "C-0002"


def test_an_ambiguous_name_lists_the_candidates(studio, cli):
    result = cli(studio, "customer", "show", "王芳")
    assert result.exit_code == 1
    assert "「王芳」对应 2 位客户" in result.stderr
    assert "C-0003 王芳 137****7001" in result.stderr and "C-0004 王芳 137****7002" in result.stderr


def test_an_unknown_customer_is_refused(studio, cli):
    result = cli(studio, "customer", "show", "赵六")
    assert result.exit_code == 1 and "没有名为「赵六」的客户" in result.stderr


# -- list ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("segment,ids", [("流失预警", ["C-0002"]), ("churn-risk", ["C-0002"]),
                                         ("potential", ["C-0001"]), ("高频刚需客", [])])
def test_list_by_segment(studio, cli, segment, ids):
    result = cli(studio, "customer", "list", "--segment", segment, "--format", "json", *AT)
    assert result.exit_code == 0, result.output
    assert [row["客户编号"] for row in result.json()] == ids


def test_list_by_tier_and_the_segment_moves_with_the_date(studio, cli):
    rows = cli(studio, "customer", "list", "--tier", "gold", "-f", "json", *AT).json()
    assert [(r["客户编号"], r["会员等级"], r["分群"]) for r in rows] == [("C-0002", "金卡", ["流失预警"])]
    later = cli(studio, "customer", "list", "--segment", "流失预警", "-f", "json", "--at", "2026-09-20").json()
    assert [r["客户编号"] for r in later] == ["C-0001", "C-0002"]


def test_list_csv_and_text(studio, cli):
    out = cli(studio, "customer", "list", "--format", "csv", *AT).stdout
    assert out.startswith("\ufeff")  # the BOM Excel needs to read UTF-8
    lines = out.removeprefix("\ufeff").splitlines()
    assert lines[0] == "客户编号,客户姓名,联系方式,会员等级,到店次数,最近到店,近12个月消费,积分,分群,标签"
    assert lines[1] == "C-0001,张三,13800138000,普通,4,2026-06-20,2526,2526,潜力客户,老客户、流失预警"
    assert len(lines) == 5
    text = cli(studio, "customer", "list", "--segment", "流失预警", *AT).stdout
    assert "流失预警客户 1 位" in text and "李四" in text and "张三" not in text


@pytest.mark.parametrize("args", [("--segment", "loyal"), ("--tier", "铂金"), ("--format", "xml")])
def test_list_bad_options_are_usage_errors(studio, cli, args):
    result = cli(studio, "customer", "list", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output


# -- edit ---------------------------------------------------------------------------------------------
def test_edit_changes_only_the_fields_given_and_keeps_comments_keys_and_body(studio, cli):
    result = cli(studio, "customer", "edit", "C-0001", "--allergy", "+花粉", "--allergy", "-艾草", "--contraindication",
                 "孕期", "--phone", "138-0013-8001", "--strength", "firm", "--consent-marketing", "yes",
                 "--preferred-technician", "李师傅", *AT)
    assert result.exit_code == 0, result.output
    assert "已更新 C-0001 张三：电话、力度、营销授权、过敏史、禁忌事项、同意日期" in result.stdout
    expected = (ZHANG.replace("    - 艾草\n", "    - 花粉\n")
                .replace("  禁忌事项:\n", "  禁忌事项:\n    - 孕期\n")
                .replace("'13800138000'", "'13800138001'").replace("力度要求: 中", "力度要求: 重")
                .replace("  营销:\n", "  营销: 是\n").replace("同意日期: 2026-01-01", "同意日期: 2026-06-30"))
    assert read(studio) == expected
    assert not load_vault(studio).diagnostics


def test_edit_with_nothing_new_writes_nothing(studio, cli):
    before = (studio / ZHANG_PATH).stat().st_mtime_ns
    result = cli(studio, "customer", "edit", "张三", "--allergy", "艾草", "--gender", "female")
    assert result.exit_code == 0 and "没有变化" in result.stdout
    assert (studio / ZHANG_PATH).stat().st_mtime_ns == before


@pytest.mark.parametrize("args,code,message", [
    (("--allergy", "-海鲜"), 1, "过敏史中没有「海鲜」"),
    (("--preferred-technician", "王师傅"), 1, "未知的技师「王师傅」"),
    (("--tier", "铂金"), 2, "未知的会员等级「铂金」"),
    (("--birthday", "去年"), 2, "--birthday"),
    (("--consent-health", "maybe"), 2, "--consent-health"),
])
def test_edit_refusals_write_nothing(studio, cli, args, code, message):
    result = cli(studio, "customer", "edit", "C-0001", "--name", "张三丰", *args)
    assert result.exit_code == code and message in result.stderr
    assert read(studio) == ZHANG


def test_edit_warns_about_a_phone_another_profile_has(studio, cli):
    result = cli(studio, "customer", "edit", "C-0003", "--phone", "13900139000", "--name", "王芳芳", "--tier", "银卡")
    assert result.exit_code == 0
    assert "也登记在 C-0002 李四" in result.stderr
    text = read(studio, "客户/C-0003 王芳.md")
    assert "客户姓名: 王芳芳\n" in text and "联系方式: '13900139000'\n" in text and "会员等级: 银卡\n" in text


# -- tag ----------------------------------------------------------------------------------------------
def test_tag_rewrites_managed_fields_keeps_user_tags_and_is_idempotent(studio, cli):
    result = cli(studio, "customer", "tag", *AT)
    assert result.exit_code == 0, result.output
    assert "C-0001 张三：标签 +潜力客户 -流失预警；会员等级 普通 → 银卡；积分 — → 2526" in result.stdout
    assert "C-0002 李四：标签 +流失预警；积分 — → 300" in result.stdout
    assert "已更新 2 位客户档案" in result.stdout  # the two 王芳 have nothing to change
    text = read(studio)
    assert "标签:\n  - 老客户\n  - 潜力客户\n推荐人:" in text
    assert "会员等级: 银卡   # 开卡时定的" in text and "积分: 2526\n" in text and "会员卡号: VIP-0088" in text
    assert text.endswith("## 备注\n\n喜欢安静，不要聊天。\n")
    stamps = {p: p.stat().st_mtime_ns for p in (studio / "客户").iterdir()}
    again = cli(studio, "customer", "tag", *AT)
    assert "所有客户档案已是最新" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in (studio / "客户").iterdir()} == stamps


def test_tag_at_a_later_date_flags_churn(studio, cli):
    cli(studio, "customer", "tag", "--at", "2026-09-20")
    assert "  - 老客户\n  - 流失预警\n" in read(studio)


# -- points -------------------------------------------------------------------------------------------
def test_points_show_and_redeem(studio, cli):
    shown = cli(studio, "customer", "points", "张三", *AT)
    assert "C-0001 张三 积分 2526 分（可抵 ¥25.26）" in shown.stdout
    assert "累计获得 2526 分，已兑换 0 分，已过期 0 分" in shown.stdout
    result = cli(studio, "customer", "points", "张三", "--redeem", "500", "--note", "换精油一瓶", *AT)
    assert result.exit_code == 0, result.output
    assert "已兑换 C-0001 张三 500 积分（抵 ¥5），剩余 2026 分" in result.stdout
    text = read(studio)
    assert "积分: 2026\n" in text
    assert text.split("---\n")[1].endswith("积分记录:\n  - 日期: 2026-06-30\n    积分: -500\n    说明: 换精油一瓶\n")
    assert "已兑换 500 分" in cli(studio, "customer", "points", "张三", *AT).stdout
    assert not load_vault(studio).diagnostics


def test_redeeming_more_than_the_balance_is_refused(studio, cli):
    result = cli(studio, "customer", "points", "C-0002", "--redeem", "301", *AT)
    assert result.exit_code == 1 and "积分不足：当前可用 300 分" in result.stderr
    assert "积分记录" not in read(studio, "客户/C-0002 李四.md")


# -- packages -----------------------------------------------------------------------------------------
def test_package_add_appends_to_the_profile(studio, cli):
    result = cli(studio, "customer", "package", "add", "李四", "--name", "储值卡", "--value", "¥1000", "--end",
                 "2027-06-29", *AT)
    assert result.exit_code == 0, result.output
    assert "已添加套餐 C-0002 李四：储值卡 余额 ¥1000/¥1000（2026-06-30 至 2027-06-29）" in result.stdout
    assert read(studio, "客户/C-0002 李四.md").split("---\n")[1].endswith(
        "套餐:\n  - 名称: 储值卡\n    服务项目:\n    总次数:\n    剩余次数:\n    总金额: ¥1000\n    余额: ¥1000\n"
        "    开始日期: 2026-06-30\n    结束日期: 2027-06-29\n")
    data = cli(studio, "customer", "show", "李四", "-f", "json", *AT).json()
    assert data["套餐"][0]["余额"] == 1000 and data["套餐"][0]["可用"] is True
    second = cli(studio, "customer", "package", "add", "C-0001", "--name", "足疗5次", "--sessions", "5", "--service",
                 "足疗", "--start", "2026-07-01", *AT)
    assert second.exit_code == 0, second.output
    assert [p["名称"] for p in cli(studio, "customer", "show", "C-0001", "-f", "json", *AT).json()["套餐"]] == \
        ["推拿10次卡", "足疗5次"]
    assert not load_vault(studio).diagnostics


@pytest.mark.parametrize("args,code", [(("--sessions", "5", "--value", "100"), 1), ((), 1),
                                       (("--sessions", "5", "--service", "拔罐"), 2), (("--value", "很多"), 2)])
def test_package_add_refusals(studio, cli, args, code):
    result = cli(studio, "customer", "package", "add", "李四", "--name", "卡", *args, *AT)
    assert result.exit_code == code, result.output
    assert "套餐:" not in read(studio, "客户/C-0002 李四.md")


# -- membership in book and log ---------------------------------------------------------------------
@pytest.mark.parametrize("who,price", [("张三", "¥178.2"), ("李四", "¥158.4"), ("新客人", "¥178.2")])
def test_book_takes_the_tier_discount_off_the_expected_fee(studio, cli, who, price):
    phone = ("--phone", "13500135000") if who == "新客人" else ()
    result = cli(studio, "book", "-c", who, *phone, "--date", "2026-07-01", "--time", "15:00",
                 "-s", "全身推拿", "--force", "--yes", "--format", "json", "--at", "2026-06-30 10:00")
    assert result.exit_code == 0, result.output
    note = studio / "预约" / f"{result.json()['预约编号']}.md"
    assert f"  预计费用: {price}\n" in note.read_text(encoding="utf-8")


def test_log_takes_a_session_from_the_package_and_says_so_on_the_srv(studio, cli):
    result = cli(studio, "log", "-c", "张三", "-s", "全身推拿", "--technician", "李师傅", "--date", "2026-06-30",
                 "--time", "10:00", "--at", "2026-06-30 11:00")
    assert result.exit_code == 0, result.output
    assert "套餐抵扣：推拿10次卡（扣 1 次，推拿10次卡 剩余 3/10 次）" in result.stdout
    srv = (studio / "服务记录/SRV-2026-006.md").read_text(encoding="utf-8")
    assert "  服务费用: ¥178.2\n  套餐抵扣: 推拿10次卡（扣 1 次，推拿10次卡 剩余 3/10 次）\n" in srv
    assert read(studio) == ZHANG.replace("    剩余次数: 4\n", "    剩余次数: 3\n")
    foot = cli(studio, "log", "-c", "张三", "-s", "足疗", "--technician", "李师傅", "--date", "2026-06-30",
               "--time", "12:00", "--at", "2026-06-30 13:00", "--format", "json")
    assert foot.json()["套餐抵扣"] is None  # the card is for 全身推拿 only
    assert not load_vault(studio).diagnostics


def test_stats_brings_the_tags_up_to_date_too(studio, cli):
    assert cli(studio, "stats", "--at", "2026-06-30 20:00").exit_code == 0
    text = read(studio)
    assert "  - 老客户\n  - 潜力客户\n" in text and "积分: 2526\n" in text


def test_list_prints_money_as_money_in_text_json_and_csv(vault, cli):
    """Three visits at ¥59.4 are ¥178.2 everywhere, never a float's binary expansion."""
    root = vault({})
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        result = cli(root, "log", "--customer", "王五", "--phone", "13900001111", "--service", "足疗", "--fee", "59.4",
                     "--date", day, "--time", "10:00", "--at", "2026-11-10 12:00")
        assert result.exit_code == 0, result.output
    text = cli(root, "customer", "list", "--at", "2026-11-10").stdout
    assert "¥178.2 " in text and "178.19" not in text
    assert cli(root, "customer", "list", "--at", "2026-11-10", "-f", "json").json()[0]["近12个月消费"] == 178.2
    csv_text = cli(root, "customer", "list", "--at", "2026-11-10", "-f", "csv").stdout
    assert csv_text.splitlines()[1].split(",")[6] == "178.2"


@pytest.mark.parametrize("amount", ["-50", "0"])
def test_redeeming_nothing_or_a_negative_amount_is_a_usage_error(studio, cli, amount):
    before = read(studio)
    result = cli(studio, "customer", "points", "张三", "--redeem", amount, *AT)
    assert result.exit_code == 2
    assert f"兑换积分应为正整数，收到 {amount}" in result.output
    assert read(studio) == before
