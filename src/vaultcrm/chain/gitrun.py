"""Running `git` on a vault without letting the vault run code.

A vault is shared, and its folder may be synced by other means too: a `.git/config` planted there could
name a hook folder, an fsmonitor, a filter, a merge driver, an ssh command or an upload-pack program,
and git would run it. So, before any other git command, the repository's own config is read (reading
runs nothing) and refused when it holds a key that makes git execute something — except the one merge
driver vaultcrm itself installs, pointing at this very interpreter. Every command then runs with hooks
and fsmonitor switched off on the command line (which beats any config file), the `ext::` transport
forbidden, no terminal prompts, and our merge driver given on the command line as well.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import VaultCRMError

DRIVER_NAME = "vaultcrm"


def driver_command() -> str:
    """The merge driver line: this interpreter running vaultcrm, never a program found in the vault."""
    return f"{shlex.quote(sys.executable)} -m vaultcrm merge-driver %O %A %B %P"


# Config keys (lower case, as `git config --list` prints them) that make git run a program.
_EXEC_KEYS = re.compile(
    r"^(?:core\.(?:fsmonitor|sshcommand|hookspath|editor|pager|askpass|gitproxy|alternaterefsCommand)"
    r"|diff\.external|diff\..+\.(?:command|textconv)|filter\..+\.(?:clean|smudge|process)"
    r"|merge\..+\.driver|mergetool\..+|difftool\..+|sequence\.editor|gpg\..*program|credential\..*helper"
    r"|include\.path|includeif\..+|remote\..+\.(?:uploadpack|receivepack|vcs)|uploadpack\..+hook"
    r"|ssh\.variant"
    r"|receive\.procreceiverefs|transfer\.credentialsinurl)$",
    re.IGNORECASE,
)

SAFE_OPTIONS = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "protocol.ext.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "core.quotePath=false",
    "-c", f"merge.{DRIVER_NAME}.name=vaultcrm field-wise merge",
)


@dataclass
class GitResult:
    code: int
    out: str
    err: str


class GitMissing(VaultCRMError):
    pass


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_ASKPASS="",
               SSH_ASKPASS="", GIT_SSH_COMMAND="ssh -o BatchMode=yes -o ConnectTimeout=15")
    return env


def run_git(root: Path, *args: str, check: bool = False, timeout: float = 120, env: dict | None = None) -> GitResult:
    """`git` in the vault with the safe options; no config key from the vault can make it run anything."""
    command = ["git", *SAFE_OPTIONS, "-c", f"merge.{DRIVER_NAME}.driver={driver_command()}", *args]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout,
                              env={**git_env(), **(env or {})}, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitMissing("没有找到 git 命令：连锁同步需要安装 git（如 apt install git）") from None
    except subprocess.TimeoutExpired:
        raise VaultCRMError(f"git {args[0]} 超过 {timeout:g} 秒没有完成（网络太慢或远程仓库无响应），请稍后重试") from None
    result = GitResult(done.returncode, done.stdout, done.stderr)
    if check and result.code != 0:
        raise VaultCRMError(f"git {' '.join(args[:2])} 失败：{result.err.strip() or result.out.strip()}")
    return result


def is_repository(root: Path) -> bool:
    return (root / ".git").exists()


def unsafe_config(root: Path) -> list[str]:
    """Keys of the repository's own config (`.git/config`) that would make git run a program."""
    listed = run_git(root, "config", "--local", "--list", "--includes")
    bad = []
    ours = f"merge.{DRIVER_NAME}.driver"
    for line in listed.out.splitlines():
        key, _, value = line.partition("=")
        if key.lower() == ours and value == driver_command():
            continue
        if _EXEC_KEYS.match(key):
            bad.append(f"{key}={value}")
    return bad


def refuse_unsafe_config(root: Path) -> None:
    bad = unsafe_config(root)
    if bad:
        raise VaultCRMError(
            f"{root / '.git' / 'config'} 中有会让 git 执行程序的设置，为安全起见 vaultcrm 不会运行 git："
            "请确认这些设置是您自己加的，不需要就删除（git config --local --unset 键名）；"
            f"连锁同步所需的合并驱动可用 vaultcrm init --store 重新安装", details=bad[:10])


__all__ = ["DRIVER_NAME", "GitMissing", "GitResult", "driver_command", "git_env", "is_repository",
           "refuse_unsafe_config", "run_git", "unsafe_config"]
