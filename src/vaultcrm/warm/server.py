"""The warm worker `vaultcrm watch` starts: the vault stays loaded, each command runs in a forked child.

    python -m vaultcrm.warm.server VAULT WATCH_PID

Why a separate process: the watch has threads (the file observer, the monitor's socket, a live
status line), and forking a process with threads copies locks other threads may hold. This worker
is single-threaded: it loads the vault (asking the watch's file monitor, so without a scan), imports
the libraries commands use, and waits. For each command (`client.py`) it first brings its vault up to
date with what the monitor reports, then forks; the child takes the caller's terminal, folder and
environment and runs the ordinary command line, whose `load_vault` starts from the inherited vault
(`core.loader.serve_warm`) and asks the monitor again once it holds its lock. The child reports its
exit code; the worker never waits for it and serves the next caller.

A command runs exactly once: the worker says 「S pid」, and the child runs the command only after the
caller's go-ahead 「G」. A caller that gave up waiting for the answer (and runs the command itself)
has closed the connection, or was interrupted and says nothing: the child ends without running it.

The worker ends with the watch (its parent), and when the watch's monitor stops answering. Only
processes of the same user are served (SO_PEERCRED). Nothing it reads from the vault runs as code:
the commands are this package's, the vault only their data.
"""

from __future__ import annotations

import gc
import importlib
import io
import json
import os
import pkgutil
import select
import signal
import socket
import sys
import time
from pathlib import Path

from ..core.loader import Vault, load_vault, serve_warm
from ..vault import monitor
from ..vault.peer import peer_is_me
from .client import DISABLE, address

IDLE = 1.0  # seconds between catching up with the monitor while nobody asks
GO_AHEAD_WAIT = 30.0  # seconds the child waits for the caller's go-ahead (a caller that left: at once)
MAX_REQUEST = 1 << 20


