"""A restic call gets what remains of its run's deadline, not a fresh full timeout: hooks,
init and backup together never outlast the action's `timeout`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drorch.errors import ResticTimeout
from drorch.restic import Restic


def hanging_restic(tmp_path: Path) -> str:
    """A stand-in for a restic that hangs (the real one cannot be made to)."""
    script = tmp_path / "restic"
    script.write_text("#!/bin/sh\nexec sleep 1000\n")
    script.chmod(0o755)
    return str(script)


def test_a_call_stops_at_the_run_deadline_not_after_its_own_timeout(tmp_path: Path) -> None:
    restic = Restic(binary=hanging_restic(tmp_path), timeout=1000.0, deadline=time.monotonic() + 1)
    began = time.monotonic()
    with pytest.raises(ResticTimeout, match="timed out"):
        restic.version()
    assert time.monotonic() - began < 60  # a hang guard: its own timeout is 1000 s


def test_no_call_starts_once_the_deadline_has_passed(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = tmp_path / "restic"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    restic = Restic(binary=str(script), timeout=1000.0, deadline=time.monotonic() - 1)
    with pytest.raises(ResticTimeout, match="not started, the run's deadline has passed"):
        restic.version()
    assert not marker.exists()
