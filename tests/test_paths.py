"""User text never steers a write out of the vault, and user templates cannot reach Python internals.

Names reach file names (`客户/C-0001 张三.md`), folders may be symlinks to anywhere, and a vault's
`.vaultcrm/templates/` overrides are text anyone who can sync the vault can edit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2.sandbox import SecurityError

from vaultcrm.core import store
from vaultcrm.core.config import Settings
from vaultcrm.core.loader import load_vault
from vaultcrm.core.render import render
from vaultcrm.errors import VaultCRMError
from vaultcrm.models import Appointment, Customer
from vaultcrm.vault.writer import UnsafePathError, write_atomic

BOOK = ["book", "--date", "2026-02-13", "--time", "10:00", "--service", "全身推拿", "--at", "2026-02-12 09:00"]

HOSTILE_NAMES = ["../../etc/passwd", "CON", "a/b", "..", ".obsidian/app", "x\\y:z*?", "nul.txt", "\u202e逆序",
                 "/absolute", "~/home", "张三\n---\n预约编号: APP-2026-999"]


def notes_outside(root: Path) -> list[str]:
    """Markdown files written anywhere near the vault but not inside it."""
    return sorted(str(p) for p in root.parent.rglob("*.md") if not p.resolve().is_relative_to(root.resolve()))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_customer_name_cannot_steer_the_profile_out_of_its_folder(vault, name):
    root = vault({})
    created = store.create_record(root, Settings(), Customer(id="", name=name), [])
    path = root / created.path
    assert path.parent == root / "客户" and path.is_file()
    assert path.name.startswith("C-0001") and path.suffix == ".md"
    assert notes_outside(root) == []
    again = load_vault(root, use_cache=False).index.customers["C-0001"]
    assert again.name == name.strip()  # the name itself is kept, quoted, in the note


@pytest.mark.parametrize("name", ["../../etc/passwd", "CON", "a/b"])
def test_book_for_a_new_customer_with_a_hostile_name(cli, vault, name):
    root = vault({})
    result = cli(root, *BOOK, "--customer", name)
    assert result.exit_code == 0, result.output
    profiles = list((root / "客户").iterdir())
    assert len(profiles) == 1 and profiles[0].name.startswith("C-0001")
    assert [p.name for p in (root / "预约").iterdir()] == ["APP-2026-001.md"]
    assert notes_outside(root) == []


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def test_customer_folder_that_is_a_symlink_out_of_the_vault_is_refused(cli, vault, outside):
    root = vault({})
    (root / "客户").symlink_to(outside, target_is_directory=True)
    result = cli(root, *BOOK, "--customer", "张三")
    assert result.exit_code == 1
    assert "「客户」文件夹是指向库外" in result.stderr and str(outside) in result.stderr
    assert "Traceback" not in result.output
    assert list(outside.iterdir()) == []
    assert not (root / "预约").exists() or list((root / "预约").iterdir()) == []


def test_symlink_inside_the_vault_is_fine(vault):
    root = vault({})
    (root / "档案").mkdir()
    (root / "客户").symlink_to(root / "档案", target_is_directory=True)
    created = store.create_record(root, Settings(), Customer(id="", name="张三"), [])
    assert (root / "档案" / "C-0001 张三.md").is_file() and created.path == "客户/C-0001 张三.md"


APP = """---
预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
预约状态:
  当前状态: 待服务
---
"""


def test_update_through_a_folder_that_now_points_outside_is_refused(vault, outside):
    root = vault({"预约/APP-2026-001.md": APP})
    record = load_vault(root, use_cache=False).index.appointments["APP-2026-001"]
    (outside / "APP-2026-001.md").write_text(APP, encoding="utf-8")
    (root / "预约" / "APP-2026-001.md").unlink()
    (root / "预约").rmdir()
    (root / "预约").symlink_to(outside, target_is_directory=True)  # swapped behind our back
    with pytest.raises(VaultCRMError, match="「预约」文件夹是指向库外"):
        store.update_record(root, record, {("预约状态", "当前状态"): "已确认"})
    assert (outside / "APP-2026-001.md").read_text(encoding="utf-8") == APP


@pytest.mark.parametrize("relpath", ["../APP-2026-001.md", "/etc/APP.md", ".obsidian/APP.md", "a/../../x.md"])
def test_update_of_a_path_outside_the_vault_is_refused(vault, relpath):
    root = vault({})
    record = Appointment.model_validate({"预约编号": "APP-2026-001", "path": relpath})
    with pytest.raises(VaultCRMError):
        store.update_record(root, record, {("预约状态", "当前状态"): "已确认"})


def test_write_atomic_within_the_vault_refuses_what_lands_outside(vault, outside):
    root = vault({})
    (root / "统计").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        write_atomic(root / "统计" / "x.md", b"x", within=root)
    with pytest.raises(UnsafePathError):
        write_atomic(outside / "y.md", b"y", within=root)
    assert list(outside.iterdir()) == []
    assert write_atomic(root / "ok.md", b"ok", within=root) is True


# -- user templates run sandboxed -------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ a.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ a.model_config.update({'x': 1}) }}",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_template_escapes_raise_security_error(tmp_path, escape):
    (tmp_path / "appointment.md.j2").write_text(escape, encoding="utf-8")
    a = Appointment.model_validate({"预约编号": "APP-2026-001"})
    with pytest.raises(VaultCRMError, match="试图访问不允许的内容") as info:
        render("appointment.md.j2", tmp_path, a=a)
    assert isinstance(info.value.__cause__, SecurityError)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("escape", ESCAPES[:3])
def test_book_with_an_escaping_override_template_is_a_clear_refusal(cli, vault, escape):
    root = vault({".vaultcrm/templates/appointment.md.j2": escape})
    cwd = os.getcwd()
    result = cli(root, *BOOK, "--customer", "张三")
    assert result.exit_code == 1
    assert "自定义模板" in result.stderr and "appointment.md.j2" in result.stderr and "不允许" in result.stderr
    assert "Traceback" not in result.output and "意外错误" not in result.output
    assert not (root / ".vaultcrm" / "logs" / "crash.log").exists()
    assert not (root / "预约").exists() or list((root / "预约").iterdir()) == []
    assert not Path(cwd, "PWNED").exists()


def test_broken_override_template_names_its_file(cli, vault):
    root = vault({".vaultcrm/templates/appointment.md.j2": "---\n预约编号: {{ a.id \n"})
    result = cli(root, *BOOK, "--customer", "张三")
    assert result.exit_code == 1 and "自定义模板" in result.stderr and "有误" in result.stderr
    assert "Traceback" not in result.output
