"""`customer forget` and `purge` reach the notes that name a customer beside her records: her 候补 entries
and her rows of the campaign rosters (a one-off campaign and the standing 生日关怀), while `report
campaigns` keeps every figure.

The studio is the campaign tests' one (today 2026-06-30): 张三 (C-0001, phone 13800000001, birthday
7月4日) agreed to marketing, gets a coupon in the 流失预警 campaign and a birthday coupon, redeems the
first and waits for a free slot.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign_data import AT, config, profile, roster, sms_channel, studio

NAME, PHONE = "张三", "13800000001"
LINK = "[[C-0001 已注销-C-0001]]"
BIRTHDAY_ON = "营销活动:\n  生日关怀: {启用: 是, 优惠: 生日当月8折, 有效天数: 14}\n"


def vault_bytes(root: Path) -> dict[str, bytes]:
    """Every file of the vault but the backups (caches, state and logs included)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith(".vaultcrm/backups/")}


@pytest.fixture
def studio_vault(vault, cli, tmp_path):
    files = studio()
    files["客户/C-0001 张三.md"] = profile("C-0001", NAME, "是", birthday="1990-07-04")
    root = vault(files, config=config(sms_channel(tmp_path), BIRTHDAY_ON))
    made = cli(root, "campaign", "create", "--segment", "流失预警", "--offer", "8折", "--valid-until", "2026-07-31",
               "--at", AT)
    assert made.exit_code == 0, made.output
    assert cli(root, "campaign", "birthday", "--at", "2026-06-30 11:00").exit_code == 0
    code = roster(root)["C-0001"]["优惠券"]
    assert cli(root, "log", "--customer", "C-0001", "--service", "全身推拿", "--coupon", code,
               "--at", "2026-07-03 15:00").exit_code == 0
    waiting = cli(root, "waitlist", "add", "-c", "C-0001", "-s", "全身推拿", "-d", "2026-07-10", "--from", "10:00",
                  "--to", "18:00", "--at", "2026-07-03 16:00")
    assert waiting.exit_code == 0, waiting.output
    return root


def report(cli, root: Path) -> dict:
    result = cli(root, "report", "campaigns", "--month", "2026-07", "--format", "json")
    assert result.exit_code == 0, result.output
    return result.json()


def test_forget_anonymises_her_waitlist_entry_and_campaign_rows_and_keeps_the_figures(cli, studio_vault):
    root = studio_vault
    before_report = report(cli, root)
    assert before_report["活动"][0]["核销数"] == 1  # her redemption is counted
    campaign_before, birthday_before = roster(root), roster(root, "活动/生日关怀.md")
    assert birthday_before["C-0001"]["说明"] == "7月4日生日"
    other_rows = (root / "活动/CMP-2026-001.md").read_text(encoding="utf-8").replace(
        campaign_before["C-0001"]["客户"], LINK)

    result = cli(root, "customer", "forget", "C-0001", "--yes", "--at", "2026-07-04 09:00")
    assert result.exit_code == 0, result.output
    assert "已取消：WL-2026-001" in result.stdout
    # the dashboard's 服务日志 rows (from `log`) are scrubbed in the same operation: nothing left to check
    assert "仍含姓名或电话" not in result.stdout, result.stdout
    dashboard = (root / "服务追踪表.md").read_text(encoding="utf-8")
    assert "已注销-C-0001" in dashboard and "张三" not in dashboard

    wl = (root / "候补/WL-2026-001.md").read_text(encoding="utf-8")
    assert wl.startswith("---\n候补编号: WL-2026-001\n客户: 已注销-C-0001\n客户编号: C-0001\n"
                         f"客户档案: \"{LINK}\"\n联系方式:\n服务项目: 全身推拿\n日期: 2026-07-10\n"), wl
    assert "\n状态: 已取消\n" in wl

    campaign_after, birthday_after = roster(root), roster(root, "活动/生日关怀.md")
    assert campaign_after["C-0001"] == {**campaign_before["C-0001"], "客户": LINK}  # coupon, state, dates kept
    assert birthday_after["C-0001"] == {**birthday_before["C-0001"], "客户": LINK, "说明": "生日"}
    assert {k: v for k, v in campaign_after.items() if k != "C-0001"} == \
        {k: v for k, v in campaign_before.items() if k != "C-0001"}
    # only her row's line changed: the rest of the note (and its table's layout) is as it was
    assert (root / "活动/CMP-2026-001.md").read_text(encoding="utf-8") == other_rows

    assert report(cli, root) == before_report
    assert cli(root, "check").exit_code == 0
    assert cli(root, "stats", "--at", "2026-07-04 09:10").exit_code == 0
    for rel, data in vault_bytes(root).items():
        assert NAME.encode() not in data and PHONE.encode() not in data, f"real name or phone left in {rel}"

    again = cli(root, "customer", "forget", "C-0001", "--yes", "--at", "2026-07-04 09:05")
    assert again.exit_code == 0 and "已注销，无需处理" in again.stdout


def test_a_closed_waitlist_entry_keeps_its_status_and_purge_reaches_campaign_rows(cli, studio_vault):
    root = studio_vault
    assert cli(root, "waitlist", "remove", "WL-2026-001", "--at", "2026-07-03 17:00").exit_code == 0
    before_report = report(cli, root)
    # 李四 (C-0002, last seen 2026-01-05) is purged with a later cutoff; his row is 跳过 (拒绝营销)
    li_before = roster(root)["C-0002"]
    result = cli(root, "purge", "--before", "2026-01-10", "--yes", "--at", "2026-07-04 09:00")
    assert result.exit_code == 0, result.output
    assert "已注销 1 位客户" in result.stdout and "仍含姓名或电话" not in result.stdout
    assert roster(root)["C-0002"] == {**li_before, "客户": "[[C-0002 已注销-C-0002]]"}
    assert roster(root)["C-0001"]["客户"] == "[[C-0001 张三]]"  # not hers to touch
    assert report(cli, root) == before_report

    cli(root, "customer", "forget", "C-0001", "--yes", "--at", "2026-07-04 10:00")
    wl = (root / "候补/WL-2026-001.md").read_text(encoding="utf-8")
    assert "\n客户: 已注销-C-0001\n" in wl and "\n状态: 已取消\n" in wl and wl.count("移出候补") == 1
