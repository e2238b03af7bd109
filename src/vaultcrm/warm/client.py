"""The `vaultcrm` program's first step: hand the command to the warm worker of a running watch.

Loading a 100,000-note vault takes seconds even from the cache; the warm worker (`server.py`) has it
loaded, forks, and the child runs the very same command line on this terminal: its standard input,
output and error are these (passed over the socket), its folder and environment are these, and its
exit code comes back as this program's. Nothing here imports the command line's libraries.

The command runs here instead, exactly as without a watch, whenever the worker cannot take it: no
watch running, a watch of another vault or user, a command that is not a vault command, `--help`, or
an answer that does not come. The worker's child runs the command only after this program's
go-ahead, so a command is never run twice: once it is given, the command is the child's, and if the
child dies, this program says so and exits with 1. Ctrl-C and a termination signal are passed on to
that child; one that came before the go-ahead means the command is not started at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

from ..vault.discover import find_vault
from ..vault.peer import peer_is_me

#: The commands that load the vault and may run in the worker (not `watch`, `init`, `sync`, backups:
#: long-running or git's, where a second or two of loading does not matter).
FORWARDED = frozenset({"book", "status", "reschedule", "free", "agenda", "waitlist", "leave", "log", "customer",
                       "follow", "remind", "stats", "report", "check", "export", "campaign"})
DISABLE = "VAULTCRM_WARM"  # "0": never hand commands over (benchmarks, debugging)
MAX_LINE = 256
PASSED = (signal.SIGINT, signal.SIGTERM)  # passed on to the command running in the worker


def address(root: str) -> str | None:
    """The worker's socket: an abstract name derived from the vault's real path (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    return "\0vaultcrm-warm-" + hashlib.sha256(os.path.realpath(root).encode()).hexdigest()[:32]


def _command_and_vault(argv: list[str]) -> tuple[str, str | None] | None:
    """(command, `--vault` value) when the command line is one the worker may run."""
    vault, i = None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--vault" and i + 1 < len(argv):
            vault, i = argv[i + 1], i + 2
        elif arg.startswith("--vault="):
            vault, i = arg[len("--vault="):], i + 1
        elif arg.startswith("-"):
            return None  # --help and anything else before the command: the usual program answers
        else:
            rest = argv[i + 1:]
            if arg not in FORWARDED or "--help" in rest:
                return None
            return arg, vault
    return None


def vault_of(argv: list[str]) -> str | None:
    """The vault a vault command line (one the worker may run) works in, found as the command line
    finds it; None for any other command line."""
    found = _command_and_vault(argv)
    return _vault_root(found[1]) if found is not None else None


def _vault_root(option: str | None) -> str | None:
    """The vault the command line names, found as the command line finds it (the child checks again)."""
    if option is not None:
        return os.path.realpath(os.path.expanduser(option))
    found = find_vault(Path.cwd())
    return os.path.realpath(found[0]) if found else None


def _read_line(conn: socket.socket, buffer: bytearray) -> bytes | None:
    while b"\n" not in buffer:
        chunk = conn.recv(MAX_LINE)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > MAX_LINE:
            return None
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def forward(argv: list[str]) -> int | None:
    """Run the command in the warm worker; its exit code, or None when it must run here."""
    if os.environ.get(DISABLE) == "0":
        return None
    found = _command_and_vault(argv)
    if found is None:
        return None
    root = _vault_root(found[1])
    where = address(root) if root else None
    if where is None:
        return None
    # A Ctrl-C (or a SIGTERM) while the worker prepares is held: before the go-ahead it means the
    # command is not started at all; after it, it is passed on to the command.
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: held.append(signum)) for sig in PASSED}
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        buffer = bytearray()
        child = _start(conn, where, argv, buffer)
        if child is not None and not held and _go_ahead(conn):
            return _wait(conn, buffer, child, held)
    finally:
        conn.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if signal.SIGTERM in held:
        signal.raise_signal(signal.SIGTERM)
    if signal.SIGINT in held:
        sys.stderr.write("已中断\n")
        return 130
    return None  # the worker did not start it: run it here


def _start(conn: socket.socket, where: str, argv: list[str], buffer: bytearray) -> int | None:
    """Ask the worker to run the command: the process id of the child running it, or None."""
    try:
        conn.settimeout(2.0)
        conn.connect(where)
        if not peer_is_me(conn):
            return None
        streams = (sys.stdin, sys.stdout, sys.stderr)
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                   "encodings": [[getattr(s, "encoding", None) or "utf-8", getattr(s, "errors", None) or "strict"]
                                 for s in streams]}
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        started = _read_line(conn, buffer)
    except (OSError, ValueError):
        return None
    if not started or not started.startswith(b"S ") or not started[2:].isdigit():
        return None
    return int(started[2:])


def _go_ahead(conn: socket.socket) -> bool:
    """Tell the worker's child to run the command; False when it is gone (then it did not run it)."""
    try:
        conn.sendall(b"G\n")
    except OSError:
        return False
    return True


def _wait(conn: socket.socket, buffer: bytearray, child: int, held: list[int]) -> int:
    """The child's exit code, passing Ctrl-C and SIGTERM on to it meanwhile (and any that came while
    the go-ahead was sent)."""
    def pass_on(signum, _frame):
        try:
            os.kill(child, signum)
        except OSError:
            pass

    for sig in PASSED:
        signal.signal(sig, pass_on)
    for sig in held:
        pass_on(sig, None)
    conn.settimeout(None)
    try:
        line = _read_line(conn, buffer)
    except OSError:
        line = None
    if line is None or not line.startswith(b"X ") or not line[2:].lstrip(b"-").isdigit():
        sys.stderr.write("命令在后台进程中意外结束（vaultcrm watch 的常驻进程），请检查结果后重试；"
                         "设置 VAULTCRM_WARM=0 可改为在本进程中运行\n")
        return 1
    return int(line[2:])
