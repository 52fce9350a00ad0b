"""contrib/systemd's units, checked by systemd itself (`systemd-analyze verify`), with the
ExecStart= path pointed at this checkout's drorch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

UNITS = REPO_ROOT / "contrib" / "systemd"
SHIPPED_PATH = "/opt/drorch/.venv/bin/drorch"


@pytest.fixture
def units(tmp_path: Path) -> Path:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    drorch = Path(sys.executable).with_name("drorch")
    for unit in [*UNITS.glob("drorch*.service"), *UNITS.glob("drorch*.socket")]:
        text = unit.read_text()
        (tmp_path / unit.name).write_text(text.replace(SHIPPED_PATH, str(drorch)))
    return tmp_path


def test_the_units_verify(units: Path) -> None:
    names = sorted(p.name for p in units.iterdir())
    assert names == ["drorch-cli.service", "drorch-cli.socket", "drorch.service"]
    done = subprocess.run(
        ["systemd-analyze", "verify", *names],
        cwd=units,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_a_broken_unit_does_not_verify(units: Path) -> None:
    # The check can fail: a unit with a typo in a key is reported.
    socket = units / "drorch-cli.socket"
    socket.write_text(socket.read_text().replace("ListenSequentialPacket", "ListenSequentalPacket"))
    done = subprocess.run(
        ["systemd-analyze", "verify", socket.name],
        cwd=units,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "ListenSequentalPacket" in done.stderr


def test_the_command_server_listens_where_the_client_looks(units: Path) -> None:
    from drorch.cli.served import DEFAULT_SOCKET

    socket = (units / "drorch-cli.socket").read_text()
    assert f"ListenSequentialPacket={DEFAULT_SOCKET}\n" in socket
    service = (units / "drorch-cli.service").read_text()
    assert "cli-server" in service.split("ExecStart=", 1)[1].splitlines()[0]


def test_the_command_server_has_a_drorch_logins_rights_and_no_more(units: Path) -> None:
    # A served command does what the same command in a drorch shell does: the daemon's
    # user, none of the daemon's capabilities or file-system sandbox.
    service = _settings(units / "drorch-cli.service")
    daemon = _settings(units / "drorch.service")
    assert service["User"] == daemon["User"] == ["drorch"]
    assert service["Group"] == daemon["Group"]
    granted = {"AmbientCapabilities", "CapabilityBoundingSet", "SupplementaryGroups"}
    confined = {"ProtectSystem", "ProtectHome", "PrivateTmp", "ReadWritePaths", "StateDirectory"}
    assert daemon.keys() & (granted | confined)  # the daemon has them: the check can fail
    assert not service.keys() & (granted | confined)


def _settings(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found
