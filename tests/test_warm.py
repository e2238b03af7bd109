"""Commands handed to the warm worker of a running `vaultcrm watch` (src/vaultcrm/warm/).

A real watch runs on a copy of the example vault; each command runs as a real `vaultcrm` process,
once handed to the worker and once in its own process (VAULTCRM_WARM=0), and the two must agree on
everything a user sees: standard output, standard error and the exit code. Whether the worker took a
command is read from `warm.client.forward` itself: it returns the exit code only when the worker ran it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import WatchProcess, lock_held

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the warm worker is Linux-only")]

EXAMPLE = Path(__file__).resolve().parent.parent / "example_vault"
AT = "2026-11-30 09:00"
FORWARD = ("import sys\nfrom vaultcrm.warm.client import forward\ncode = forward(sys.argv[1:])\n"
           "print(f'\\n@@{code}', file=sys.stderr)\nsys.exit(code or 0)\n")


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("VAULTCRM_VAULT", "VAULTCRM_WARM")}
    out.update(extra)
    return out


def in_worker(root: Path, *args: str, stdin: str = "") -> tuple[subprocess.CompletedProcess, str]:
    """Run through the worker only: (the process, what `forward` returned)."""
    done = subprocess.run([sys.executable, "-c", FORWARD, "--vault", str(root), *args], input=stdin,
                          capture_output=True, text=True, env=env(), timeout=60)
    err, _, code = done.stderr.rpartition("\n@@")
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout, err), code.strip()


def here(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vaultcrm", "--vault", str(root), *args], input=stdin,
                          capture_output=True, text=True, env=env(VAULTCRM_WARM="0"), timeout=120)


def worker_ready(root: Path, timeout: float = 60) -> None:
    from vaultcrm.warm.client import address

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address(str(root)))
                return
            except OSError:
                time.sleep(0.1)
    pytest.fail("the warm worker did not start listening")


@pytest.fixture
def studio(tmp_path):
    root = tmp_path / "vault"
    shutil.copytree(EXAMPLE, root)
    watcher = WatchProcess(root)
    worker_ready(root)
    yield root
    assert watcher.stop() == 0, watcher.output()
    assert "Traceback" not in watcher.output()


def assert_same(root: Path, *args: str) -> subprocess.CompletedProcess:
    forwarded, code = in_worker(root, *args)
    local = here(root, *args)
    assert code == str(local.returncode), f"the worker did not run {args}: {forwarded.stderr}"
    assert (forwarded.returncode, forwarded.stdout, forwarded.stderr) == (local.returncode, local.stdout, local.stderr)
    return forwarded


def test_commands_in_the_worker_print_and_exit_as_they_do_alone(studio):
    shown = assert_same(studio, "customer", "show", "C-0001", "--at", AT)
    assert "C-0001" in shown.stdout and shown.returncode == 0
    assert_same(studio, "agenda", "--date", "2026-12-01", "--format", "json", "--at", AT)
    assert_same(studio, "free", "--service", "足疗", "--date", "2026-12-02", "--days", "2", "--at", AT)
    assert_same(studio, "stats", "--month", "2026-11", "--format", "json")
    missing = assert_same(studio, "customer", "show", "C-9999")
    assert missing.returncode == 1 and "C-9999" in missing.stderr
    wrong = assert_same(studio, "book", "-c", "C-0001", "-d", "2026-13-40", "-t", "10:00", "-s", "足疗", "-y")
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr


def test_a_write_in_the_worker_and_a_hand_edit_are_seen_by_the_next_command(studio):
    booked, code = in_worker(studio, "book", "-c", "C-0001", "-d", "2026-12-09", "-t", "10:00", "-s", "足疗", "-y",
                             "--at", AT)
    assert code == "0", booked.stderr
    new_id = booked.stdout.split("已创建预约 ", 1)[1].split()[0]
    note = next((studio / "预约").glob(f"{new_id}.md"))
    agenda, _ = in_worker(studio, "agenda", "--date", "2026-12-09", "--format", "json", "--at", AT)
    assert new_id in agenda.stdout
    assert here(studio, "check").returncode == 0

    # by hand in Obsidian, then at once a command: the worker's copy of the vault must not be stale
    note.write_text(note.read_text(encoding="utf-8").replace("当前状态: 待服务", "当前状态: 已取消"), encoding="utf-8")
    shown, code = in_worker(studio, "customer", "show", "C-0001", "--at", AT)
    assert code == "0"
    assert new_id not in shown.stdout.split("预约：", 1)[-1]  # no longer among her coming appointments
    assert_same(studio, "customer", "show", "C-0001", "--at", AT)

    # a refusal in the worker is the same refusal, with nothing written
    before = note.read_bytes()
    refused = assert_same(studio, "status", new_id, "已确认", "--at", AT)
    assert refused.returncode == 1 and "终态" in refused.stderr
    assert note.read_bytes() == before


def on_terminal(root: Path, args: tuple[str, ...], answer: bytes, prompt: str) -> str:
    """Run through the worker on a pseudo-terminal; answer `prompt` with `answer`; all it showed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", FORWARD, "--vault", str(root), *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env(TERM="xterm", COLUMNS="100"))
    os.close(slave)
    shown, answered = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end closed: the command ended
                break
            if not chunk:
                break
            shown += chunk
            if not answered and prompt.encode() in shown:
                os.write(master, answer)
                answered = True
    finally:
        os.close(master)
        proc.wait(timeout=30)
    return shown.decode("utf-8", "replace")