def _preload() -> None:
    """Import what commands use, so that a child does not: every module but the command line's own
    (`cli/` builds its consoles at import, from the terminal and environment, which are the caller's)."""
    import vaultcrm

    for info in pkgutil.walk_packages(vaultcrm.__path__, "vaultcrm."):
        if info.name.startswith(("vaultcrm.cli", "vaultcrm.warm", "vaultcrm.__main__")):
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - a module that fails here fails in the child, with its message
            pass
    for name in ("typer", "rich.console", "rich.table", "rich.progress", "jinja2", "ruamel.yaml", "click"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


class Worker:
    def __init__(self, root: Path, parent: int, listener: socket.socket):
        self.root, self.parent, self.listener = root, parent, listener
        self.vault: Vault | None = None
        self.unprepared = False  # the index's lookups are not built yet (VaultIndex.prepare)

    def catch_up(self) -> bool:
        """Bring the vault up to date; False when the watch no longer answers (time to end)."""
        if self.vault is None:
            self.vault = self._loaded(load_vault(self.root))
            return self.vault.stats.monitored or monitor.ask(self.root, self.vault.token) is not None
        changes = monitor.ask(self.root, self.vault.token)
        if changes is None:
            return False
        if not changes.fresh or changes.files or changes.dirs:
            self.vault = self._loaded(load_vault(self.root, previous=self.vault, changes=changes))
        return True

    def _loaded(self, vault: Vault) -> Vault:
        gc.unfreeze()  # load_vault froze it for a one-shot command: here earlier vaults must be freed
        self.unprepared = True
        return vault

    def idle(self) -> bool:
        """Between commands: catch up, and build the lookups commands use (not while one waits)."""
        if not self.catch_up():
            return False
        if self.unprepared:
            self.vault.index.prepare()
            _compile_templates(self.vault)
            self.unprepared = False
        return True

    def serve(self) -> None:
        listener = self.listener
        while os.getppid() == self.parent:
            ready, _, _ = select.select([listener], [], [], 0 if self.unprepared else IDLE)
            if not ready:
                if not self.idle():
                    return
                continue
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                self.answer(conn)

    def answer(self, conn: socket.socket) -> None:
        fds: list[int] = []
        try:
            conn.settimeout(5.0)
            if not peer_is_me(conn):
                return
            message, fds, _flags, _addr = socket.recv_fds(conn, MAX_REQUEST, 3)
            while not message.endswith(b"\n") and len(message) < MAX_REQUEST:
                more = conn.recv(MAX_REQUEST)
                if not more:
                    break
                message += more
            request = json.loads(message)
            if len(fds) != 3 or not _well_formed(request):
                return
            if not self.catch_up():
                return
            child = os.fork()
            if child == 0:
                self.listener.close()
                _run_child(conn, fds, request, self.vault)  # never returns
            conn.sendall(f"S {child}\n".encode())
        except (OSError, ValueError):
            return
        finally:
            for fd in fds:
                os.close(fd)


def _compile_templates(vault: Vault) -> None:
    """Compile every note template once, as the vault's commands will use them (its own overrides first;
    jinja2 checks an override's file for changes on each use)."""
    from ..core.render import environment, templates_dir

    env = environment(str(vault.root / vault.settings.folders.templates))
    for template in templates_dir().glob("*.j2"):
        try:
            env.get_template(template.name)
        except Exception:  # noqa: BLE001 - a broken override is reported by the command that renders it
            pass


def _well_formed(request: object) -> bool:
    if type(request) is not dict:
        return False
    argv, cwd, env, encodings = (request.get(k) for k in ("argv", "cwd", "env", "encodings"))
    return (type(argv) is list and all(type(a) is str for a in argv) and type(cwd) is str
            and type(env) is dict and all(type(k) is str and type(v) is str for k, v in env.items())
            and type(encodings) is list and len(encodings) == 3
            and all(type(e) is list and len(e) == 2 and all(type(x) is str for x in e) for e in encodings))


def _run_child(conn: socket.socket, fds: list[int], request: dict, vault: Vault) -> None:
    """In the forked child: become the caller's command, report its exit code, end."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if not _go_ahead(conn):
            os._exit(0)  # the caller runs it itself, or was interrupted: this child never started it
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        (enc_in, err_in), (enc_out, err_out), (enc_err, err_err) = request["encodings"]
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=enc_in, errors=err_in)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=enc_out, errors=err_out,
                                      line_buffering=os.isatty(1), write_through=not os.isatty(1))
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=enc_err, errors=err_err,
                                      line_buffering=True)
        sys.argv = ["vaultcrm", *request["argv"]]
        serve_warm(vault)
        from ..cli import main

        try:
            main(ending=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if type(exc.code) is int else (0 if exc.code is None else 1)
    except KeyboardInterrupt:  # Ctrl-C passed on before the command line took over: as it would say it
        code = 130
        try:
            sys.stderr.write("已中断\n")
        except (OSError, ValueError):
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        try:
            conn.sendall(f"X {code}\n".encode())
        except OSError:
            pass
        os._exit(code)


def _go_ahead(conn: socket.socket) -> bool:
    try:
        conn.settimeout(GO_AHEAD_WAIT)
        return conn.recv(2) == b"G\n"
    except OSError:
        return False


def main() -> None:
    root, parent = Path(sys.argv[1]).resolve(), int(sys.argv[2])
    if os.environ.get(DISABLE) == "0" or address(str(root)) is None:
        return  # switched off, or not on Linux: commands run in their own processes
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    where = address(str(root))
    try:
        listener.bind(where)  # another worker for this vault: leave it be
    except (OSError, TypeError):
        return
    _preload()
    worker = Worker(root, parent, listener)
    try:
        if worker.idle():
            listener.listen(16)  # only now: until then a command is refused at once and runs itself
            worker.serve()
    except Exception:  # noqa: BLE001 - the worker only ever saves time: without it, commands run as before
        return
    finally:
        listener.close()


if __name__ == "__main__":
    main()
