"""A daemon that takes the leadership lock and then loses its catalog while it takes up
leadership (loading its plan, catching up) stands by and tries again; it does not exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from drorch.service.daemon import Daemon
from tests.conftest import write_root


class Granted:
    """Leadership that is always granted, at epoch 7."""

    def __init__(self) -> None:
        self.closed = 0

    def try_lead(self) -> int | None:
        return 7

    def holds(self) -> bool:
        return True

    def close(self) -> None:
        self.closed += 1


def test_a_catalog_lost_while_taking_up_leadership_means_standing_by(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = Daemon(write_root(tmp_path / "root"))
    try:
        granted = Granted()
        daemon.leadership = granted

        def away() -> None:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))

        monkeypatch.setattr(daemon.catalog, "last_runs", away)  # the catch-up's first read
        daemon._campaign()
        assert not daemon.leading and daemon.cancel.is_set()
        assert granted.closed == 1  # the lock's session ended: a standby may lead
        assert daemon._status_line().startswith(
            "standby; leadership lost: could not take up leadership: "
        )
        monkeypatch.undo()
        daemon._campaign()  # the catalog is back
        assert daemon.fence.epoch == 7
    finally:  # its scheduler was never started
        daemon.catalog.close()


def test_a_clock_stepped_forward_does_not_end_a_wait_for_the_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot waiting for its job action's lock waits up to the misfire grace of real time:
    the wall clock stepped forward a day meanwhile neither ends the wait nor records the
    slot missed."""
    from datetime import UTC, datetime, timedelta

    from drorch.actions.context import Cancel
    from drorch.catalog.daemon import missed_slots
    from drorch.errors import LockBusy
    from drorch.service import daemon as module

    daemon = Daemon(write_root(tmp_path / "root"))
    try:
        daemon.fence.epoch = 7  # leading
        daemon.cancel = Cancel()
        slot = datetime(2026, 11, 30, 12, tzinfo=UTC)
        tries: list[int] = []

        def start() -> str:
            tries.append(1)
            if len(tries) == 1:
                stepped = datetime.now(UTC) + timedelta(days=1)
                monkeypatch.setattr(module, "utc_now", lambda: stepped)
                raise LockBusy("held by run 1")
            return "ran"

        assert daemon._in_turn("app", "snapshot", slot, daemon.cancel, start) == "ran"  # type: ignore[arg-type]
        assert missed_slots(daemon.catalog) == []
    finally:
        daemon.catalog.close()
