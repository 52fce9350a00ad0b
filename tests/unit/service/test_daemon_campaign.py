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
