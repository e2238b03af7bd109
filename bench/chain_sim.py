"""Simulate a chain of stores on git: N store clones of one bare repository, each booking through the day
and syncing every few (simulated) minutes, for a number of days. Real git, real notes, real merges.

    python bench/chain_sim.py --stores 20 --days 30 --bookings 100 --sync-every 5      # the full month
    python bench/chain_sim.py --stores 3 --days 2 --bookings 20 --sync-every 60        # a quick look
    python bench/chain_sim.py --dir /var/tmp/chain ...; touch /var/tmp/chain/STOP      # a month in parts:
    python bench/chain_sim.py --dir /var/tmp/chain --days 30                            # … carried on later

Each store's round books its share of the day (store-coded IDs through core/store.create_record under
the ID lock; with `--log` it logs each one's service too, a second note per booking) and edits a customer
profile that every store shares (a tag and a field: merges happen), then runs `vaultcrm sync`'s code. Stores run their rounds concurrently (threads; git runs in
subprocesses). At the end every store syncs twice more, and one fresh clone is checked: notes lost,
duplicate IDs, conflict markers, the chain report's time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from vaultcrm.chain.report import store_report  # noqa: E402
from vaultcrm.chain.stores import setup_store  # noqa: E402
from vaultcrm.chain.sync import sync  # noqa: E402
from vaultcrm.core.config import load_settings  # noqa: E402
from vaultcrm.core.loader import load_vault  # noqa: E402
from vaultcrm.core.store import create_record  # noqa: E402
from vaultcrm.models import Appointment, ServiceRecord  # noqa: E402
from vaultcrm.stats.periods import Month  # noqa: E402
from vaultcrm.vault.edit import edit_frontmatter  # noqa: E402

SHARED = "客户/C-0001 共享客户.md"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, check=True, capture_output=True)


def setup(base: Path, n: int) -> list[tuple[str, Path]]:
    hq = base / "hq.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(hq))
    codes = [f"S{i:02d}" for i in range(1, n + 1)]
    seed = base / "seed"
    git(base, "clone", "-q", str(hq), str(seed))
    git(seed, "checkout", "-q", "-B", "main")
    stores = "\n".join(f"  {c}:\n    名称: 门店{c}" for c in codes)
    (seed / "vaultcrm.yaml").write_text(f"服务项目:\n  全身推拿: {{时长: 60分钟, 价格: ¥198}}\n门店:\n{stores}\n", encoding="utf-8")
    (seed / "客户").mkdir()
    (seed / SHARED).write_text("---\n客户编号: C-0001\n客户姓名: 共享客户\n健康档案:\n  健康关注:\n标签:\n---\n\n## 备注\n",
                               encoding="utf-8")
    git(seed, "add", "-A")
    git(seed, "-c", "user.name=hq", "-c", "user.email=hq@x", "commit", "-qm", "chain")
    git(seed, "push", "-q", "origin", "main")
    clones = []
    for code in codes:
        where = base / code
        git(base, "clone", "-q", str(hq), str(where))
        git(where, "config", "user.name", code)
        git(where, "config", "user.email", f"{code}@x")
        setup_store(where, code)
        clones.append((code, where))
    return clones


def round_of(code: str, root: Path, day: dt.date, start_minute: int, count: int, created: list[str],
             log: bool = False) -> dict:
    """One store's round. The IDs it allocates are store-coded, so no other store's notes can take one:
    the store's own IDs so far (`created`) are all `create_record` needs, and the front desk's vault load
    (measured by `bench/run.py`, not here) is left out of the chain's figures."""
    settings, _ = load_settings(root)
    known = {i for i in created if i.startswith("APP-")}
    known_services = {i for i in created if i.startswith("SRV-")}
    began = time.perf_counter()
    for i in range(count):
        minute = start_minute + i * 5
        at = f"{9 + minute // 60 % 12:02d}:{minute % 60:02d}"
        record = Appointment.model_validate({"预约编号": "APP-2026-000", "预约信息": {
            "客户姓名": f"客{code}{i}", "预约日期": day, "预约时间": at},
            "服务信息": {"服务项目": "全身推拿", "服务时长": 60}, "预约状态": {"当前状态": "已完成"}})
        made = create_record(root, settings, record, known, year=day.year)
        known.add(made.id)
        created.append(made.id)
        if log:  # the service logged, as `vaultcrm log` writes it: a second note for every booking
            service = ServiceRecord.model_validate({"服务编号": "", "服务基本信息": {
                "服务日期": day, "服务时间": at, "服务时长": 60}, "客户信息": {"客户姓名": f"客{code}{i}"},
                "服务信息": {"服务项目": "全身推拿", "服务费用": "198"}})
            logged = create_record(root, settings, service, known_services, year=day.year)
            known_services.add(logged.id)
            created.append(logged.id)
    booked = time.perf_counter() - began
    shared = root / SHARED  # every store touches the shared profile: a tag of its own and one common field
    text = shared.read_text(encoding="utf-8")
    text = edit_frontmatter(text, {("健康档案", "健康关注"): f"{code} {day} {start_minute}"},
                            append={("标签",): [f"{code}-{day}-{start_minute}"]})
    shared.write_text(text, encoding="utf-8")
    began = time.perf_counter()
    result = sync(root, settings, lock_wait=60)
    return {"store": code, "booked": count, "book_s": booked, "sync_s": time.perf_counter() - began,
            "conflicts": len(result.conflicts)}


