"""sd_notify without libsystemd: readiness, status, watchdog pings to systemd.

The protocol (sd_notify(3)): newline-separated ``KEY=VALUE`` assignments in one
datagram to the AF_UNIX socket named by ``$NOTIFY_SOCKET``; a leading ``@``
names a socket in the abstract namespace. When the variable is unset (not run
by systemd, or not ``Type=notify``), notifying does nothing. A failed send is
logged once and never raised: a daemon must not die because systemd could not
be told something.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0  # seconds; pid 1 drains the socket at once, so this only bounds a wedged system

READY = "READY=1"
STOPPING = "STOPPING=1"
WATCHDOG = "WATCHDOG=1"


def status(text: str) -> str:
    """``STATUS=text``: the free-form line ``systemctl status`` shows."""
    return f"STATUS={text}"


def reloading() -> tuple[str, str]:
    """``RELOADING=1`` with the ``MONOTONIC_USEC`` systemd (253+) wants beside it.

    Send ``READY=1`` again when the reload is done.
    """
    return "RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"


def socket_address(value: str) -> str | None:
    """Turn ``$NOTIFY_SOCKET`` into an AF_UNIX address, or None when it is not one.

    ``/run/systemd/notify`` is a path; ``@name`` is ``\\0name`` in the abstract
    namespace. Anything else (a relative path, ``vsock:...``) is not supported.
    """
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def encode(states: tuple[str, ...]) -> bytes:
    """One datagram: the assignments joined by newlines.

    A newline inside an assignment would smuggle in another one
    (``STATUS=x\\nREADY=1``), so it is flattened to a space.
    """
    if not states:
        raise ValueError("notify() needs at least one KEY=VALUE assignment")
    lines = []
    for state in states:
        if "=" not in state:
            raise ValueError(f"not a KEY=VALUE assignment: {state!r}")
        lines.append(state.replace("\r", " ").replace("\n", " "))
    return "\n".join(lines).encode("utf-8")


class Notifier:
    """A socket kept open for one ``$NOTIFY_SOCKET`` value. Thread-safe."""

    def __init__(self, value: str) -> None:
        self.value = value
        self._address = socket_address(value)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False

    def notify(self, *states: str) -> bool:
        """Send the assignments; True if the datagram went out, False otherwise."""
        payload = encode(states)
        with self._lock:
            if self._address is None:
                self._warn_once(f"unsupported NOTIFY_SOCKET address {self.value!r}")
                return False
            try:
                if self._socket is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    sock.settimeout(SEND_TIMEOUT)
                    self._socket = sock
                self._socket.sendto(payload, self._address)
            except OSError as exc:
                self._close_locked()  # reopen on the next call
                self._warn_once(f"cannot notify systemd at {self.value!r}: {exc}")
                return False
            return True

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _warn_once(self, message: str) -> None:
        if self._warned:
            log.debug("%s", message)
            return
        self._warned = True
        log.warning("%s (further failures are logged at debug level)", message)


_default: Notifier | None = None
_default_lock = threading.Lock()


def notify(*states: str) -> bool:
    """Send ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``... as one datagram to systemd.

    Returns False, doing nothing, when ``$NOTIFY_SOCKET`` is unset; False also
    when the send failed (logged once). Never raises for a send error.
    """
    global _default
    value = os.environ.get("NOTIFY_SOCKET")
    if not value:
        encode(states)  # the same argument errors with or without systemd
        return False
    with _default_lock:
        if _default is None or _default.value != value:
            if _default is not None:
                _default.close()
            _default = Notifier(value)
        return _default.notify(*states)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings, or None when no watchdog is configured.

    systemd sets ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) for ``WatchdogSec=``.
    The ping interval is half the timeout, as sd_watchdog_enabled(3) advises.
    A ``WATCHDOG_PID`` naming another process (a child that inherited the
    environment) means the watchdog is not ours. Unparsable values mean none.
    """
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid is not None:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
