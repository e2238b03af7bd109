"""`vaultcrm check` finds what a crash or a hand edit leaves across notes, and names the command that fixes it."""

from __future__ import annotations

import os
import re

from service_data import CONFIG, app_note, customer

AT = "2026-02-12 15:05"


def _lines(result) -> list[str]:
    return result.stdout.splitlines()


def test_service_whose_appointment_is_not_completed_is_an_error_until_status_is_run(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": app_note()}, config=CONFIG)
    assert cli(root, "log", "APP-2026-001", "--at", AT).exit_code == 0
    app = root / "预约/APP-2026-001.md"
    # What `log` killed between its two writes leaves: the SRV exists, the APP is still 服务中.
    app.write_text(app_note(), encoding="utf-8")
    result = cli(root, "check")
    assert result.exit_code == 1
    assert ("服务记录/SRV-2026-001.md:8: 错误：已有服务记录 SRV-2026-001，但预约 APP-2026-001 的状态是「服务中」"
            "而不是「已完成」；请运行 vaultcrm status APP-2026-001 已完成") in _lines(result)
    assert cli(root, "status", "APP-2026-001", "已完成").exit_code == 0
    after = cli(root, "check")
    assert after.exit_code == 0, after.stdout
    assert "错误 0" in after.stdout


def test_a_cancelled_appointment_with_a_service_needs_force(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": app_note()}, config=CONFIG)
    assert cli(root, "log", "APP-2026-001", "--at", AT).exit_code == 0
    (root / "预约/APP-2026-001.md").write_text(app_note(status="已取消"), encoding="utf-8")
    result = cli(root, "check")
    assert result.exit_code == 1
    assert "请运行 vaultcrm status APP-2026-001 已完成 --force" in result.stdout
    assert cli(root, "status", "APP-2026-001", "已完成", "--force").exit_code == 0
    assert cli(root, "check").exit_code == 0


def test_two_profiles_with_one_id_name_both_files_and_a_free_id(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(),
                  "客户/C-0002 王五.md": customer("C-0002", "王五", "13900139000"),
                  "客户/C-0001 李四.md": customer("C-0001", "李四", "13700137000")}, config=CONFIG)
    result = cli(root, "check")
    assert result.exit_code == 1
    lines = [line for line in _lines(result) if "C-0001 重复" in line]
    assert [line.split(":")[0] for line in lines] == ["客户/C-0001 张三.md", "客户/C-0001 李四.md"]
    assert all(line.split(":")[1] == "2" for line in lines)
    assert "出现在：客户/C-0001 张三.md、客户/C-0001 李四.md" in lines[0]
    assert "把其中一份的客户编号改为未使用的 C-0003（文件名也改为「C-0003 姓名.md」）" in lines[0]
    # The fix as told: renumber one of them (file and 客户编号).
    (root / "客户/C-0001 李四.md").unlink()
    (root / "客户/C-0003 李四.md").write_text(customer("C-0003", "李四", "13700137000"), encoding="utf-8")
    assert cli(root, "check").exit_code == 0


def test_one_profile_under_two_names_says_delete_one(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer()}, config=CONFIG)
    os.link(root / "客户/C-0001 张三.md", root / "客户/C-0001 已注销-C-0001.md")
    result = cli(root, "check")
    assert result.exit_code == 1
    assert "这些是同一文件的多个名字（改名被中断），删除不需要的那个文件名即可" in result.stdout


def test_open_followup_of_a_missing_customer_is_an_error_cancel_fixes_it(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": app_note()}, config=CONFIG)
    assert cli(root, "log", "APP-2026-001", "--at", AT).exit_code == 0
    assert cli(root, "follow", "plan", "--at", AT).exit_code == 0
    flw = sorted((root / "跟进").glob("FLW-*.md"))[0]
    flw_id = flw.stem
    (root / "客户/C-0001 张三.md").unlink()
    result = cli(root, "check")
    assert result.exit_code == 1
    match = [line for line in _lines(result) if line.startswith(f"跟进/{flw.name}:")]
    assert len(match) == 1
    assert re.fullmatch(rf"跟进/{flw.name}:\d+: 错误：回访 {flw_id} 的客户编号 C-0001 没有对应的客户档案；"
                        rf"请改正 客户信息.客户编号，或运行 vaultcrm follow cancel {flw_id}", match[0])
    line_no = int(match[0].split(":")[1])
    assert flw.read_text(encoding="utf-8").splitlines()[line_no - 1].strip().startswith("客户编号: C-0001")
    assert cli(root, "follow", "cancel", flw_id).exit_code == 0
    after = cli(root, "check")
    assert f"跟进/{flw.name}" in after.stdout and "该回访已结束" in after.stdout
    assert not [line for line in _lines(after) if "错误：回访" in line]


def test_profile_file_name_that_disagrees_with_its_name_is_a_warning(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(name="张珊")}, config=CONFIG)
    result = cli(root, "check")
    assert result.exit_code == 0
    assert ("客户/C-0001 张三.md:3: 警告：文件名与客户编号、客户姓名（C-0001 张珊）不一致；"
            "请把文件改名为「客户/C-0001 张珊.md」（在 Obsidian 中改名会同时更新链接）") in _lines(result)
    (root / "客户/C-0001 张三.md").rename(root / "客户/C-0001 张珊.md")
    assert "文件名" not in cli(root, "check").stdout


def test_forgotten_profile_still_under_its_real_name_is_an_error(vault, cli):
    root = vault({"客户/C-0001 张三.md": customer(name="已注销-C-0001") + "标签: [已注销]\n"}, config=CONFIG)
    text = (root / "客户/C-0001 张三.md").read_text(encoding="utf-8")
    (root / "客户/C-0001 张三.md").write_text(text.replace("---\n标签: [已注销]\n", "标签: [已注销]\n---\n"),
                                           encoding="utf-8")
    result = cli(root, "check")
    assert result.exit_code == 1
    assert ("客户/C-0001 张三.md:3: 错误：客户 C-0001 已注销，但文件名不是「C-0001 已注销-C-0001.md」，可能仍含真实姓名；"
            "请运行 vaultcrm customer forget C-0001，或把文件改名为「客户/C-0001 已注销-C-0001.md」") in _lines(result)
