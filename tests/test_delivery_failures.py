"""How `remind --send` fails against misbehaving receivers started here: slow, redirecting, garbled, dropping
servers on 127.0.0.1, and commands that leave children behind. Each failure is that reminder's alone."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import run_cli
from reminder_data import config, day_state, studio_files

AT = "2026-02-12 12:00"  # five reminders are due (see test_remind_delivery's command test)
DUE = 5


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


class RawServer:
    """A TCP server on 127.0.0.1 that reads each request's head, then does `answer(conn)`."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                self.requests.append(data)
                self.answer(conn, self.stop)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def raw_server():
    servers = []

    def start(answer) -> RawServer:
        servers.append(RawServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    """A byte every half second, forever: each read succeeds, the answer never ends."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 10_000:
        if stop.wait(0.5):
            return
        conn.sendall(bytes([byte]))


def _garbage(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\xff\xfe garbage\r\n\r\n")


def _drop(conn: socket.socket, stop: threading.Event) -> None:
    conn.shutdown(socket.SHUT_RDWR)


def _redirect(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def _vault(vault, url: str, timeout: float = 10) -> Path:
    return vault(studio_files(), config=config(f"- {{类型: webhook, 地址: '{url}', 超时: {timeout}}}"))


def _send(root: Path, at: str = AT):
    started = time.monotonic()
    result = run_cli("--vault", str(root), "remind", "--at", at, "--send", "--quiet", timeout=120)
    return result, time.monotonic() - started


def _waiting(root: Path) -> list[str]:
    states = {**day_state(root, "2026-02-11"), **day_state(root, "2026-02-12")}
    return [rid for rid, entry in states.items() if entry["状态"] == "待发送"]


def test_a_dripping_server_holds_each_reminder_no_longer_than_its_deadline(vault, raw_server):
    server = raw_server(_drip)
    root = _vault(vault, server.url, timeout=1)
    result, elapsed = _send(root)
    assert result.returncode == 1
    assert result.stderr.count("1 秒内未完成（超时）") == DUE, result.stderr
    assert len(server.requests) == DUE  # every reminder was tried
    assert elapsed < DUE * 1 + 6, elapsed  # before: 80 s for one reminder with 超时 5
    assert len(_waiting(root)) == DUE  # retried on the next run
    assert "意外错误" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("answer, reason", [
    (_redirect, "HTTP 302 Found：对方要求转到 /elsewhere，未跟随"),
    (_garbage, "的回答不是有效的 HTTP"),
    (_drop, "断开了连接，未确认送达"),
])
def test_a_bad_answer_fails_that_reminder_and_the_others_are_still_tried(vault, raw_server, answer, reason):
    server = raw_server(answer)
    root = _vault(vault, server.url)
    result, _ = _send(root)
    assert result.returncode == 1
    assert result.stderr.count(reason) == DUE, result.stderr
    assert "意外错误" not in result.stderr and "Traceback" not in result.stderr
    assert [r.split(b" ", 2)[:2] for r in server.requests] == [[b"POST", b"/hook"]] * DUE  # no redirect followed
    assert len(_waiting(root)) == DUE
    log = (root / ".vaultcrm/logs/remind.log").read_text(encoding="utf-8").splitlines()
    assert len(log) == DUE and all("→ webhook 失败：" in line for line in log)


def test_a_failing_receiver_does_not_stop_another_channel(vault, raw_server):
    bad = raw_server(_garbage)
    good = raw_server(lambda conn, stop: conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
    channels = (f"- {{类型: webhook, 名称: 坏的, 地址: '{bad.url}'}}\n"
                f"- {{类型: webhook, 名称: 好的, 地址: '{good.url}'}}")
    root = vault(studio_files(), config=config(channels))
    result, _ = _send(root)
    assert result.returncode == 1
    assert len(bad.requests) == len(good.requests) == DUE
    states = {**day_state(root, "2026-02-11"), **day_state(root, "2026-02-12")}
    assert all(entry["状态"] == "待发送" and entry["已发送至"] == ["好的"] for entry in states.values())
    again, _ = _send(root, "2026-02-12 12:05")
    assert len(good.requests) == DUE  # a channel reached once is not sent to again
    assert len(bad.requests) == 2 * DUE and again.returncode == 1


class Recorder:
    def __init__(self):
        self.received: list[tuple[dict, dict]] = []
        self.fail_next = 0


@pytest.fixture
def recorder():
    state = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.received.append((dict(self.headers), body))
            failing = state.fail_next > 0
            state.fail_next -= failing
            self.send_response(503 if failing else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()
    server.server_close()


def test_every_request_carries_the_reminders_stable_id_in_header_and_body(vault, recorder):
    root = _vault(vault, recorder.url)
    recorder.fail_next = 1
    first, _ = _send(root)
    assert first.returncode == 1 and "HTTP 503" in first.stderr
    second, _ = _send(root, "2026-02-12 12:05")
    assert second.returncode == 0, second.stderr
    assert len(recorder.received) == DUE + 1
    ids = [headers["X-Vaultcrm-Reminder-Id"] for headers, _ in recorder.received]
    assert ids == [body["vaultcrm_reminder_id"] for _, body in recorder.received]
    assert all(i.startswith("vaultcrm-") for i in ids)
    assert len(set(ids)) == DUE  # one per reminder …
    assert ids[0] == ids[-1]  # … and the retry of the failed one repeats it
    assert recorder.received[0][1]["编号"] == recorder.received[-1][1]["编号"]


# -- the command channel ----------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not yet reaped


def _command_vault(vault, command: str, timeout: float) -> Path:
    channel = "- {类型: 命令, 超时: %s, 命令: %s}" % (timeout, json.dumps(command, ensure_ascii=False))
    return vault({"跟进/FLW-2026-001.md": __import__("reminder_data").followup_note()}, config=config(channel))


def test_a_command_past_its_deadline_is_killed_with_its_children(vault, tmp_path):
    pids = tmp_path / "pids"
    root = _command_vault(vault, f"sh -c 'sleep 100 & echo $! >> {pids}; echo $$ >> {pids}; sleep 100'", 1)
    result, elapsed = _send(root, "2026-02-14 09:00")
    assert result.returncode == 1
    assert "命令超过 1 秒未结束，已终止（连同它启动的进程）" in result.stderr
    assert elapsed < 10
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 2
    deadline = time.monotonic() + 5
    while any(map(_alive, started)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in started if _alive(p)], "a child of the timed-out command survived"
    assert day_state(root, "2026-02-14")["R-0214-01"]["状态"] == "待发送"


def test_a_child_holding_stderr_after_the_command_exits_does_not_make_it_a_timeout(vault):
    root = _command_vault(vault, "sh -c '(sleep 30 >&2 &) ; exit 0'", 10)
    result, elapsed = _send(root, "2026-02-14 09:00")
    assert result.returncode == 0, result.stderr  # before: 命令超过 10 秒未结束
    assert elapsed < 10, elapsed
    assert day_state(root, "2026-02-14")["R-0214-01"]["状态"] == "已发送"


def test_a_command_gets_the_stable_id_in_its_environment(vault, tmp_path):
    out = tmp_path / "ids"
    root = _command_vault(vault, f'echo "$VAULTCRM_REMINDER_ID $VAULTCRM_ID" >> {out}', 5)
    assert _send(root, "2026-02-14 09:00")[0].returncode == 0
    rid, entry = out.read_text().split()
    assert rid.startswith("vaultcrm-") and entry == "R-0214-01"
    assert os.environ.get("VAULTCRM_REMINDER_ID") is None
