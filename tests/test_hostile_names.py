"""Names can't break notes: hostile names and free text are stored exactly and rendered inert.

A name or a note with a newline, `[[…]]`, `|`, `<script>`, `---` or Obsidian's `%%` is booked and
logged through the real CLI; then the frontmatter must read back the exact value, and the Markdown
bodies (headings, the dashboard's 服务日志 table, the reminder day note's table) must hold no live
link to another customer, no raw HTML, no table row with an extra cell and no heading or frontmatter
split by a newline. `check` must still pass.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from service_data import CONFIG, customer

from vaultcrm.core.loader import load_vault
from vaultcrm.core.render import markdown_inline, render

HOSTILE = [
    "张\n三",
    "[[C-0001 李四]]",
    "![[C-0001 李四]]",
    "王|五",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "赵\n---\n客户编号: C-9999",
    "钱 %%后面都看不见",
    "孙`代码",
    "#周 吴",
    "郑]] [[C-0001 李四",
    "<!-- vaultcrm:服务日志 结束 -->",
    "冯\u2028陈",
    "褚 &lt;b&gt; $x$",
]
AT = "2026-02-13"
UNESCAPED_LINK = re.compile(r"(?<!\\)\[\[([^\]]*)\]\]")
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
PERIOD_NOTE = re.compile(r"^统计/(日报/\d{4}-\d{2}-\d{2}|月报/\d{4}-\d{2})$")  # 上月, 去年同月: maybe not written
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Links written into the shipped templates themselves (the dashboard's 导航), not made from user text.
TEMPLATE_LINKS = {m for f in TEMPLATES.glob("*.j2") for m in UNESCAPED_LINK.findall(f.read_text(encoding="utf-8"))
                  if "{" not in m}


def body_of(text: str) -> str:
    """What follows the frontmatter's closing fence."""
    assert text.startswith("---\n"), text[:40]
    end = text.index("\n---\n", 4)
    return text[end + 5:]


def table_rows(text: str, marker: str) -> list[str]:
    start = text.index(f"<!-- vaultcrm:{marker} 开始 -->")
    end = text.index(f"<!-- vaultcrm:{marker} 结束 -->")
    return [line for line in text[start:end].splitlines() if line.startswith("|")]


OWN_RULES = body_of(render("dashboard.md.j2", today=AT)).splitlines().count("---")  # the template's own


@pytest.fixture
def studio(vault):
    return vault({"客户/C-0001 李四.md": customer("C-0001", "李四", "13800138000")}, config=CONFIG)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_is_stored_exactly_and_rendered_inert(studio, cli, name):
    booked = cli(studio, "book", f"--customer={name}", "--phone=13900001111", "--date", AT, "--time", "10:00",
                 "--service", "全身推拿", f"--note={name}", "--at", "2026-02-12 09:00")
    assert booked.exit_code == 0, booked.output
    logged = cli(studio, "log", "APP-2026-001", f"--effect={name}", f"--advice={name}", f"--todo={name}",
                 "--at", f"{AT} 11:05")
    assert logged.exit_code == 0, logged.output
    for args in (["remind", "--at", f"{AT} 08:00"], ["stats", "--at", f"{AT} 18:00"]):
        result = cli(studio, *args)
        assert result.exit_code == 0, result.output

    # -- the frontmatter reads back the exact value
    vault = load_vault(studio, use_cache=False)
    assert [d for d in vault.diagnostics if d.severity.name == "ERROR"] == []
    profile = vault.index.customers["C-0002"]
    appointment = vault.index.appointments["APP-2026-001"]
    service = vault.index.services["SRV-2026-001"]
    exact = name.strip()
    assert profile.name == exact and appointment.info.customer_name == exact and appointment.requests.other == exact
    assert service.customer.customer_name == exact and service.feedback.effect == exact
    assert service.aftercare.advice == exact and service.aftercare.follow_up_items == exact
    assert "C-9999" not in vault.index.customers

    # -- every body is inert
    stems = {p.stem for p in studio.rglob("*.md")} | {str(p.relative_to(studio).with_suffix("")) for p in studio.rglob("*.md")}
    for path in studio.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        body = body_of(text) if text.startswith("---\n") else text
        where = path.relative_to(studio)
        assert "<script" not in body and "<img" not in body, where
        for target in UNESCAPED_LINK.findall(body):
            target = target.split("|")[0]
            assert target in stems or target in TEMPLATE_LINKS or PERIOD_NOTE.match(target), (where, target)
            assert target != "C-0001 李四", where  # never to the customer the text named
        rules = body.splitlines().count("---")  # a line that would end (or start) a frontmatter
        assert rules == (OWN_RULES if path.name == "服务追踪表.md" else 0), where
        assert not re.search(r"^客户编号:", body, re.M), where
        headings = [line for line in body.splitlines() if line.startswith("# ")]
        assert len(headings) <= 1, (where, headings)
    for relpath in ("预约/APP-2026-001.md", "服务记录/SRV-2026-001.md", profile.path):
        body = body_of((studio / relpath).read_text(encoding="utf-8"))
        heading = [line for line in body.splitlines() if line.startswith("# ")]
        assert len(heading) == 1 and heading[0].endswith(markdown_inline(exact)), (relpath, heading)

    # -- tables keep their columns
    dashboard = (studio / "服务追踪表.md").read_text(encoding="utf-8")
    rows = table_rows(dashboard, "服务日志")
    assert len(rows) == 3, rows  # header, rule, our service
    assert {len(UNESCAPED_PIPE.findall(row)) for row in rows} == {9}
    day_note = (studio / "提醒" / f"{AT}.md").read_text(encoding="utf-8")
    rows = table_rows(day_note, "提醒记录")
    assert len(rows) > 2 and {len(UNESCAPED_PIPE.findall(row)) for row in rows} == {8}

    # -- and the vault still checks clean
    check = cli(studio, "check")
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize("name", ["张\x07三", "\x1b[31m红", "李\x00四", "王\x85五"])
def test_control_characters_are_refused_with_a_message(studio, cli, name):
    before = sorted(p.name for p in studio.rglob("*.md"))
    result = cli(studio, "book", f"--customer={name}", "--phone=13900001111", "--date", AT, "--time", "10:00",
                 "--service", "全身推拿", "--at", "2026-02-12 09:00")
    assert result.exit_code == 1, result.output
    assert "控制字符" in result.stderr and "客户姓名" in result.stderr
    assert sorted(p.name for p in studio.rglob("*.md")) == before


def unescape(text: str) -> str:
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_markdown_inline_is_one_inert_line_that_reads_as_the_text(text):
    out = markdown_inline(text)
    assert "\n" not in out and "\r" not in out and "\u2028" not in out
    assert "<" not in out and ">" not in out
    assert not UNESCAPED_LINK.search(out) and "[[" not in out.replace("\\[", "")
    assert "%%" not in out.replace("\\%", "")
    flat = re.sub(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+", " ", text)
    flat = re.sub(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", flat)
    assert unescape(out) == flat
