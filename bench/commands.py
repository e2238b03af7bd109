"""The command rows of issue 17's table: each vaultcrm command timed as a real process, as a ratio to the loop.

Write commands (book, log, status, remind, follow plan, backup, stats) run on the benchmark vault and
are undone afterwards through a git snapshot of the vault (`.vaultcrm/` excluded), so every row sees the
same notes. A row's time is the best of `repeat` runs (the machine is shared); peak RSS is that of the
same child process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("VAULTCRM_BENCH_SRC", HERE.parent / "src"))  # another checkout: its "before"
AT = "2026-11-30 09:00"
WEEK_BEFORE = "2025-06-01 09:00"  # `agenda`/`free` look a week ahead of this

#: (label, arguments after `--vault ROOT`, budget as a ratio to the loop, writes notes)
ROWS: list[tuple[str, list[str], float, bool]] = [
    ("book", ["book", "-c", "C-0001", "-d", "2026-12-01", "-t", "10:00", "-s", "足疗", "-y", "--at", AT], 0.05, True),
    ("log", ["log", "-c", "C-0002", "-s", "足疗", "--technician", "李师傅", "--at", AT], 0.05, True),
    ("status", ["status", "APP-2024-00005", "服务中", "--at", AT], 0.05, True),
    ("customer show", ["customer", "show", "C-0001", "--at", AT], 0.05, False),
    ("remind", ["remind", "--at", AT], 0.05, True),
    ("stats --date", ["stats", "--date", "2025-06-01", "--format", "json"], 0.05, False),
    # the calendar a week ahead of the stats day (issue 15 item 9): within stats --date's budget of ≤ 0.1×
    ("agenda", ["agenda", "--date", "2025-06-08", "--at", WEEK_BEFORE], 0.1, False),
    ("agenda --format json", ["agenda", "--date", "2025-06-08", "--format", "json", "--at", WEEK_BEFORE], 0.1, False),
    ("free", ["free", "--service", "全身推拿", "--date", "2025-06-02", "--days", "7", "--limit", "0",
              "--at", WEEK_BEFORE], 0.1, False),
    ("free -c", ["free", "--service", "全身推拿", "--date", "2025-06-02", "--days", "7", "-c", "C-0001",
                 "--at", WEEK_BEFORE], 0.1, False),
    ("report", ["report", "technicians", "--month", "2025-06", "--at", AT], 0.05, False),
    ("customer list", ["customer", "list", "--at", AT], 0.1, False),
    ("stats (nothing changed)", ["stats"], 0.1, True),
    ("follow plan", ["follow", "plan", "--at", AT], 0.1, True),
    ("check", ["check"], 0.15, False),
    ("export ics", ["export", "ics", "-o", "{tmp}/out.ics"], 0.15, False),
    ("backup", ["backup", "--at", AT], 0.15, True),
]
MEMORY_ROWS = ("check", "stats (nothing changed)", "follow plan")


def env(src: Path | None = None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items()
           if k not in ("VAULTCRM_VAULT", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    out["PYTHONPATH"] = str(src or SRC)
    return out


def run_once(argv: list[str], cwd: Path | None = None, src: Path | None = None) -> tuple[float, int, int]:
    """(seconds, peak RSS in bytes, exit code) of one child process (`src`: the checkout it runs)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(src), cwd=cwd)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss * 1024, child.returncode


def snapshot(root: Path) -> None:
    """A git snapshot of the notes (once per vault) that `restore` goes back to after a write."""
    if (root / ".git").is_dir():
        return
    (root / ".gitignore").write_text(".vaultcrm/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bench snapshot"], check=True)


def restore(root: Path) -> None:
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "--", "."], check=True)
    subprocess.run(["git", "-C", str(root), "clean", "-fdq"], check=True)


def vaultcrm(root: Path, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "vaultcrm", "--vault", str(root), *args]


def compare_rows(root: Path, repeat: int, other: Path, only: set[str] | None = None
                 ) -> list[tuple[str, float, float, float]]:
    """[(label, best seconds of `other`, best seconds of this checkout, budget)], the two run alternately so
    that both see the same load on a shared machine."""
    results = []
    # The parse cache is keyed by the parsing code: two checkouts on one vault would each find the other's
    # cache stale, so each runs on its own copy of the vault.
    roots = {other: root.with_name(root.name + "-compare"), SRC: root}
    if not roots[other].exists():
        shutil.copytree(root, roots[other], symlinks=True, ignore=shutil.ignore_patterns(".vaultcrm"))
    with tempfile.TemporaryDirectory(prefix="vaultcrm-bench-") as tmp:
        for src in (other, SRC):
            run_once(vaultcrm(roots[src], ["stats"]), src=src)
            restore(roots[src])
        for label, args, budget, writes in ROWS:
            if only and label not in only:
                continue
            args = [a.replace("{tmp}", tmp) for a in args]
            best = {other: float("inf"), SRC: float("inf")}
            for _ in range(repeat):
                for src in (other, SRC):
                    if label == "stats (nothing changed)":  # as in `time_rows`: written back, then cached
                        run_once(vaultcrm(roots[src], args), src=src)
                        run_once(vaultcrm(roots[src], args), src=src)
                    best[src] = min(best[src], run_once(vaultcrm(roots[src], args), src=src)[0])
                    if writes:
                        restore(roots[src])
            results.append((label, best[other], best[SRC], budget))
    return results


