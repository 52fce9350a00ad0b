"""sd_notify over real AF_UNIX datagram sockets, as systemd's end would receive it."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from drorch.service import notify as sd
from drorch.service.notify import Notifier, notify, watchdog_interval


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket standing in for systemd, named by NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def test_ready_and_status_arrive_as_one_datagram(receiver: socket.socket) -> None:
    assert notify("READY=1", "STATUS=scheduling 3 jobs") is True
    assert receiver.recv(4096) == b"READY=1\nSTATUS=scheduling 3 jobs"


def test_each_call_is_its_own_datagram_on_the_kept_socket(receiver: socket.socket) -> None:
    assert notify(sd.WATCHDOG)
    assert notify(sd.status("running snapshot of payroll"))
    assert notify(sd.STOPPING)
    assert receiver.recv(4096) == b"WATCHDOG=1"
    assert receiver.recv(4096) == b"STATUS=running snapshot of payroll"
    assert receiver.recv(4096) == b"STOPPING=1"


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"drorch-test-{os.getpid()}-{id(monkeypatch)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("READY=1", "STATUS=scheduling 3 jobs") is True
        assert sock.recv(4096) == b"READY=1\nSTATUS=scheduling 3 jobs"


def test_notify_follows_a_changed_notify_socket(
    receiver: socket.socket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert notify("STATUS=first")
    assert receiver.recv(4096) == b"STATUS=first"
    other_path = tmp_path / "other.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other:
        other.bind(str(other_path))
        other.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(other_path))
        assert notify("STATUS=second")
        assert other.recv(4096) == b"STATUS=second"


def test_unset_notify_socket_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert notify("READY=1") is False


def test_newline_inside_a_state_cannot_inject_another(receiver: socket.socket) -> None:
    assert notify(sd.status("bad\nREADY=1"))
    assert receiver.recv(4096) == b"STATUS=bad READY=1"


def test_reloading_carries_monotonic_usec(receiver: socket.socket) -> None:
    assert notify(*sd.reloading())
    key_values = dict(line.split("=", 1) for line in receiver.recv(4096).decode().split("\n"))
    assert key_values["RELOADING"] == "1"
    assert int(key_values["MONOTONIC_USEC"]) > 0


def test_not_an_assignment_is_a_programming_error(receiver: socket.socket) -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        notify("READY")
    with pytest.raises(ValueError, match="at least one"):
        notify()


def test_send_error_returns_false_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "nobody-listens.sock"))
    with caplog.at_level(logging.DEBUG, logger="drorch.service.notify"):
        assert notifier.notify("READY=1") is False
        assert notifier.notify("WATCHDOG=1") is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "nobody-listens.sock" in warnings[0].getMessage()


def test_notifier_recovers_when_the_socket_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "late.sock"
    notifier = Notifier(str(path))
    with caplog.at_level(logging.WARNING, logger="drorch.service.notify"):
        assert notifier.notify("READY=1") is False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        assert notifier.notify("READY=1") is True
        assert sock.recv(4096) == b"READY=1"
    notifier.close()


def test_unsupported_address_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="drorch.service.notify"):
        assert Notifier("relative/notify.sock").notify("READY=1") is False
    assert "unsupported NOTIFY_SOCKET" in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "2000000"}, 1.0),
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 1.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "not-a-pid"}, None),
        ({}, None),
        ({"WATCHDOG_USEC": "garbage"}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(environ) == expected


def test_watchdog_interval_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    assert watchdog_interval() == 1.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    monkeypatch.setenv("WATCHDOG_USEC", "garbage")
    assert watchdog_interval() is None
