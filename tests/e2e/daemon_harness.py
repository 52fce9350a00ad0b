"""Run the daemon as systemd would: a subprocess with NOTIFY_SOCKET on a socket we own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from drorch.catalog import Catalog, RunRecord, open_catalog
from tests.conftest import REPO_ROOT


class Notifications:
    """A Unix datagram socket collecting what the daemon tells systemd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode())

    def states(self) -> list[str]:
        return [line for message in list(self.messages) for line in message.split("\n")]

    def count(self, state: str) -> int:
        return self.states().count(state)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class DaemonProcess:
    def __init__(
        self,
        root: Path,
        tmp: Path,
        *,
        watchdog_usec: int = 1_000_000,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        """`command`: what to run instead of service.py (`--config ROOT -v` follow)."""
        self.root = root
        self.notify = Notifications(tmp / f"notify-{time.monotonic_ns()}.sock")
        self.log = tmp / f"daemon-{time.monotonic_ns()}.log"
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(self.notify.path),
            "WATCHDOG_USEC": str(watchdog_usec),
            "DRORCH_STOP_TIMEOUT": "60",
            "INVOCATION_ID": "test",
            **(env or {}),
        }
        env.pop("WATCHDOG_PID", None)
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                *(command or [sys.executable, str(REPO_ROOT / "service.py")]),
                "--config",
                str(root),
                "-v",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(
            lambda: self.notify.count("READY=1") or self.proc.poll() is not None, timeout, "READY=1"
        )
        assert self.proc.poll() is None, self.output()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.close()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        self.notify.close()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log.read_text()


def catalog_of(root: Path, url: str | None = None) -> Catalog:
    """The catalog of a test config root (state_dir: state; SQLite there unless the test
    gives the root's `catalog:` url), without parsing the config, which a test may have
    broken on purpose."""
    return open_catalog(url, root / "state")


def runs_of(root: Path, action: str = "snapshot", *, url: str | None = None) -> list[RunRecord]:
    catalog = catalog_of(root, url)
    try:
        return sorted(catalog.runs(action=action), key=lambda r: r.id)
    finally:
        catalog.close()
