"""The main job on a copy of the example vault: book → log → remind → stats, printing what happens.

    python example_vault/demo.py [TARGET]      # TARGET defaults to ./demo_vault

The committed example_vault/ is never modified: it is copied to TARGET first (replacing an earlier
demo copy). The example's clock stands at 2026-11-23 15:00, so every step passes `--at`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = "2026-11-23 15:00"


def run(vault: Path, title: str, *args: str, ok_codes=(0,)) -> str:
    print(f"\n\033[1m▶ {title}\033[0m\n$ vaultcrm {' '.join(args)}", flush=True)
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "120")}
    proc = subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(vault), *args],
                          capture_output=True, text=True, env=env)
    print(proc.stdout.rstrip())
    if proc.stderr.strip():
        print(proc.stderr.rstrip())
    if proc.returncode not in ok_codes:
        sys.exit(f"demo step failed with exit code {proc.returncode}: vaultcrm {' '.join(args)}")
    return proc.stdout


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd() / "demo_vault"
    if target.resolve() == HERE:
        sys.exit("refusing to run the demo on the committed example vault itself")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(HERE, target, ignore=shutil.ignore_patterns("generate.py", "demo.py", ".vaultcrm", "__pycache__"))
    print(f"已复制示例库到 {target}")

    run(target, "检查库（check）", "check")
    run(target, "一位新客户打电话预约明天下午的足疗（book）", "book", "--customer", "林晓", "--phone", "13911112222",
        "--date", "2026-11-24", "--time", "17:30", "--service", "足疗", "--technician", "陈技师", "--channel", "电话",
        "--strength", "中",
        "--note", "第一次来，朋友推荐", "--by", "前台小林", "--at", NOW)
    run(target, "同一时段再约同一位技师：冲突会被拒绝并给出可选时间（book）", "book", "--customer", "周先生",
        "--phone", "13912345678", "--date", "2026-11-24", "--time", "18:00", "--service", "足疗",
        "--technician", "陈技师", "--at", NOW, ok_codes=(0, 1))
    run(target, "明天的排班看板（agenda）", "agenda", "--date", "2026-11-24", "--at", NOW)
    run(target, "明天还有哪些时间能做足疗（free）", "free", "--service", "足疗", "--date", "2026-11-24",
        "--limit", "5", "--at", NOW)
    in_progress = _in_progress_appointment(target)
    run(target, f"正在服务的 {in_progress} 做完了，记录服务（log）", "log", in_progress, "--satisfaction", "不满意",
        "--stars", "2", "--effect", "肩颈仍紧", "--suggestion", "希望力度再轻一点", "--after-notes", "右肩压痛明显",
        "--advice", "三天后复诊", "--by", "店长", "--at", NOW)
    run(target, "查看到期的回访（follow list --due）", "follow", "list", "--due", "--at", NOW)
    run(target, "定时任务会做的：列出到期提醒（remind）", "remind", "--at", NOW)
    run(target, "更新日报、月报和服务追踪表（stats）", "stats")
    run(target, "今天的统计（stats --date … --format json）", "stats", "--date", "2026-11-23", "--format", "json")
    run(target, "本月的统计（stats --month … --format json）", "stats", "--month", "2026-11", "--format", "json")
    print(f"\n完成。用 Obsidian 打开 {target} 查看预约、服务记录、提醒和统计笔记。")


def _in_progress_appointment(vault: Path) -> str:
    """The example's one appointment that is 服务中 at its 'now'."""
    for path in sorted((vault / "预约").glob("APP-*.md")):
        if "当前状态: 服务中" in path.read_text(encoding="utf-8"):
            return path.stem
    sys.exit("the example vault has no appointment in progress")


if __name__ == "__main__":
    main()