def verify(base: Path, clones: list[tuple[str, Path]], created: dict[str, list[str]], log: list[dict],
           wall: float, args: argparse.Namespace, days: int) -> dict:
    """Every store syncs twice (its day closed), then one fresh clone of HQ is checked."""
    for _ in range(2):
        for code, root in clones:
            settings, _ = load_settings(root)
            sync(root, settings, lock_wait=60)
    final = base / f"check-{days}"
    git(base, "clone", "-q", str(base / "hq.git"), str(final))
    vault = load_vault(final)
    made = {i for ids in created.values() for i in ids}
    present = set(vault.index.appointments.keys()) | set(vault.index.services.keys())
    markers = sum(1 for p in final.rglob("*.md") if "<<<<<<<" in p.read_text(encoding="utf-8", errors="replace"))
    clones_equal = all(
        (root / SHARED).read_bytes() == (final / SHARED).read_bytes() for _, root in clones)
    began = time.perf_counter()
    store_report(vault.index, vault.settings, Month(2026, 3))
    report_s = time.perf_counter() - began
    total_booked = sum(e["booked"] for e in log)
    by_round: dict[int, list[float]] = {}
    for e in log:
        by_round.setdefault(e["round"], []).append(e["sync_s"])
    rounds = sorted(by_round)
    commits = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=final, capture_output=True, text=True).stdout
    subprocess.run(["rm", "-rf", str(final)], check=False)
    return {
        "stores": args.stores, "days": days, "bookings_per_store_day": args.bookings,
        "sync_rounds_per_day": len(rounds) // max(days, 1), "wall_s": round(wall, 1),
        "bookings_total": total_booked,
        "bookings_per_min_chain": round(total_booked / wall * 60, 1),
        "bookings_per_min_per_store": round(total_booked / wall * 60 / args.stores, 1),
        "bookings_per_min_per_store_while_booking": round(
            statistics.mean(e["booked"] / e["book_s"] * 60 for e in log if e["book_s"] > 0), 1),
        "sync_s_first_round_mean": round(statistics.mean(by_round[rounds[0]]), 2),
        "sync_s_last_round_mean": round(statistics.mean(by_round[rounds[-1]]), 2),
        "sync_s_max": round(max(e["sync_s"] for e in log), 2),
        "history_commits": int(commits.strip() or 0), "notes_in_vault": len(vault.files),
        "services_logged": len(vault.index.services),
        "notes_lost": len(made - present), "duplicate_ids": len(vault.index.duplicates),
        "conflict_markers_left": markers, "field_conflicts_resolved": sum(e["conflicts"] for e in log),
        "shared_profile_equal_in_all_clones": clones_equal, "chain_report_s": round(report_s, 3),
    }


STATE = "sim-state.json"


def save_state(base: Path, state: dict) -> None:
    """The run so far, after each whole simulated day: `--dir` carries on from it (one session need not
    hold a month)."""
    tmp = base / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    tmp.replace(base / STATE)


