"""Campaign send benchmark: `campaign create` to N customers through a local webhook, in a subprocess.

    python bench/campaign_send.py --customers 10000 [--channel webhook|command]

Writes a vault of N customer profiles (9 in 10 agreed to marketing) into a temporary folder, starts an
HTTP receiver on 127.0.0.1 in this process (or uses a command channel that appends to a file), and
times, each in its own `vaultcrm` process:
  create   — `campaign create --segment 全部 --offer 8折`: the note, N coupons, the sends
  resend   — `campaign send` again: nothing left to send (every customer already messaged)
  log      — `log --coupon` of one code, beside the N-row campaign note
Peak memory is the child's maximum resident set size (getrusage RUSAGE_CHILDREN, per run).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def make_vault(root: Path, n: int, channel: str) -> None:
    (root / "客户").mkdir(parents=True)
    for i in range(1, n + 1):
        consent = "是" if i % 10 else ""
        (root / "客户" / f"C-{i:05d} 客户{i}.md").write_text(
            f"---\n客户编号: C-{i:05d}\n客户姓名: 客户{i}\n联系方式: '139{i:08d}'\n标签: []\n授权同意:\n  营销: {consent}\n---\n\n"
            f"# C-{i:05d} 客户{i}\n", encoding="utf-8")
    (root / "vaultcrm.yaml").write_text(f"店名: 静心养生馆\n服务项目:\n  全身推拿: {{时长: 60分钟, 价格: ¥200}}\n"
                                        f"提醒规则:\n  发送渠道:\n    - {channel}\n", encoding="utf-8")


def serve() -> tuple[ThreadingHTTPServer, list[int]]:
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            count[0] += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, count


def timed(root: Path, *args: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """(seconds, peak RSS in MB of this child, result)."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "no_proxy": "*", "NO_PROXY": "*"}
    env.pop("VAULTCRM_VAULT", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:  # a pipe would fill and block
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], env=env,
                                stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(args, os.waitstatus_to_exitcode(status), out.read().decode(),
                                             err.read().decode())
    return seconds, usage.ru_maxrss / 1024, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--channel", choices=("webhook", "command"), default="webhook")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "vault"
        server, count = serve()
        sink = Path(tmp) / "sms.log"
        if opts.channel == "webhook":
            channel = f"{{类型: webhook, 名称: 短信平台, 地址: 'http://127.0.0.1:{server.server_port}/sms'}}"
        else:
            channel = f"{{类型: 命令, 名称: 短信, 命令: 'cat >> {sink}'}}"
        make_vault(root, opts.customers, channel)
        rows = []
        t, mb, r = timed(root, "campaign", "create", "--segment", "全部", "--offer", "8折", "--at", "2026-06-30 10:00")
        assert r.returncode == 0, r.stderr
        [path] = (root / "活动").glob("CMP-*.md")
        data = {"活动编号": path.stem}
        summary = re.search(r"共 \d+ 人：已发送 (\d+)，待发送 \d+，跳过 (\d+)", path.read_text(encoding="utf-8"))
        sent = count[0] if opts.channel == "webhook" else sink.read_text(encoding="utf-8").count("【静心养生馆】")
        rows.append(("create + send", t, mb, f"{summary[1]} 已发送, {summary[2]} 跳过, 接收方收到 {sent}"))
        t, mb, r = timed(root, "campaign", "send", data["活动编号"], "--at", "2026-06-30 11:00")
        assert r.returncode == 0, r.stderr
        again = count[0] if opts.channel == "webhook" else sink.read_text(encoding="utf-8").count("【静心养生馆】")
        rows.append(("resend (nothing left)", t, mb, f"接收方又收到 {again - sent}"))
        note = (root / "活动" / f"{data['活动编号']}.md").read_text(encoding="utf-8")
        code = re.search(r"\| ([A-Z0-9]{4}-[A-Z0-9]{4}) \| C-00001 \|", note)[1]
        t, mb, r = timed(root, "log", "--customer", "C-00001", "--service", "全身推拿", "--coupon", code,
                         "--at", "2026-07-01 15:00")
        assert r.returncode == 0, r.stderr
        rows.append(("log --coupon", t, mb, f"note {len(note.encode()) / 1e6:.1f} MB"))
        server.shutdown()
    print(f"{opts.customers} customers, channel {opts.channel}, Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'step':<24}{'seconds':>9}{'peak MB':>9}  notes")
    for name, seconds, mb, note in rows:
        print(f"{name:<24}{seconds:>9.2f}{mb:>9.0f}  {note}")


if __name__ == "__main__":
    main()
