"""The Obsidian Bases views `init` writes: valid YAML, real properties, documented functions, never overwritten."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from conftest import REPO, run_cli
from vaultcrm.core.config import Folders
from vaultcrm.init.scaffold import bases, init_vault

# Functions the Bases expression language documents, and only those we allow ourselves to use:
# https://help.obsidian.md/bases/functions (global: date, duration, if, list, now, number, today;
# any: isEmpty; date: format, relative; list/string: contains; file: hasTag, inFolder) and the syntax page
# https://help.obsidian.md/bases/syntax (filters, formulas, properties, views with type/name/filters/order/
# sort/groupBy, the `note.`, `file.` and `formula.` prefixes, and date arithmetic such as `today() + "7d"`).
DOCUMENTED_FUNCTIONS = {"date", "duration", "if", "list", "now", "number", "today", "isEmpty", "format", "relative",
                        "contains", "hasTag", "inFolder"}
FILE_PROPERTIES = {"file.name", "file.ext", "file.path", "file.folder", "file.mtime", "file.ctime", "file.tags"}
VIEW_KEYS = {"type", "name", "filters", "order", "sort", "groupBy", "limit"}

FOLDER_OF = {"预约.base": "预约", "客户.base": "客户", "跟进.base": "跟进"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("bases")
    init_vault(root)
    return {name: (root / name).read_text(encoding="utf-8") for name in FOLDER_OF}


@pytest.fixture(scope="module")
def example_notes():
    """Each folder's frontmatters in the example vault."""
    notes = {}
    for folder in FOLDER_OF.values():
        found = []
        for path in sorted((REPO / "example_vault" / folder).glob("*.md")):
            text = path.read_text(encoding="utf-8")
            found.append(yaml.safe_load(text.split("---", 2)[1]))
        notes[folder] = found
    return notes