def tidy(root: Path) -> None:
    """A run killed in the middle of a day (not stopped by STOP) may have left a store's sync half done:
    that rebase is given up (its commits stay) and git's stale lock goes, as a person would do before
    carrying on; the day is then simulated again from its start, its earlier notes kept."""
    (root / ".git" / "index.lock").unlink(missing_ok=True)  # first: with it, the abort below fails
    if (root / ".git" / "rebase-merge").exists() or (root / ".git" / "rebase-apply").exists():
        subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "rebase", "--abort"], cwd=root, capture_output=True,
                       check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stores", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--bookings", type=int, default=100, help="bookings per store per day")
    ap.add_argument("--sync-every", type=int, default=5, help="simulated minutes between syncs (12-hour day)")
    ap.add_argument("--check-every", type=int, default=5, help="days between checks of a fresh clone (to stderr)")
    ap.add_argument("--log", action="store_true", help="log each booking's service too (a SRV note per booking)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--dir", type=Path, help="the simulation's folder, kept: a run stopped there (a file STOP in it "
                                             "ends the run after the day in progress) carries on from its last day")
    args = ap.parse_args()
    days_wanted = args.days
    if args.dir is not None and (args.dir / STATE).exists():
        base = args.dir
        state = json.loads((base / STATE).read_text(encoding="utf-8"))
        args = argparse.Namespace(**{**state["args"], "days": days_wanted, "workers": args.workers, "dir": base})
        clones = [(code, base / code) for code in state["created"]]
        for _, root in clones:
            tidy(root)
        print(f"carrying on after day {state['done_days']} in {base}", file=sys.stderr, flush=True)
    else:
        if args.dir is not None:
            args.dir.mkdir(parents=True, exist_ok=True)
            if any(args.dir.iterdir()):
                sys.exit(f"{args.dir} holds a run that did not finish its first day: remove it, or choose another --dir")
        base = args.dir or Path(tempfile.mkdtemp(prefix="vaultcrm-chain-"))
        clones = setup(base, args.stores)
        state = {"args": {k: v for k, v in vars(args).items() if k != "dir"}, "done_days": 0,
                 "created": {code: [] for code, _ in clones}, "log": [], "wall": 0.0, "days": [], "summary": {}}
    (base / "STOP").unlink(missing_ok=True)
    rounds_per_day = max(1, 12 * 60 // args.sync_every)
    rounds_per_day = min(rounds_per_day, args.bookings)  # at least one booking per round
    created: dict[str, list[str]] = state["created"]
    log: list[dict] = state["log"]
    wall = state["wall"]  # simulated days only: the checks in between are not counted
    for d in range(state["done_days"], args.days):
        day = dt.date(2026, 3, 1) + dt.timedelta(days=d)
        began = time.perf_counter()
        for r in range(rounds_per_day):
            share = args.bookings // rounds_per_day + (1 if r < args.bookings % rounds_per_day else 0)
            with ThreadPoolExecutor(args.workers) as pool:
                jobs = [pool.submit(round_of, code, root, day, r * args.sync_every, share, created[code], args.log)
                        for code, root in clones]
                for job in jobs:
                    entry = job.result()
                    entry["round"] = d * rounds_per_day + r
                    log.append(entry)
        took = time.perf_counter() - began
        wall += took
        today = [e for e in log if e["round"] >= d * rounds_per_day]
        state["days"].append({"day": d + 1, "seconds": round(took, 1),
                              "sync_s_mean": round(statistics.mean(e["sync_s"] for e in today), 2),
                              "sync_s_max": round(max(e["sync_s"] for e in today), 2),
                              "notes": sum(map(len, created.values())), "at": time.strftime("%Y-%m-%d %H:%M")})
        print(f"day {d + 1}: {took:.0f} s ({wall:.0f} s so far), sync mean {state['days'][-1]['sync_s_mean']:.2f} s, "
              f"max {state['days'][-1]['sync_s_max']:.2f} s", file=sys.stderr, flush=True)
        if (d + 1) % args.check_every == 0 or d + 1 == args.days:
            state["summary"] = verify(base, clones, created, log, wall, args, d + 1)
            print(json.dumps(state["summary"], ensure_ascii=False), file=sys.stderr, flush=True)
        state.update(done_days=d + 1, wall=wall)
        if args.dir is not None:
            save_state(base, state)
        if (base / "STOP").exists() and d + 1 < args.days:
            print(f"stopped after day {d + 1}: carry on with --dir {base}", file=sys.stderr, flush=True)
            return
    print(json.dumps({**state["summary"], "days": state["days"]}, ensure_ascii=False, indent=1))
    if not args.keep and args.dir is None:
        subprocess.run(["rm", "-rf", str(base)], check=False)
    else:
        print(f"kept: {base}", file=sys.stderr)


if __name__ == "__main__":
    main()
