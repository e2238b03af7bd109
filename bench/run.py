"""Load benchmark: vaultcrm's loads as ratios to a bare "read + libyaml CSafeLoader" loop, in one process.

    python bench/run.py --sizes 10000 100000

For each size (a synthetic vault from bench/generate.py, made on first use) it times:
  baseline  — walk the vault, read each note, split the frontmatter, yaml.load(CSafeLoader)
  cold      — load_vault with no cache (parallel parsing on the cores there are)
  warm      — load_vault again, nothing changed
  one       — load_vault after one note changed
  stats     — `stats --date D --format json`'s work (load + daily figures) on the unchanged vault, if present
Targets on 100k notes: cold ≤ 0.5×, warm ≤ 0.1×, one changed ≤ 0.15×.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from vaultcrm.core.loader import load_vault  # noqa: E402

FENCE = re.compile(rb"^---\r?\n(.*?)^(?:---|\.\.\.)\s*$", re.S | re.M)


def baseline(root: Path) -> int:
    parsed = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(".md"):
                with open(os.path.join(folder, name), "rb") as fh:
                    raw = fh.read()
                m = FENCE.match(raw)
                if m:
                    yaml.load(m[1].decode("utf-8"), Loader=yaml.CSafeLoader)
                    parsed += 1
    return parsed


def timed(fn, *args, **kw):
    started = time.perf_counter()
    result = fn(*args, **kw)
    return time.perf_counter() - started, result


def daily_stats_work(root: Path):
    vault = load_vault(root)
    try:
        from vaultcrm.stats.figures import daily_figures
    except ImportError:
        return None
    import datetime as dt

    return daily_figures(vault.index, dt.date(2025, 6, 1))


def run(size: int) -> None:
    root = HERE / "vaults" / str(size)
    if not root.exists():
        print(f"generating {size} notes in {root} …", flush=True)
        generate(size, root)
    baseline(root)  # warm the OS page cache so every run reads from memory
    t_base, parsed = timed(baseline, root)
    shutil.rmtree(root / ".vaultcrm", ignore_errors=True)
    t_cold, vault = timed(load_vault, root)
    t_warm, _ = timed(load_vault, root)
    victim = next(iter(sorted((root / "预约").iterdir())))
    original = victim.read_bytes()
    try:
        victim.write_bytes(original + "\n手改一行。\n".encode())
        t_one, _ = timed(load_vault, root)
    finally:
        victim.write_bytes(original)
    load_vault(root)
    t_stats, figures = timed(daily_stats_work, root)
    print(f"\n{size} notes ({parsed} frontmatters, {len(vault.index.records)} records, {os.cpu_count()} cores)")
    print(f"  baseline read+CSafeLoader {t_base:8.3f} s   1.00×")
    for label, t, target in (("cold load", t_cold, 0.5), ("warm load", t_warm, 0.1), ("one changed", t_one, 0.15)):
        print(f"  {label:<25} {t:8.3f} s   {t / t_base:.3f}×  (target ≤ {target}×)")
    if figures is not None:
        print(f"  {'stats --date (warm)':<25} {t_stats:8.3f} s   {t_stats / t_base:.3f}×  (target ≤ 0.1×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10000])
    for size in parser.parse_args().sizes:
        run(size)


if __name__ == "__main__":
    main()
