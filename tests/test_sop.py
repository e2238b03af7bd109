"""Service SOPs (服务流程): `log` writes the steps as an Obsidian checklist, staff tick them by hand,
`check`, `report technicians` and the 360 view read the ticks back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from service_data import app_note, customer

AT = "2026-02-12 15:05"
CONFIG = """
操作人: 前台
服务项目:
  全身推拿: {时长: 60分钟, 价格: ¥198, 流程: [穴位探查, 放松手法, 重点点按, 热敷, 拉伸]}
  足疗: {时长: 60分钟, 价格: ¥128}
技师:
  李师傅: {技能: [推拿]}
房间: [房间A, 房间B]
"""
CHECKLIST = """## 服务流程

- [x] 穴位探查
- [x] 放松手法
- [ ] 重点点按
- [x] 热敷
- [ ] 拉伸

## 备注
"""


@pytest.fixture
def studio(vault):
    return vault({"客户/C-0001 张三.md": customer(), "预约/APP-2026-001.md": app_note()}, config=CONFIG)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def _properties_rewrite(path: Path) -> None:
    """What Obsidian does when a property is edited in its panel: the frontmatter re-dumped without quotes
    or comments (and `'14:00-15:00'` bare); the body left as it was."""
    text = path.read_text(encoding="utf-8")
    _, fm, body = text.split("---\n", 2)
    data = yaml.safe_load(fm)
    data["客户反馈"]["效果评价"] = "很好"
    dumped = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_style=None)
    path.write_text("---\n" + dumped.replace("'", "") + "---\n" + body, encoding="utf-8")


def test_log_writes_the_steps_as_a_checklist_ticking_the_chosen_ones(studio, cli):
    result = cli(studio, "log", "APP-2026-001", "--steps", "1,2，热敷", "--at", AT)
    assert result.exit_code == 0, result.output
    assert "流程  完成 3/5 步，未做：重点点按、拉伸" in result.stdout
    text = (studio / "服务记录/SRV-2026-001.md").read_text(encoding="utf-8")
    assert text.endswith("客户：[[C-0001 张三]] · 预约：[[APP-2026-001]]\n\n" + CHECKLIST + "\n")
    assert "服务流程" not in text.split("---")[1]  # the frontmatter stays the template's


def test_steps_all_none_and_json(studio, cli):
    result = cli(studio, "log", "APP-2026-001", "--steps", "全部", "--format", "json", "--at", AT)
    assert result.exit_code == 0, result.output
    assert result.json()["服务流程"] == [{"步骤": s, "完成": True} for s in ("穴位探查", "放松手法", "重点点按", "热敷", "拉伸")]
    walk_in = cli(studio, "log", "-c", "张三", "-s", "全身推拿", "--steps", "none", "--at", AT)
    assert walk_in.exit_code == 0, walk_in.output
    assert "- [ ] 穴位探查\n- [ ] 放松手法\n- [ ] 重点点按\n- [ ] 热敷\n- [ ] 拉伸\n" in \
        (studio / "服务记录/SRV-2026-002.md").read_text(encoding="utf-8")


def test_without_steps_in_a_script_all_are_left_unticked_and_a_service_without_sop_has_no_section(studio, cli):
    assert cli(studio, "log", "APP-2026-001", "--at", AT).exit_code == 0
    assert "- [ ] 穴位探查" in (studio / "服务记录/SRV-2026-001.md").read_text(encoding="utf-8")
    assert cli(studio, "log", "-c", "张三", "-s", "足疗", "--at", AT).exit_code == 0
    assert "服务流程" not in (studio / "服务记录/SRV-2026-002.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, code, message", [
    (["APP-2026-001", "--steps", "6"], 1, "「6」不是「全身推拿」的流程步骤；可用序号或名称：1.穴位探查 2.放松手法"),
    (["APP-2026-001", "--steps", "1,泡脚"], 1, "「泡脚」不是「全身推拿」的流程步骤"),
    (["-c", "张三", "-s", "足疗", "--steps", "all"], 1, "服务项目「足疗」没有配置服务流程"),
    (["APP-2026-001", "--steps", " , "], 2, "--steps：应写作 all、none 或步骤序号如 1,2,4"),
])
def test_bad_steps_are_refused_and_nothing_is_written(studio, cli, args, code, message):
    before = _files(studio)
    result = cli(studio, "log", *args, "--at", AT)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert _files(studio) == before


def test_a_terminal_offers_the_steps(studio, cli, monkeypatch):
    import vaultcrm.cli.options as options_cli

    monkeypatch.setattr(options_cli, "interactive", lambda: True)
    # 效果评价 and 满意度 skipped with Enter; a wrong step number is asked again
    result = cli(studio, "log", "APP-2026-001", "--at", AT, input="\n\n7\n1 3\n")
    assert result.exit_code == 0, result.output
    assert "服务流程：1.穴位探查  2.放松手法  3.重点点按  4.热敷  5.拉伸" in result.stdout
    assert "没有步骤「7」" in result.output
    text = (studio / "服务记录/SRV-2026-001.md").read_text(encoding="utf-8")
    assert "- [x] 穴位探查\n- [ ] 放松手法\n- [x] 重点点按\n- [ ] 热敷\n- [ ] 拉伸\n" in text


def test_enter_at_the_prompt_ticks_every_step(studio, cli, monkeypatch):
    import vaultcrm.cli.options as options_cli

    monkeypatch.setattr(options_cli, "interactive", lambda: True)
    result = cli(studio, "log", "APP-2026-001", "--at", AT, input="\n\n\n")
    assert result.exit_code == 0, result.output
    assert "- [ ]" not in (studio / "服务记录/SRV-2026-001.md").read_text(encoding="utf-8")


def test_check_reads_ticks_made_by_hand_in_obsidian_after_a_properties_rewrite(studio):
    """Real subprocesses (a warm parse cache between them): what staff tick in Obsidian is what check sees."""
    vault = ["--vault", str(studio)]
    done = run_cli(*vault, "log", "APP-2026-001", "--steps", "1,2,4", "--at", AT)
    assert done.returncode == 0, done.stderr
    note = studio / "服务记录/SRV-2026-001.md"
    first = run_cli(*vault, "check", "--format", "json")
    items = [d for d in json.loads(first.stdout) if "服务流程" in d["message"]]
    line = note.read_text(encoding="utf-8").splitlines().index("- [ ] 重点点按") + 1
    assert items == [{"path": "服务记录/SRV-2026-001.md", "line": line, "severity": "warning",
                      "message": "SRV-2026-001 的服务流程有 2 步未勾选：重点点按、拉伸（已做的请在 Obsidian 中勾选 - [x]，"
                                 "确实跳过的请在 备注 中写明原因）"}]
    assert first.returncode == 0  # a warning, not an error

    note.write_text(note.read_text(encoding="utf-8").replace("- [ ] 重点点按", "- [x] 重点点按"), encoding="utf-8")
    _properties_rewrite(note)
    assert "服务时间: 14:00-15:00" in note.read_text(encoding="utf-8")
    second = run_cli(*vault, "check")
    assert "SRV-2026-001 的服务流程有 1 步未勾选：拉伸" in second.stdout, second.stdout + second.stderr

    note.write_text(note.read_text(encoding="utf-8").replace("- [ ] 拉伸", "- [X] 拉伸"), encoding="utf-8")
    third = run_cli(*vault, "check")
    assert "服务流程" not in third.stdout


def test_a_checklist_elsewhere_in_the_body_does_not_count(studio, cli):
    assert cli(studio, "log", "APP-2026-001", "--steps", "all", "--at", AT).exit_code == 0
    note = studio / "服务记录/SRV-2026-001.md"
    note.write_text(note.read_text(encoding="utf-8") + "顾客自述：\n- [ ] 回家热敷\n\n```\n## 服务流程\n- [ ] 假的\n```\n",
                    encoding="utf-8")
    result = cli(studio, "check")
    assert "服务流程" not in result.stdout


def test_report_technicians_shows_the_sop_completion_rate(studio, cli):
    assert cli(studio, "log", "APP-2026-001", "--steps", "1,2,3", "--at", AT).exit_code == 0
    assert cli(studio, "log", "-c", "张三", "-s", "全身推拿", "--technician", "李师傅", "--steps", "all",
               "--at", AT).exit_code == 0
    assert cli(studio, "log", "-c", "张三", "-s", "足疗", "--technician", "李师傅", "--at", AT).exit_code == 0
    result = cli(studio, "report", "technicians", "--month", "2026-02", "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    (li,) = [row for row in data["技师"] if row["技师"] == "李师傅"]
    assert li["流程完成率"] == 80.0  # 3 + 5 of 10 steps; 足疗 has no SOP and does not count
    assert data["合计"]["流程完成率"] == 80.0
    text = cli(studio, "report", "technicians", "--month", "2026-02")
    assert "流程完成率" in text.stdout and "80.0%" in text.stdout


def test_the_360_view_shows_skipped_steps_in_service_memory(studio, cli):
    assert cli(studio, "log", "APP-2026-001", "--steps", "1,2,3", "--at", AT).exit_code == 0
    shown = cli(studio, "customer", "show", "C-0001", "--format", "json", "--at", AT)
    assert shown.exit_code == 0, shown.output
    assert shown.json()["最近服务"][0]["服务记忆"] == {"跳过的流程": "热敷、拉伸"}
    text = cli(studio, "customer", "show", "C-0001", "--at", AT)
    assert "跳过的流程：热敷、拉伸" in text.stdout


def test_duplicate_or_multiline_steps_are_config_errors(vault, cli):
    root = vault({}, config="服务项目:\n  足疗:\n    流程: [泡脚, 按摩, 泡脚]\n")
    result = cli(root, "check")
    assert result.exit_code == 1
    assert "vaultcrm.yaml:3: 错误：配置项 服务项目.足疗.流程：流程步骤「泡脚」重复" in result.stderr


def test_an_override_template_without_the_checklist_is_refused_naming_it(studio, cli):
    """A studio's own service.md.j2 from before SOPs would drop the steps: refused, nothing written."""
    from vaultcrm.core.render import environment

    source = environment().loader.get_source(environment(), "service.md.j2")[0]
    start, end = source.index("{% if s.steps -%}"), source.index("{% endif -%}\n## 备注") + len("{% endif -%}\n")
    override = studio / ".vaultcrm/templates/service.md.j2"
    override.parent.mkdir(parents=True)
    override.write_text(source[:start] + source[end:], encoding="utf-8")
    before = _files(studio)
    result = cli(studio, "log", "APP-2026-001", "--steps", "all", "--at", AT)
    assert result.exit_code == 1
    assert "模板有误，未写入：模板输出与记录不一致（服务流程）" in result.stderr
    assert _files(studio) == before
    assert cli(studio, "log", "-c", "张三", "-s", "足疗", "--at", AT).exit_code == 0  # no SOP: the old template serves
