"""Service SOPs (标准流程): the steps a service lists in config, ticked at `log` or later in Obsidian.

The SRV note carries them as a Markdown checklist under `## 服务流程` (the template writes it, the
reader reads it back after staff tick boxes by hand), so they live in the body: Obsidian's Properties
panel cannot tick a nested list, and its frontmatter rewrites never touch the body. Pure: settings
and records in, values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.config import Settings
from ..errors import VaultCRMError
from ..models.service import SopStep

ALL = ("all", "全部", "所有")
NONE = ("none", "无", "不勾选")


@dataclass(frozen=True)
class StepSelection:
    """Which steps `log --steps` ticks: every one, or these (1-based numbers or step names)."""

    every: bool = False
    picked: tuple[str, ...] = ()


def parse_selection(text: str) -> StepSelection:
    """`all`/`全部`, `none`, or `1,2,4` / `热敷,拉伸` (commas, 、 or spaces between)."""
    words = [w for w in re.split(r"[\s,，、;；]+", text.strip()) if w]
    if not words:
        raise ValueError("应写作 all、none 或步骤序号如 1,2,4")
    if len(words) == 1 and words[0].lower() in ALL:
        return StepSelection(every=True)
    if len(words) == 1 and words[0].lower() in NONE:
        return StepSelection()
    return StepSelection(picked=tuple(words))


def service_steps(settings: Settings, service: str | None) -> list[str]:
    conf = settings.services.get(service or "")
    return list(conf.steps) if conf else []


def _numbered(steps: list[str]) -> str:
    return " ".join(f"{i}.{name}" for i, name in enumerate(steps, 1))


def ticked_steps(settings: Settings, service: str | None, selection: StepSelection | None) -> list[SopStep]:
    """The SRV's checklist for `service`: the configured steps, those `selection` names ticked.

    A number out of range or an unknown name is refused (VaultCRMError) with the steps listed."""
    steps = service_steps(settings, service)
    if not steps:
        if selection is not None and (selection.every or selection.picked):
            raise VaultCRMError(f"服务项目「{service or '未填'}」没有配置服务流程（vaultcrm.yaml 中 服务项目.{service}.流程），"
                                "无法勾选 --steps")
        return []
    done: set[str] = set(steps) if selection is not None and selection.every else set()
    unknown = []
    for word in selection.picked if selection is not None else ():
        if word.isdigit() and 1 <= int(word) <= len(steps):
            done.add(steps[int(word) - 1])
        elif word in steps:
            done.add(word)
        else:
            unknown.append(word)
    if unknown:
        raise VaultCRMError(f"--steps 中的「{'、'.join(unknown)}」不是「{service}」的流程步骤；"
                            f"可用序号或名称：{_numbered(steps)}")
    return [SopStep(name=name, done=name in done) for name in steps]


__all__ = ["StepSelection", "parse_selection", "service_steps", "ticked_steps"]
