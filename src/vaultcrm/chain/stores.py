"""`init --store CODE`: make this machine one store of a chain.

It records the store in machine-local state (`.vaultcrm/store`, not synced), makes sure `vaultcrm.yaml`
lists the store, and prepares the git clone: `.gitignore` keeps machine state and regenerated notes
out of the shared repository, `.gitattributes` sends notes through vaultcrm's field-wise merge driver,
and the clone's own config names that driver as this interpreter running vaultcrm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import CONFIG_NAME, load_settings
from ..core.index import VaultIndex
from ..core.stores import STORE_CODE, STORE_FILE, of_store, write_machine_store
from ..errors import VaultCRMError
from ..vault.state import read_state
from ..vault.writer import write_atomic
from .gitrun import DRIVER_NAME, driver_command, is_repository, refuse_unsafe_config, run_git
from .report import store_settings

ATTRIBUTES_LINE = f"*.md merge={DRIVER_NAME}"


@dataclass
class StoreSetup:
    store: str
    changed: list[str] = field(default_factory=list)  # what was written, for the user
    notes: list[str] = field(default_factory=list)  # what the user still has to do


def check_code(code: str) -> str:
    code = code.strip().upper()
    if not STORE_CODE.match(code):
        raise VaultCRMError(f"门店代码「{code}」无效：应为大写字母开头的 2–10 位字母或数字，如 SH01")
    return code


def refuse_unknown_store(root: Path, code: str) -> None:
    """Before `init` writes anything: a config listing other stores but not this one is a typo."""
    text = _read_text(root / CONFIG_NAME)
    if text is None:
        return
    import yaml

    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError:
        return  # load_settings reports it with its line
    stores = data.get("门店") if isinstance(data, dict) else None
    if isinstance(stores, dict) and stores and code not in stores:
        raise VaultCRMError(f"门店 {code} 不在 {CONFIG_NAME} 的 门店 中（有：{'、'.join(map(str, stores))}）；"
                            "请先在配置中加入该门店，或检查代码是否写错（未写入任何内容）")


def setup_store(root: Path, code: str) -> StoreSetup:
    code = check_code(code)
    refuse_unknown_store(root, code)
    done = StoreSetup(code)
    config = root / CONFIG_NAME
    text = _read_text(config) or ""
    import yaml

    data = yaml.load(text, Loader=yaml.CSafeLoader) or {} if text else {}
    if not (isinstance(data, dict) and isinstance(data.get("门店"), dict)):
        addition = f"\n# 连锁门店：每家店的代码、名称，以及与总配置不同的 技师、房间、营业时间\n门店:\n  {code}:\n    名称: {code}\n"
        write_atomic(config, (text.rstrip("\n") + "\n" + addition).encode("utf-8"), within=root)
        done.changed.append(f"{CONFIG_NAME}（加入 门店.{code}）")
    write_machine_store(root, code)
    load_settings(root)  # the config with this store must load, or nothing below is worth doing
    done.changed.append(f"{STORE_FILE}（本机门店 {code}，不同步）")
    settings, _ = load_settings(root)
    f = settings.folders
    ignored = ["# vaultcrm：本机状态（缓存、锁、日志、备份、本机门店）不共享", ".vaultcrm/*", "!.vaultcrm/templates/",
               "# 每家店的 vaultcrm stats / remind 会重新生成，不共享，因此不会冲突",
               f"{f.daily}/", f"{f.monthly}/", f"{f.schedule}/", f"{f.reminders}/",
               "# Obsidian 本机的窗口布局", ".obsidian/workspace*.json",
               "# git 合并笔记时的临时文件（合并被打断时会留下）", ".merge_file_*"]
    if _ensure_lines(root, ".gitignore", ignored):
        done.changed.append(".gitignore")
    if _ensure_lines(root, ".gitattributes", ["# vaultcrm：笔记按 YAML 字段合并（vaultcrm merge-driver）", ATTRIBUTES_LINE]):
        done.changed.append(".gitattributes")
    if is_repository(root):
        run_git(root, "config", "--local", "--unset-all", f"merge.{DRIVER_NAME}.driver")
        refuse_unsafe_config(root)
        run_git(root, "config", "--local", f"merge.{DRIVER_NAME}.name", "vaultcrm field-wise merge", check=True)
        run_git(root, "config", "--local", f"merge.{DRIVER_NAME}.driver", driver_command(), check=True)
        done.changed.append(f".git/config（合并驱动 merge.{DRIVER_NAME}）")
    else:
        done.notes.append("本库还不是 git 仓库：请先从总部仓库 git clone 到本机，再在克隆里运行 vaultcrm init --store "
                          f"{code}（或在此 git init 并 git remote add origin 总部仓库地址 后再运行一次）")
    return done


def _read_text(path: Path) -> str | None:
    raw = read_state(path, 1 << 20, follow_symlinks=False)
    return None if raw is None else raw.decode("utf-8-sig", "replace")


def _ensure_lines(root: Path, name: str, lines: list[str]) -> bool:
    """Append to `name` the lines it lacks (comments only with what they introduce); False if none."""
    text = _read_text(root / name) or ""
    have = {line.strip() for line in text.splitlines()}
    missing = [line for line in lines if not line.startswith("#") and line not in have]
    if not missing:
        return False
    block = [line for line in lines if line.startswith("#") or line in missing]
    new = (text.rstrip("\n") + "\n" if text.strip() else "") + "\n".join(block) + "\n"
    write_atomic(root / name, new.encode("utf-8"), within=root)
    return True




def for_store(vault, store: str | None):
    """(index, settings) of one store of the chain (`--store CODE`), or of the whole vault without one.

    Customer profiles are the chain's: they stay; appointments, services and follow-ups are the store's.
    """
    if store is None:
        return vault.index, vault.settings
    code = check_code(store)
    if code not in vault.settings.stores:
        known = "、".join(vault.settings.stores) or "（没有：vaultcrm.yaml 中没有 门店）"
        raise VaultCRMError(f"未知的门店「{code}」，vaultcrm.yaml 的 门店 中有：{known}")
    index = vault.index
    records = [*index.customers.values(), *of_store(index.appointments.values(), code),
               *of_store(index.services.values(), code), *of_store(index.followups.values(), code)]
    return VaultIndex(vault.root, records), store_settings(vault.settings, code)


__all__ = ["ATTRIBUTES_LINE", "StoreSetup", "check_code", "for_store", "refuse_unknown_store", "setup_store"]