def time_rows(root: Path, repeat: int, only: set[str] | None = None) -> list[tuple[str, float, int, float]]:
    """[(label, best seconds, peak RSS, budget)] for every row of ROWS."""
    results = []
    with tempfile.TemporaryDirectory(prefix="vaultcrm-bench-") as tmp:
        run_once(vaultcrm(root, ["stats"]))  # notes and cache up to date: "nothing changed" from here on
        restore(root)
        run_once(vaultcrm(root, ["check"]))
        for label, args, budget, writes in ROWS:
            if only and label not in only:
                continue
            args = [a.replace("{tmp}", tmp) for a in args]
            best, peak = float("inf"), 0
            for _ in range(repeat):
                if label == "stats (nothing changed)":
                    run_once(vaultcrm(root, args))  # the first run writes what a restore put back,
                    run_once(vaultcrm(root, args))  # the second parses those notes into the cache (warm)
                seconds, rss, code = run_once(vaultcrm(root, args))
                if code not in (0, 1):
                    print(f"  ! {label} exited {code}", file=sys.stderr)
                best, peak = min(best, seconds), max(peak, rss)
                if writes:
                    restore(root)
            results.append((label, best, peak, budget))
            if label == "backup":
                shutil.rmtree(root / ".vaultcrm" / "backups", ignore_errors=True)
                zip_seconds = min(run_once(["zip", "-qr", f"{tmp}/plain.zip", ".", "-x", ".git/*", ".vaultcrm/*"],
                                           cwd=root)[0] for _ in range(repeat))
                results.append(("  plain zip -r (reference)", zip_seconds, 0, budget))
                Path(f"{tmp}/plain.zip").unlink(missing_ok=True)
    return results


#: What a command costs while `vaultcrm watch` runs (its file monitor and warm worker): issue 17 item 3.
WATCHED_BUDGET = {"book": 0.3, "status": 0.3, "customer show": 0.3}  # seconds
SETTLE = 4.0  # seconds after a write or a restore for the watch and its worker to catch up


def _worker_ready(root: Path, timeout: float = 600) -> bool:
    import socket

    sys.path.insert(0, str(SRC))
    from vaultcrm.warm.client import address

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address(str(root)))
                return True
            except OSError:
                time.sleep(0.5)
    return False


def watched_rows(root: Path, repeat: int, only: set[str] | None = None) -> dict[str, float]:
    """label → best seconds of every row of ROWS run while a watch (and its warm worker) runs."""
    results: dict[str, float] = {}
    child = subprocess.Popen(vaultcrm(root, ["watch"]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env())
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            if "开始监视" in line:
                break
        if not _worker_ready(root):
            print("  ! the warm worker did not start", file=sys.stderr)
            return results
        time.sleep(SETTLE)
        with tempfile.TemporaryDirectory(prefix="vaultcrm-bench-") as tmp:
            for label, args, _budget, writes in ROWS:
                if (only and label not in only) or label in ("backup", "stats (nothing changed)"):
                    continue  # backup is zip I/O; with a watch, `stats` finds nothing left to write
                args = [a.replace("{tmp}", tmp) for a in args]
                best = float("inf")
                for _ in range(repeat):
                    best = min(best, run_once(vaultcrm(root, args))[0])
                    if writes:
                        time.sleep(SETTLE)
                        restore(root)
                        time.sleep(SETTLE)
                results[label] = best
    finally:
        child.terminate()
        child.wait(timeout=60)
        restore(root)
    return results


def startup_rows(repeat: int, src: Path | None = None) -> list[tuple[str, float, int, float | None]]:
    """`vaultcrm --help`, and `customer show` on a small vault (the example vault), in absolute seconds."""
    small = HERE.parent / "example_vault"
    rows = []
    with tempfile.TemporaryDirectory(prefix="vaultcrm-small-") as tmp:
        vault = Path(tmp) / "v"
        shutil.copytree(small, vault)
        run_once(vaultcrm(vault, ["check"]), src=src)
        for label, argv, budget in (("vaultcrm --help", [sys.executable, "-m", "vaultcrm", "--help"], 0.25),
                                    ("customer show (small vault)", vaultcrm(vault, ["customer", "show", "C-0001"]), 0.3),
                                    ("python -c pass (reference)", [sys.executable, "-c", "pass"], None)):
            best = min(run_once(argv, src=src)[0] for _ in range(repeat))
            rows.append((label, best, 0, budget))
    return rows


def watch_latency(root: Path, saves: int = 3) -> list[float]:
    """Seconds from saving a service note until `watch` has rewritten that day's daily note."""
    import re

    child = subprocess.Popen(vaultcrm(root, ["watch", "--debounce", "0.1"]), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env())
    latencies = []
    try:
        deadline = time.monotonic() + 600
        for line in child.stdout:  # type: ignore[union-attr]
            if "开始监视" in line or time.monotonic() > deadline:
                break
        time.sleep(1.0)
        notes = sorted((root / "服务记录").iterdir())[:saves]
        for i, note in enumerate(notes):  # a new service note on an existing note's day: 实际服务数 goes up
            text = note.read_text(encoding="utf-8")
            day = re.search(r"服务日期: (\d{4}-\d{2}-\d{2})", text)
            sid = re.search(r"服务编号: (\S+)", text)
            if not day or not sid:
                continue
            daily = root / "统计" / "日报" / f"{day[1]}.md"
            before = daily.stat().st_mtime_ns if daily.exists() else 0
            new_id = f"SRV-2099-{90000 + i}"
            target, changed = note.with_name(f"{new_id}.md"), text.replace(sid[0], f"服务编号: {new_id}")
            started = time.perf_counter()
            target.write_text(changed, encoding="utf-8")
            while time.perf_counter() - started < 30:
                if daily.exists() and daily.stat().st_mtime_ns != before:
                    latencies.append(time.perf_counter() - started)
                    break
                time.sleep(0.005)
            time.sleep(1.5)
    finally:
        child.terminate()
        child.wait(timeout=60)
        restore(root)
    return latencies