def test_the_terminal_is_the_callers(studio):
    """On a terminal `book` asks to confirm, reading the caller's keyboard; declined, nothing is written."""
    args = ("book", "-c", "C-0001", "-d", "2026-12-10", "-t", "15:00", "-s", "足疗", "--at", AT)
    shown = on_terminal(studio, args, b"n\n", "确认预约")
    assert "确认预约" in shown and "@@1" in shown, shown
    def booked() -> bool:
        return any("2026-12-10" in text and "'15:00'" in text
                   for text in (p.read_text(encoding="utf-8") for p in (studio / "预约").glob("*.md")))

    assert not booked()
    shown = on_terminal(studio, args, b"y\n", "确认预约")
    assert "已创建预约" in shown and "@@0" in shown, shown
    assert booked()


def test_without_a_watch_the_command_runs_here(tmp_path):
    root = tmp_path / "vault"
    shutil.copytree(EXAMPLE, root)
    done, code = in_worker(root, "customer", "show", "C-0001")
    assert code == "None" and done.stdout == ""
    assert here(root, "customer", "show", "C-0001").returncode == 0


def test_the_worker_ends_with_the_watch(tmp_path):
    from vaultcrm.warm.client import address

    root = tmp_path / "vault"
    shutil.copytree(EXAMPLE, root)
    watcher = WatchProcess(root)
    worker_ready(root)
    assert watcher.stop() == 0
    deadline = time.monotonic() + 15
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address(str(root)))
            except OSError:
                break
        assert time.monotonic() < deadline, "the worker outlived its watch"
        time.sleep(0.1)
    assert in_worker(root, "customer", "show", "C-0001")[1] == "None"


def _worker_pid(root: Path) -> int:
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"vaultcrm.warm.server" in argv and os.fsencode(str(root)) in argv:
            return int(proc.name)
    pytest.fail("no warm worker is running")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_ctrl_c_reaches_the_command_in_the_worker(studio):
    """A command waiting for the booking lock is interrupted by Ctrl-C at the caller's terminal, as it
    would be in its own process: 「已中断」, exit code 130, nothing written."""
    import signal

    with lock_held(studio):
        worker = _worker_pid(studio)
        before = sorted(p.name for p in (studio / "预约").iterdir())
        client = subprocess.Popen([sys.executable, "-c", FORWARD, "--vault", str(studio), "book", "-c", "C-0001",
                                   "-d", "2026-12-11", "-t", "16:00", "-s", "足疗", "-y", "--at", AT],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
        deadline = time.monotonic() + 30
        while not _children(worker):  # the command has started in the worker, and waits for the lock
            assert time.monotonic() < deadline and client.poll() is None, client.communicate()
            time.sleep(0.05)
        time.sleep(0.5)
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=30)
        assert client.returncode == 130 and "@@130" in err and "已中断" in err, (out, err)
        assert sorted(p.name for p in (studio / "预约").iterdir()) == before