def expressions(base: dict) -> list[str]:
    """Every expression in a base: global and view filters, formulas."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                assert key in ("and", "or", "not"), f"filter key {key}"
                walk(value)

    walk(base.get("filters"))
    for view in base["views"]:
        walk(view.get("filters"))
    found.extend(base.get("formulas", {}).values())
    return found


def property_refs(base: dict) -> set[str]:
    refs = set()
    for text in expressions(base):
        for match in re.finditer(r"\b(?:note|file|formula)(?:\.[^\s.()\[\]\"'!=<>+,]+)+", text):
            ref = match.group(0)
            if text[match.end():match.end() + 1] == "(":  # a method call: file.inFolder(…), x.relative()
                ref = ref.rsplit(".", 1)[0]
            if ref not in ("file", "note", "formula"):
                refs.add(ref)
    for view in base["views"]:
        refs |= set(view.get("order", []))
        refs |= {s["property"] for s in view.get("sort", [])}
        if "groupBy" in view:
            refs.add(view["groupBy"]["property"])
    refs |= set(base.get("properties", {}))
    return refs


def has_path(frontmatter: dict, path: list[str]) -> bool:
    node = frontmatter
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


@pytest.mark.parametrize("name", FOLDER_OF)
def test_each_base_is_yaml_with_table_views(generated, name):
    base = yaml.safe_load(generated[name])
    assert set(base) <= {"filters", "formulas", "properties", "views", "summaries"}
    assert base["views"] and all(v["type"] == "table" and v["name"] for v in base["views"])
    assert all(set(v) <= VIEW_KEYS for v in base["views"])
    assert f'file.inFolder("{FOLDER_OF[name]}")' in base["filters"]["and"]


def test_the_views_the_issue_asks_for(generated):
    names = {n: [v["name"] for v in yaml.safe_load(t)["views"]] for n, t in generated.items()}
    assert names["预约.base"] == ["今天", "本周", "按技师", "按状态"]
    assert names["客户.base"][0] == "流失预警" and {"按会员等级", "按分群标签"} <= set(names["客户.base"])
    assert {"到期与逾期", "逾期"} <= set(names["跟进.base"])


@pytest.mark.parametrize("name", FOLDER_OF)
def test_every_property_a_base_names_exists_in_the_example_vault(generated, example_notes, name):
    base = yaml.safe_load(generated[name])
    notes = example_notes[FOLDER_OF[name]]
    assert notes
    formulas = set(base.get("formulas", {}))
    for ref in sorted(property_refs(base)):
        kind, *path = ref.split(".")
        if kind == "file":
            assert ref in FILE_PROPERTIES, ref
        elif kind == "formula":
            assert path[0] in formulas, f"{name}: formula {path[0]} is not defined"
        else:
            assert kind == "note", f"{name}: {ref} must name its source (note./file./formula.)"
            assert any(has_path(fm, path) for fm in notes), f"{name}: no example note has {'.'.join(path)}"


@pytest.mark.parametrize("name", FOLDER_OF)
def test_filters_and_formulas_use_only_documented_functions(generated, name):
    base = yaml.safe_load(generated[name])
    for text in expressions(base):
        for function in re.findall(r"([A-Za-z_]\w*)\s*\(", text):
            assert function in DOCUMENTED_FUNCTIONS, f"{name}: {function}() in {text!r}"


def test_the_allow_list_can_fail():
    fake = {"views": [{"type": "table", "name": "x", "filters": 'note.a.b.daysSince(now()) > 3'}]}
    assert [f for t in expressions(fake) for f in re.findall(r"([A-Za-z_]\w*)\s*\(", t)
            if f not in DOCUMENTED_FUNCTIONS] == ["daysSince"]


def test_bases_follow_the_configured_folders(tmp_path):
    (tmp_path / "vaultcrm.yaml").write_text("目录:\n  预约: 日程/预约\n  客户: 档案\n", encoding="utf-8")
    init_vault(tmp_path)
    assert 'file.inFolder("日程/预约")' in (tmp_path / "预约.base").read_text(encoding="utf-8")
    assert 'file.inFolder("档案")' in (tmp_path / "客户.base").read_text(encoding="utf-8")
    assert [name for name, _, _ in bases(Folders())] == list(FOLDER_OF)


def test_init_upgrade_adds_missing_bases_and_leaves_changed_ones(tmp_path):
    root = tmp_path / "vault"
    shutil.copytree(REPO / "example_vault", root, ignore=shutil.ignore_patterns(".vaultcrm", "*.py"))
    assert not (root / "预约.base").exists()
    (root / "客户.base").write_text("# 我改过的视图\nviews: []\n", encoding="utf-8")
    config_before = (root / "vaultcrm.yaml").read_bytes()
    dashboard_before = (root / "服务追踪表.md").read_bytes()
    proc = run_cli("--vault", str(root), "init", "--upgrade")
    assert proc.returncode == 0, proc.stderr
    assert "已创建 预约.base" in proc.stdout and "已创建 跟进.base" in proc.stdout
    assert "已存在，未改动 客户.base" in proc.stdout
    assert (root / "客户.base").read_text(encoding="utf-8") == "# 我改过的视图\nviews: []\n"
    assert (root / "vaultcrm.yaml").read_bytes() == config_before
    assert (root / "服务追踪表.md").read_bytes() == dashboard_before
    yaml.safe_load((root / "预约.base").read_text(encoding="utf-8"))
    again = run_cli("--vault", str(root), "init", "--upgrade")
    assert again.returncode == 0 and "已创建" not in again.stdout


def test_init_upgrade_refuses_a_folder_that_is_not_a_vault(tmp_path):
    proc = run_cli("--vault", str(tmp_path), "init", "--upgrade")
    assert proc.returncode == 1 and "还不是 vaultcrm 库" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_new_dashboard_links_only_to_notes_that_exist(tmp_path):
    import re

    from vaultcrm.init.scaffold import init_vault

    root = tmp_path / "库"
    init_vault(root)
    text = (root / "服务追踪表.md").read_text(encoding="utf-8")
    links = [target.split("|")[0] for target in re.findall(r"\[\[([^\]]+)\]\]", text)]
    assert links, text
    assert all((root / link).exists() or (root / f"{link}.md").exists() for link in links), links
