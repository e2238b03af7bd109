"""`vaultcrm watch`: keep the statistics notes current while the vault is edited.

The loop lives in `watch/watcher.py`; this module turns its reports into lines on stdout (under a live status
line on a terminal) and in `.vaultcrm/logs/watch.log`, and stops cleanly on Ctrl-C or SIGTERM so that
it can run under systemd, in tmux or from a test harness.
"""

from __future__ import annotations

import gc
import logging
import logging.handlers
import signal
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..core.config import STATE_DIR
from ..watch.watcher import Failed, NoteErrors, Report, Started, Status, Updated, Watcher
from .base import app, console, vault_root
from .options import UsageError

LOG_NAME = "watch.log"
SHOWN = 3  # paths named in one line; the rest are counted
SHOWN_ERRORS = 10  # note errors listed at start


def _names(paths) -> str:
    head = "、".join(paths[:SHOWN])
    return f"{head} 等 {len(paths)} 篇" if len(paths) > SHOWN else head


def describe(report: Report) -> list[str]:
    """The lines a report is shown as, without the time."""
    if isinstance(report, Started):
        lines = [f"统计已同步：重写 {_names(report.written)}" if report.written else "统计笔记已是最新"]
        if report.errors:
            lines.append(f"{len(report.errors)} 处笔记错误，修正前相关笔记不计入统计（运行 vaultcrm check 查看全部）：")
            lines += [f"  {d}" for d in report.errors[:SHOWN_ERRORS]]
            if len(report.errors) > SHOWN_ERRORS:
                lines.append(f"  ……另有 {len(report.errors) - SHOWN_ERRORS} 处")
        return lines
    if isinstance(report, Updated):
        changed = f"{_names(report.changed)} 有变化" if report.changed else "定时刷新"
        result = f"重写 {_names(report.written)}" if report.written else "统计无变化"
        return [f"已修正：{path}" for path in report.fixed] + [f"已更新：{changed} → {result}"]
    if isinstance(report, NoteErrors):
        return [f"笔记有误，修正前不计入统计：{d}" for d in report.diagnostics]
    if isinstance(report, Failed):
        return [f"更新失败：{report.message}（{report.retry_in:g} 秒后重试）"]
    raise TypeError(report)


def status_text(status: Status) -> str:
    last = status.last_update.strftime("%H:%M:%S") if status.last_update else "—"
    return f"监视中 · 上次更新 {last} · 笔记 {status.notes} 篇 · 错误 {status.errors} 处 · Ctrl-C 停止"


def _file_log(root: Path) -> logging.Logger:
    """`.vaultcrm/logs/watch.log`, rotated at 1 MB; a vault that cannot hold it only loses the log."""
    logger = logging.getLogger("vaultcrm.watch")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        folder = root / STATE_DIR / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / LOG_NAME, maxBytes=1 << 20, backupCount=3,
                                                       encoding="utf-8")
    except OSError as exc:
        console.print(f"无法写入 {STATE_DIR}/logs/{LOG_NAME}：{exc}，只在此输出", style="yellow", markup=False)
        return logger
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


class _Output:
    """Each report as lines on stdout and in the log; on a terminal, a status line below them."""

    def __init__(self, watcher: Watcher, logger: logging.Logger):
        self.watcher, self.logger = watcher, logger
        self.live = console.status("正在读取笔记…") if console.is_terminal else None

    def line(self, text: str, stamp, error: BaseException | None = None) -> None:
        console.print(f"{stamp:%H:%M:%S} {text}", markup=False)
        self.logger.info(f"{stamp:%Y-%m-%d %H:%M:%S} {text}", exc_info=error)

    def show(self, report: Report) -> None:
        for i, text in enumerate(describe(report)):
            self.line(text, report.at, report.error if isinstance(report, Failed) and i == 0 else None)
        if self.live is not None:
            self.live.update(status_text(self.watcher.status()))


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """Ctrl-C and SIGTERM ask the loop to finish; a second Ctrl-C interrupts whatever is running."""

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@app.command()
def watch(
    poll: Annotated[bool, typer.Option("--poll", help="轮询文件变化（网络盘、同步文件夹收不到系统通知时使用）")] = False,
    interval: Annotated[Optional[float], typer.Option("--interval", help="轮询间隔秒数（配合 --poll，默认 1）")] = None,
    debounce: Annotated[float, typer.Option("--debounce", help="保存后等待多少秒无新变化再更新")] = 0.3,
) -> None:
    """监视库中的笔记：保存后一秒内自动更新受影响的日报、月报和服务追踪表的统计区块。"""
    if interval is not None and not poll:
        raise UsageError("--interval 只在 --poll 轮询时有效")
    if interval is not None and not 0 < interval <= 3600:
        raise UsageError("--interval 应在 0–3600 秒之间")
    if not 0 <= debounce <= 60:
        raise UsageError("--debounce 应在 0–60 秒之间")
    gc.enable()  # watch runs for days: old indexes must be collected (one-shot commands run without)
    root = vault_root()
    watcher = Watcher(root, poll=poll, interval=interval or 1.0, debounce=debounce)
    logger = _file_log(root)
    out = _Output(watcher, logger)
    stop = threading.Event()
    mode = f"轮询，每 {interval or 1.0:g} 秒" if poll else "文件系统通知"
    try:
        with _stop_on_signals(stop), out.live or nullcontext():
            reports = watcher.start()
            for report in reports:
                out.show(report)
            monitor = "；其他 vaultcrm 命令向本监视查询文件变化，不再逐篇检查" if watcher.serving else ""
            out.line(f"开始监视 {root}（{mode}），共 {watcher.status().notes} 篇笔记{monitor}", watcher.now())
            watcher.run(stop, out.show)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        logger.info(f"{watcher.now():%Y-%m-%d %H:%M:%S} 已停止监视")
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    console.print("已停止监视")
