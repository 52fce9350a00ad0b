"""A run that ends while its PostgreSQL catalog server is down (crashed) is recorded once
the server is back, with the time it ended, and its lock freed: it is not left RUNNING
with its lock held while its process lives. On a private server (tests/pg.py)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drorch.catalog import RunRecord, RunStatus, open_catalog, utc_now
from drorch.catalog.locks import held_locks
from drorch.catalog.outage import PATIENCE
from drorch.locks import lock_for_run, stop_renewing
from tests.pg import PrivateServer


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    with PrivateServer() as running:
        yield running


@pytest.mark.heavy
def test_a_run_that_ends_while_the_server_is_down_is_recorded_once_it_is_back(
    server: PrivateServer, tmp_path: Path
) -> None:
    catalog = open_catalog(server.url, tmp_path / "state")
    try:
        held, run = lock_for_run(
            catalog,
            "job:app:snapshot",
            purpose="snapshot of app",
            run={
                "job": "app",
                "action": "snapshot",
                "target": "primary",
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "actor": "test",
            },
        )
        stop_renewing(held)
        server.crash()
        ended: list[RunRecord] = []
        at = utc_now()
        writer = threading.Thread(
            target=lambda: ended.append(
                catalog.transition(
                    run.id,
                    RunStatus.SUCCEEDED,
                    lock=(held.name, held.token),
                    patience=PATIENCE,
                    bytes_added=7,
                )
            )
        )
        writer.start()
        time.sleep(3)  # the writer meets the server down, and waits
        assert writer.is_alive() and not ended
        back = utc_now()
        server.start()
        writer.join(60)
        assert not writer.is_alive()
        [done] = ended
        assert (done.status, done.bytes_added) == (RunStatus.SUCCEEDED, 7)
        assert done.finished_at is not None and at <= done.finished_at < back  # when it ended
        assert catalog.run(run.id) == done
        assert held_locks(catalog) == []  # freed with the run's end
    finally:
        catalog.close()