class StandInWorker:
    """The worker's side of the socket, played by the test: it takes the request and answers when told,
    so a Ctrl-C can be pressed at the exact moment between the request and the worker's answer."""

    def __init__(self, root: Path):
        from vaultcrm.warm.client import address

        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(address(str(root)))
        self.listener.listen(1)
        self.listener.settimeout(30)

    def take(self) -> socket.socket:
        conn, _ = self.listener.accept()
        conn.settimeout(30)
        message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
        for fd in fds:
            os.close(fd)
        assert message.endswith(b"\n") and len(fds) == 3
        return conn

    def close(self) -> None:
        self.listener.close()


def _client(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", FORWARD, "--vault", str(root), "status", "--at", AT],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())


def test_ctrl_c_before_the_worker_answers_starts_nothing(tmp_path):
    """Ctrl-C pressed after the request left but before the worker's answer (under load the worker's
    child may exist by then): the caller gives no go-ahead, so the command never starts; 「已中断」, 130."""
    import signal

    worker = StandInWorker(tmp_path)
    try:
        client = _client(tmp_path)
        with worker.take() as conn:
            client.send_signal(signal.SIGINT)
            time.sleep(0.3)
            assert client.poll() is None  # held until the worker answers
            conn.sendall(b"S 999999\n")
            assert conn.recv(16) == b""  # no go-ahead: the child would end without running the command
        out, err = client.communicate(timeout=30)
        assert client.returncode == 130 and "已中断" in err and err.rstrip().endswith("@@130"), (out, err)
    finally:
        worker.close()


def test_a_caller_that_stopped_waiting_gives_no_go_ahead(tmp_path):
    """The worker answers after the caller's two seconds: the caller runs the command itself, and the
    worker's child, which gets no go-ahead, does not run it as well."""
    worker = StandInWorker(tmp_path)
    try:
        client = _client(tmp_path)
        with worker.take() as conn:
            out, err = client.communicate(timeout=60)
            assert err.rstrip().endswith("@@None"), (out, err)  # forward() gave up: it runs here
            try:
                conn.sendall(b"S 999999\n")
                assert conn.recv(16) == b""
            except BrokenPipeError:
                pass  # gone already
    finally:
        worker.close()


def test_the_child_runs_the_command_only_after_the_go_ahead(tmp_path):
    """The worker's side: a forked child whose caller left (no 「G」) ends without running anything;
    with the go-ahead it runs the command line and reports its exit code."""
    script = ("import json, os, socket, sys\n"
              "from vaultcrm.warm.server import _run_child\n"
              "ours, caller = socket.socketpair()\n"
              "read, write = os.pipe()\n"
              "if sys.argv[1] == 'go':\n"
              "    caller.sendall(b'G\\n')\n"
              "else:\n"
              "    caller.close()\n"
              "if os.fork() == 0:\n"
              "    request = {'argv': ['--help'], 'cwd': os.getcwd(), 'env': dict(os.environ),\n"
              "               'encodings': [['utf-8', 'strict']] * 3}\n"
              "    _run_child(ours, [os.open(os.devnull, os.O_RDONLY), write, write], request, None)\n"
              "os.close(write)\n"
              "ours.close()\n"
              "status = os.wait()[1]\n"
              "printed = os.read(read, 1 << 16).decode()\n"
              "answer = caller.recv(64).decode() if sys.argv[1] == 'go' else ''\n"
              "print(json.dumps([os.waitstatus_to_exitcode(status), printed, answer]))\n")
    results = {}
    for how in ("go", "gone"):
        done = subprocess.run([sys.executable, "-c", script, how], capture_output=True, text=True, env=env(),
                              cwd=tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr
        results[how] = json.loads(done.stdout)
    assert results["gone"] == [0, "", ""]
    code, printed, answer = results["go"]
    assert code == 0 and "用法：" in printed and answer == "X 0\n"


def test_ctrl_c_before_a_worker_that_does_not_take_the_command(tmp_path):
    """Ctrl-C before the worker answered, and the worker then does not run the command: it runs nowhere,
    「已中断」 and exit code 130, as if the command had been interrupted in this process."""
    import signal

    worker = StandInWorker(tmp_path)
    try:
        client = _client(tmp_path)
        with worker.take():
            client.send_signal(signal.SIGINT)
            time.sleep(0.3)
        out, err = client.communicate(timeout=30)
        assert client.returncode == 130 and "已中断" in err and err.rstrip().endswith("@@130"), (out, err)
        assert "Traceback" not in err
    finally:
        worker.close()
