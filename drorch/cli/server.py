"""`drorch cli-server`: a warm process that runs drorch commands for its clients.

The server imports every module a command may need, once, and then waits on a Unix
socket (SOCK_SEQPACKET, mode 0600). For each request (drorch.cli.served is the client)
it checks the peer and the request, forks, and the child runs the command as the
client's process would have: drorch.cli's main() with the client's argv, on the
client's stdin, stdout and stderr, in its working directory, with its umask and its
environment. The child is a fresh process of its own session: it sets its own signal
handlers, opens its own catalog connections and exits with os._exit, as `drorch` does.

The server stays single-threaded (forking a threaded process can copy a lock some other
thread holds), opens no catalog and reads no config: it serves any config root its
clients name. It refuses, and the client then runs the command itself:
- a peer of another uid, gid or set of supplementary groups (SO_PEERCRED,
  SO_PEERGROUPS), since the child runs with the server's rights;
- a client of another Python or another drorch package folder, or any drorch file
  changed since the server started (an upgrade: the server then exits once its children
  have ended, for its service manager to start a new one);
- an environment that differs in what was fixed when the server imported its modules:
  the DRORCH_* settings drorch reads at import (IMPORT_TIME_ENV), and PYTHONPATH and the
  other variables that choose what Python imports;
- `daemon` and `cli-server` themselves.

It relays SIGINT, SIGTERM, SIGHUP and SIGQUIT from the client to the child, sends the
child SIGTERM if the client goes away (a run is canceled as in the foreground), and
tells the client the child's exit code. SIGTERM or SIGINT to the server: no new
requests; its children get SIGTERM, their clients their exit codes, then it exits 0.
With systemd socket activation (LISTEN_FDS=1), the socket is the one systemd passes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import locale
import logging
import os
import pkgutil
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import drorch
from drorch.cli.served import MESSAGE_MAX, RELAYED
from drorch.errors import UsageError

log = logging.getLogger(__name__)

NOT_SERVED = frozenset({"daemon", "cli-server"})
# Fixed in the server when it imported drorch and its libraries: a client's must match.
# The settings drorch's modules read when imported (tests/unit/cli/test_server.py keeps
# this list whole), and the PYTHON* variables that choose what Python imports. Any other
# variable (DRORCH_CONFIG, TZ, PATH...) is the child's own, read when it is used.
IMPORT_TIME_ENV = frozenset(
    {
        "DRORCH_CATALOG_BUSY_TIMEOUT",
        "DRORCH_LEADERSHIP_EVERY",
        "DRORCH_STOP_TIMEOUT",
        "DRORCH_COMPLIANCE_EVERY",
        "DRORCH_ASSIGNMENTS_EVERY",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONNOUSERSITE",
        "PYTHONUSERBASE",
        "PYTHONSAFEPATH",
    }
)
SKIPPED_MODULES = ("drorch.catalog.migrations", "drorch.__main__", "drorch.service")
SD_LISTEN_FDS_START = 3
SUN_PATH_MAX = 107  # sockaddr_un's sun_path, less its terminating NUL


def serve(path: str) -> int:
    """Serve until SIGTERM or SIGINT, or until drorch's files change; 0 at a clean stop.
    The socket is bound first, so that a wrong path fails at once and clients that come
    during the imports wait for them instead of running without the server."""
    listener, bound = _listener(path)
    try:
        preload()
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:  # an import started one: a fork would copy the locks it may hold
            raise UsageError(
                f"cli-server: {threads} threads after the imports; it forks only alone"
            )
        server = Server(listener, path if bound else None, package_state())
    except BaseException:
        listener.close()
        if bound:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise
    return server.run()


def preload() -> None:
    """Import what commands import (all of drorch but the daemon, the migrations and their
    engines), build the command-line grammar, probe how children are spawned and set up
    SQLAlchemy's mappers, then freeze the heap so that children do not copy it page by
    page."""
    for dialect in ("sqlalchemy.dialects.sqlite.pysqlite", "sqlalchemy.dialects.postgresql"):
        importlib.import_module(dialect)
    importlib.import_module("psycopg")
    for module in pkgutil.walk_packages(drorch.__path__, "drorch."):
        if not module.name.startswith(SKIPPED_MODULES):
            importlib.import_module(module.name)
    from sqlalchemy.orm import configure_mappers

    from drorch import process
    from drorch.cli import grammar

    grammar()
    process.warm()
    configure_mappers()  # done at a process's first ORM query otherwise: 35 ms
    gc.collect()
    gc.freeze()


def package_state() -> tuple[tuple[str, int, int], ...]:
    """The drorch files as they are now (path, size, mtime): a change means an upgrade."""
    found = []
    for folder in drorch.__path__:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(dirpath, name))
                    found.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    return tuple(found)


def _listener(path: str) -> tuple[socket.socket, bool]:
    """The listening socket, and whether this process bound it (and so removes it at the
    end): systemd's when it passed one (socket activation), else one bound at `path`."""
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS") == "1":
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)  # not for the children
        return socket.socket(fileno=SD_LISTEN_FDS_START), False
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise UsageError(
            f"cli-server: {path} is {len(os.fsencode(path))} bytes long; a Unix socket's "
            f"path holds at most {SUN_PATH_MAX}"
        )
    folder = Path(path).parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        probe.connect(path)
    except FileNotFoundError:
        pass
    except ConnectionRefusedError:  # left by a server that died: nobody listens
        os.unlink(path)
    except OSError as exc:
        raise UsageError(f"cli-server: cannot use {path}: {exc.strerror or exc}") from None
    else:
        raise UsageError(f"cli-server: another server already listens on {path}")
    finally:
        probe.close()
    old = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as exc:
        raise UsageError(f"cli-server: cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old)
    sock.listen(64)
    return sock, True


@dataclass
class Client:
    conn: socket.socket
    command: str = ""
    pid: int | None = None
    pidfd: int | None = None
    started: float = field(default_factory=time.monotonic)
    gone: bool = False  # the client hung up: its child was sent SIGTERM


class Server:
    def __init__(
        self, listener: socket.socket, path: str | None, files: tuple[tuple[str, int, int], ...]
    ) -> None:
        self.listener = listener
        self.path = path  # the socket file this server bound and removes; None: systemd's
        self.files = files
        self.selector = selectors.DefaultSelector()
        self.clients: dict[int, Client] = {}  # by the connection's fd
        self.children: dict[int, Client] = {}  # by pidfd
        self.stopping = False
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def run(self) -> int:
        signal.set_wakeup_fd(self.wake_w)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, "listener")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        log.warning(
            "cli-server %s listening on %s (pid %d)",
            drorch.__version__,
            self.listener.getsockname(),
            os.getpid(),
        )
        while not (self.stopping and not self.children):
            for key, _ in self.selector.select():
                if key.data == "listener":
                    self._accept()
                elif key.data == "wake":
                    self._drain_wake()
                elif key.data == "child":
                    self._reap(self.children[key.fd])
                else:
                    self._read(self.clients[key.fd])
        self._close_listener()
        return 0

    # -- events ---------------------------------------------------------------------------

    def _on_stop(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def _drain_wake(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        if self.stopping:
            self._stop()

    def _stop(self) -> None:
        if self.listener.fileno() >= 0:
            log.warning("cli-server stopping: %d command(s) get SIGTERM", len(self.children))
            self._close_listener()
            for client in self.children.values():
                self._signal(client, signal.SIGTERM)

    def _accept(self) -> None:
        if self.listener.fileno() < 0:  # closed by a stop earlier in this round
            return
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(True)
        conn.settimeout(5)  # a client sends its request at once
        self.clients[conn.fileno()] = Client(conn)
        self.selector.register(conn, selectors.EVENT_READ, "client")

    def _read(self, client: Client) -> None:
        if client.pid is None:
            self._request(client)
            return
        try:
            data = client.conn.recv(MESSAGE_MAX)
        except OSError:
            data = b""
        if not data:  # the client is gone: cancel its command as SIGTERM would
            self.selector.unregister(client.conn)
            client.gone = True
            self._signal(client, signal.SIGTERM)
            return
        try:
            signum = int(json.loads(data)["signal"])
        except (ValueError, KeyError, TypeError):
            return
        if signum in RELAYED:
            self._signal(client, signum)

    def _request(self, client: Client) -> None:
        fds: list[int] = []
        try:
            data, fds, _, _ = socket.recv_fds(client.conn, MESSAGE_MAX, 8)
            request = json.loads(data) if data else None
            why = self._refusal(client.conn, request, fds)
        except (OSError, ValueError) as exc:
            request, why = None, f"unreadable request: {exc}"
        if why is not None:
            if request is not None:
                log.info("cli-server: not serving: %s", why)
            self._reply(client, {"refused": why})
            self._drop(client)
            for fd in fds:
                os.close(fd)
            return
        assert request is not None
        client.command = _command(request["argv"]) or "drorch"
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its outcome is what tests check
            _child(request, fds)
        for fd in fds:
            os.close(fd)
        client.pid = pid
        client.pidfd = os.pidfd_open(pid)
        self.children[client.pidfd] = client
        self.selector.register(client.pidfd, selectors.EVENT_READ, "child")
        self._reply(client, {"pid": pid})

    def _refusal(self, conn: socket.socket, request: object, fds: list[int]) -> str | None:
        """Why this request is not served here (None: it is)."""
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, gid = struct.unpack("3i", creds)
        if (uid, gid) != (os.geteuid(), os.getegid()):
            return f"uid {uid} gid {gid} is not this server's ({os.geteuid()}, {os.getegid()})"
        groups = _peer_groups(conn)
        if groups != frozenset(os.getgroups()):
            shown = ", ".join(map(str, sorted(groups))) if groups is not None else "unknown"
            return f"supplementary groups ({shown}) are not this server's"
        if self.stopping:
            return "the server is stopping"
        if not isinstance(request, dict) or len(fds) != 4:
            return "not a request"
        argv, environ = request.get("argv"), request.get("environ")
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
            return "not a request"
        if not (isinstance(environ, dict) and all(isinstance(v, str) for v in environ.values())):
            return "not a request"
        if _command(argv) in NOT_SERVED:
            return f"`{_command(argv)}` runs in a process of its own"
        if request.get("python") != sys.executable:
            return f"another Python ({request.get('python')})"
        if request.get("package") not in [os.path.abspath(p) for p in drorch.__path__]:
            return f"another drorch ({request.get('package')})"
        if package_state() != self.files:
            self.stopping = True  # an upgrade: end when the children have, to be restarted
            self._stop()
            return "drorch's files changed since the server started"
        differs = sorted(
            name
            for name in set(environ) | set(os.environ)
            if name in IMPORT_TIME_ENV and environ.get(name) != os.environ.get(name)
        )
        if differs:
            return f"environment read at import differs: {', '.join(differs)}"
        if not isinstance(request.get("umask"), int):
            return "not a request"
        return None

    def _reap(self, client: Client) -> None:
        assert client.pid is not None and client.pidfd is not None
        _, status = os.waitpid(client.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        self.selector.unregister(client.pidfd)
        del self.children[client.pidfd]
        os.close(client.pidfd)
        client.pidfd = None
        log.info(
            "cli-server: %s (pid %d) exited %d after %.2f s%s",
            client.command,
            client.pid,
            code,
            time.monotonic() - client.started,
            " (its client had gone)" if client.gone else "",
        )
        if not client.gone:
            self._reply(client, {"exit": code})
        self._drop(client)

    # -- helpers --------------------------------------------------------------------------

    def _signal(self, client: Client, signum: int) -> None:
        if client.pidfd is not None:
            # ProcessLookupError: it exited and is not reaped yet; its exit is on its way.
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(client.pidfd, signum)

    def _reply(self, client: Client, message: Mapping[str, object]) -> None:
        with contextlib.suppress(OSError):
            client.conn.send(json.dumps(message).encode())

    def _drop(self, client: Client) -> None:
        fd = client.conn.fileno()
        if fd >= 0 and fd in self.clients:
            if not client.gone:
                self.selector.unregister(client.conn)
            del self.clients[fd]
        client.conn.close()

    def _close_listener(self) -> None:
        if self.listener.fileno() < 0:
            return
        self.selector.unregister(self.listener)
        self.listener.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux 4.13; not in Python's socket


def _peer_groups(conn: socket.socket) -> frozenset[int] | None:
    """The supplementary groups of the process at the other end (None: more than fit in
    the 1,024 bytes Python's getsockopt reads, or not told)."""
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 1024)
    except OSError:
        return None
    return frozenset(struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))


def _command(argv: list[str]) -> str:
    """The command word of a drorch argv (its first word that is not an option or an
    option's value)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


def _child(request: Mapping[str, object], fds: list[int]) -> None:
    """In the forked child: become the client's process and run its command."""
    code = 1
    try:
        os.setsid()  # signals to the server's process group are not ours
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in zip((0, 1, 2), fds[:3], strict=True):
            os.dup2(fd, target)
        os.fchdir(fds[3])
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the server's sockets among them
        os.umask(int(request["umask"]))  # type: ignore[call-overload]
        environ = request["environ"]
        assert isinstance(environ, dict)
        os.environ.clear()
        os.environ.update(environ)
        time.tzset()
        _new_stdio(environ)
        argv = request["argv"]
        assert isinstance(argv, list)
        sys.argv = ["drorch", *argv]
        logging.getLogger().handlers.clear()
        from drorch.cli import leave, run_main

        leave(run_main(argv))
    except SystemExit as exc:  # leave(): a thread still works; wait for it as an exit would
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        from drorch.cli import leave

        leave(exc.code if isinstance(exc.code, int) else code)
    except BaseException:
        try:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    os._exit(code)


def _new_stdio(environ: Mapping[str, str]) -> None:
    """Standard streams on the new 0, 1 and 2 as Python makes a process's own from its
    environment: the encoding of its locale (UTF-8 for the C locale, or with PYTHONUTF8=1),
    or PYTHONIOENCODING's; stdout line-buffered on a terminal, stderr always; unbuffered
    with PYTHONUNBUFFERED."""
    encoding, _, errors = environ.get("PYTHONIOENCODING", "").partition(":")
    encoding = encoding or _locale_encoding(environ)
    unbuffered = bool(environ.get("PYTHONUNBUFFERED"))
    sys.stdin = io.TextIOWrapper(
        io.FileIO(0, "r", closefd=False), encoding=encoding, errors=errors or "strict"
    )
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False),
        encoding=encoding,
        errors=errors or "strict",
        line_buffering=os.isatty(1),
        write_through=unbuffered,
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding=encoding,
        errors="backslashreplace",
        line_buffering=True,
        write_through=unbuffered,
    )
    for name in ("stdin", "stdout", "stderr"):
        setattr(sys, f"__{name}__", getattr(sys, name))


def _locale_encoding(environ: Mapping[str, str]) -> str:
    if environ.get("PYTHONUTF8") == "1":
        return "utf-8"
    try:
        locale.setlocale(locale.LC_CTYPE, "")  # from the client's LC_ALL, LC_CTYPE, LANG
    except locale.Error:
        return "utf-8"
    found = locale.getencoding()
    return "utf-8" if found.lower() in ("ascii", "ansi_x3.4-1968") else found
