"""The runs a daemon has in hand (drorch.service.in_hand): a key stays while any of its
holders holds it, so that the first to end does not hide the other from the handover and
from dead-run recovery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drorch.locks import job_lock_name, resource_lock
from drorch.service.daemon import Daemon
from drorch.service.in_hand import InHand
from tests.conftest import write_root


def test_a_key_stays_until_its_last_holder_ends() -> None:
    runs = InHand()
    with runs.holding("app:snapshot"):
        with runs.holding("app:snapshot"), runs.holding("db:check"):
            assert runs.keys() == {"app:snapshot", "db:check"} and len(runs) == 3
        assert runs.keys() == {"app:snapshot"} and len(runs) == 1
    assert runs.keys() == frozenset() and len(runs) == 0


def test_a_holder_that_fails_lets_go() -> None:
    runs = InHand()
    with pytest.raises(RuntimeError), runs.holding("app:snapshot"):
        raise RuntimeError("the run could not start")
    assert len(runs) == 0


def test_an_assigned_slot_finding_its_previous_run_going_leaves_that_run_in_hand(
    tmp_path: Path,
) -> None:
    """The assigned slot's execute meets the job action's lock (LockBusy) and returns; the
    run that holds the lock goes on and must still count, or a drained leader would hand
    over under it."""
    daemon = Daemon(write_root(tmp_path / "root"))
    try:
        name = job_lock_name("app", "snapshot")
        with (
            daemon._running.holding("app:snapshot"),
            resource_lock(daemon.catalog, name, purpose="the previous run"),
        ):
            daemon.run_assigned("app", "snapshot", datetime(2026, 12, 1, tzinfo=UTC), None)
            assert daemon._running.keys() == {"app:snapshot"}
            assert daemon.catalog.runs() == []  # it did not start
        assert len(daemon._running) == 0
    finally:
        daemon.catalog.close()
