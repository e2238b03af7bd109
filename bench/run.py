"""Load benchmark: vaultcrm's loads as ratios to a bare "read + libyaml CSafeLoader" loop, in one process.

    python bench/run.py --sizes 10000 100000            # issue 17's command table
    python bench/run.py --sizes 10000 --loads           # the load rows below as well
    python bench/run.py --sizes 100000 --no-watch --only "stats --date" agenda free   # some rows only

Every row of the command table (`bench/commands.py`) runs as a real `vaultcrm` process against the size's
vault, best of `--repeat` runs, as a ratio to the loop timed here; `check`, `stats` and `follow plan`
show their peak RSS; `backup` is shown beside a plain `zip -r`; `watch` is the time from saving a service
note until its daily note is rewritten; `--help` and a command on a small vault are in seconds.

With `--loads`, for each size (a synthetic vault from bench/generate.py, made on first use) it times:
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

import commands  # noqa: E402
from generate import generate  # noqa: E402

from vaultcrm.core.loader import load_vault  # noqa: E402

BUDGET_SIZE = 100_000  # issue 17's budgets are ratios measured on a vault of this many notes
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


def vault_of(size: int) -> Path:
    root = HERE / "vaults" / str(size)
    if not root.exists():
        print(f"generating {size} notes in {root} …", flush=True)
        generate(size, root)
    commands.snapshot(root)
    return root


def table(size: int, repeat: int, only: set[str] | None, watch: bool) -> None:
    root = vault_of(size)
    budgeted = size >= BUDGET_SIZE

    def verdict(within: bool) -> str:
        return ("ok" if within else "OVER") if budgeted else "n/a"

    baseline(root)  # warm the OS page cache so every run reads from memory
    t_base, parsed = min(timed(baseline, root) for _ in range(2))
    rows = commands.time_rows(root, repeat, only)
    watched = commands.watched_rows(root, repeat, only) if watch else {}
    t_base_after, _ = timed(baseline, root)  # the machine is shared: the loop again, after the rows
    t_base = min(t_base, t_base_after)
    print(f"\n{size} notes ({parsed} frontmatters), loop read+CSafeLoader {t_base:.3f} s, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"  {'command':<30} {'seconds':>8} {'ratio':>7} {'budget':>7}  {'peak RSS':>9}     "
          f"{'with watch running':>20}")
    for label, seconds, rss, budget in rows:
        ok = "" if label.startswith(" ") else verdict(seconds / t_base <= budget)
        memory = f"{rss / 2**20:7.0f} MB" if label in commands.MEMORY_ROWS else ""
        warm = ""
        if label in watched:
            limit = commands.WATCHED_BUDGET.get(label)
            within = "" if limit is None else (f" ≤{limit} s " + ("ok" if watched[label] <= limit else "OVER"))
            warm = f"{watched[label]:8.3f} s {watched[label] / t_base:6.3f}{within}"
        print(f"  {label:<30} {seconds:8.3f} {seconds / t_base:7.3f} {'≤' + str(budget):>7}  {memory:>9} {ok:<4} {warm}")
    if watch and (not only or "watch" in only):
        latencies = commands.watch_latency(root)
        if latencies:
            best = min(latencies)
            ok = verdict(best / t_base <= 0.05 and best < 1)
            print(f"  {'watch: save → daily note':<30} {best:8.3f} {best / t_base:7.3f} {'≤0.05':>7}  "
                  f"{'':>9} {ok}  (all: {', '.join(f'{x:.2f}' for x in latencies)})")
    if not budgeted:
        print(f"  (the ratio budgets are set for {BUDGET_SIZE:,} notes: at {size:,} a command is bound by Python's "
              "start-up and imports, not by the vault)")


def compare(size: int, repeat: int, other: Path, only: set[str] | None) -> None:
    """Before/after: every row run by `other` (another checkout's src/) and by this one, alternately."""
    root = vault_of(size)
    baseline(root)
    t_base, parsed = timed(baseline, root)
    rows = commands.compare_rows(root, repeat, other, only)
    t_base = min(t_base, timed(baseline, root)[0])
    print(f"\n{size} notes, loop {t_base:.3f} s, load average {os.getloadavg()[0]:.2f}; before = {other}")
    print(f"  {'command':<26} {'before s':>9} {'ratio':>7} {'after s':>9} {'ratio':>7} {'budget':>7}")
    for label, before, after, budget in rows:
        print(f"  {label:<26} {before:9.3f} {before / t_base:7.3f} {after:9.3f} {after / t_base:7.3f} "
              f"{'≤' + str(budget):>7} {'ok' if after / t_base <= budget else 'OVER'}")


def run(size: int) -> None:
    root = vault_of(size)
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
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the best counts")
    parser.add_argument("--only", nargs="*", help="only these rows (labels as printed)")
    parser.add_argument("--no-watch", action="store_true", help="skip the watch rows: save → daily note, and every command with a watch running")
    parser.add_argument("--loads", action="store_true", help="also the in-process load rows")
    parser.add_argument("--compare", type=Path, metavar="SRC",
                        help="before/after: run every row with this src/ folder too, alternately with this checkout's")
    args = parser.parse_args()
    if args.compare:
        for label_src in (args.compare, None):
            print(f"start-up, {label_src or commands.SRC}:")
            for label, seconds, _, budget in commands.startup_rows(args.repeat, label_src):
                print(f"  {label:<30} {seconds:8.3f} s  {'' if budget is None else '≤ ' + str(budget) + ' s'}")
        for size in args.sizes:
            compare(size, args.repeat, args.compare.resolve(), set(args.only) if args.only else None)
        return
    print("start-up (seconds, best of runs):")
    for label, seconds, _, budget in commands.startup_rows(args.repeat):
        verdict = "" if budget is None else ("ok" if seconds <= budget else "OVER")
        print(f"  {label:<30} {seconds:8.3f} s  {'' if budget is None else '≤ ' + str(budget) + ' s'} {verdict}")
    for size in args.sizes:
        table(size, args.repeat, set(args.only) if args.only else None, not args.no_watch)
        if args.loads:
            run(size)


if __name__ == "__main__":
    main()
