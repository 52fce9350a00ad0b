"""The client side of `drorch cli-server`: hand this command to a warm drorch process.

A drorch command spends 0.4-0.7 s importing SQLAlchemy, pydantic and its own modules before
it does anything, more than restic takes for a small incremental snapshot. `drorch
cli-server` (drorch.cli.server) imports them once; for each command it forks a child that
runs the command exactly as this process would have: the same argv, the client's own
stdin, stdout and stderr (passed as file descriptors), its working directory, umask and
environment. This module is all the client imports: the socket, a few messages, its exit.

Only a server of this client's own uid and gid serves it (the server checks the peer's
credentials), and only when it runs the same drorch, from the same files, as this process
would (the server checks that its files have not changed since it started, and that the
environment variables read at import time, DRORCH_* and PYTHONPATH and its kin, are the
same).
Anything else, or no server listening, and the command runs here, as without a server:
the server is an accelerator, never a requirement. `daemon` and `cli-server` themselves
are never handed over (the server says so).

Once the server has forked the child, this process relays SIGINT, SIGTERM, SIGHUP and
SIGQUIT to it, waits, and exits with the child's exit code (128 + N for a child killed by
signal N). If this process dies, the server sends the child SIGTERM, which cancels a run
as it would in the foreground.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence

SOCKET_ENV = "DRORCH_CLI_SOCKET"  # where the server listens; empty: never ask one
DEFAULT_SOCKET = "/run/drorch/cli.sock"
RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
MESSAGE_MAX = 1 << 20  # a request (argv and environment) is far smaller


def socket_path() -> str:
    """Where the server of this process's environment listens ("" for nowhere)."""
    return os.environ.get(SOCKET_ENV, DEFAULT_SOCKET)


def try_served(argv: Sequence[str]) -> int | None:
    """The exit code of the command `argv` run by a server; None when no server takes it
    (then the caller runs it itself, and nothing of it has run yet)."""
    path = socket_path()
    if not path:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(path)
    except OSError:  # no server (no socket, nobody listening, not allowed to connect)
        sock.close()
        return None
    try:
        pid = _hand_over(sock, argv)
    except OSError:
        pid = None
    if pid is None:
        sock.close()
        return None
    return _wait(sock)


def _hand_over(sock: socket.socket, argv: Sequence[str]) -> int | None:
    """Send the request and our stdio and working directory; the child's pid, or None if
    the server refused."""
    umask = os.umask(0o077)
    os.umask(umask)
    request = {
        "argv": list(argv),
        "environ": dict(os.environ),
        "umask": umask,
        "python": sys.executable,
        "package": os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    }
    fds, opened = [], []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:  # a closed stdio stream: the child gets /dev/null there
            opened.append(os.open(os.devnull, os.O_RDWR))
            fds.append(opened[-1])
    opened.append(os.open(".", os.O_RDONLY | os.O_DIRECTORY))
    fds.append(opened[-1])
    try:
        socket.send_fds(sock, [json.dumps(request).encode()], fds)
    finally:
        for fd in opened:
            os.close(fd)
    reply = _receive(sock)
    if reply is None or "pid" not in reply:
        return None
    return int(reply["pid"])


def _wait(sock: socket.socket) -> int:
    """Relay our signals to the child until the server says how it ended."""

    def relay(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            sock.send(json.dumps({"signal": signum}).encode())

    for signum in RELAYED:
        signal.signal(signum, relay)
    while True:
        try:
            reply = _receive(sock)
        except InterruptedError:  # pragma: no cover - PEP 475 retries recv itself
            continue
        except OSError:
            reply = None
        if reply is None:
            print(
                "drorch: error: the command server went away before the command ended; "
                "what it did is in `drorch runs`",
                file=sys.stderr,
            )
            return 1
        if "exit" in reply:
            return int(reply["exit"])


def _receive(sock: socket.socket) -> dict[str, int] | None:
    data = sock.recv(MESSAGE_MAX)
    if not data:
        return None
    message = json.loads(data)
    if not isinstance(message, dict):
        return None
    return {k: v for k, v in message.items() if isinstance(v, int)}
