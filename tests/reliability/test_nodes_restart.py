"""PostgreSQL itself restarted, and crashed, under two running daemons (issue 15): on a
private server of the test's own (tests/pg.py PrivateServer), never the shared one.

Both daemons stay up and reconnect; one leads again (the same or the other, at the same
or a higher epoch); the run the leader had in flight ends in a clear state, never left
RUNNING; new runs succeed; no slot ran twice and no two runs overlapped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drorch.catalog import Catalog, RunRecord, RunStatus, utc_now
from drorch.catalog.leadership import leader
from tests.e2e.conftest import Cli
from tests.e2e.daemon_harness import wait_for
from tests.pg import PrivateServer
from tests.reliability.test_nodes import (
    TAKEOVER_LIMIT,
    assert_no_slot_twice_and_no_overlap,
    daemon_runs,
    leader_and_standby,
    run_of,
    status_of,
    two_roots,
)

log = logging.getLogger(__name__)

DOWN_FOR = 10.0  # seconds the crashed server stays down


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    with PrivateServer() as running:
        yield running


def in_flight(catalog: Catalog) -> RunRecord:
    """A new run of the leader a's, in its 2 s before hook: what the outage cuts into."""
    seen = max(r.id for r in catalog.runs())

    def started() -> RunRecord | None:
        run = run_of(catalog, "a", RunStatus.RUNNING)
        return run if run is not None and run.id > seen else None

    run = wait_for(started, 30, "a new run of a's")
    assert isinstance(run, RunRecord)
    return run


def through_an_outage(
    server: PrivateServer, tmp_path: Path, cli: Cli, outage: Callable[[], None], what: str
) -> None:
    """Two daemons on the private server, a leading with a run in flight; `outage` takes
    the server away and returns once it is back. Then both daemons still run and agree on
    a leader, whose new runs succeed; the run in flight ended clearly."""
    roots = two_roots(server.url, tmp_path, cli)
    with leader_and_standby(roots, server.url, tmp_path) as (a, b, catalog):
        wait_for(lambda: run_of(catalog, "a", RunStatus.SUCCEEDED), 30, "a run of a's")
        cut = in_flight(catalog)
        before = leader(catalog).epoch
        outage()
        back, back_at = time.monotonic(), utc_now()

        def agreed() -> str:
            """The leader's lock session ended with the server's: whichever daemon leads
            now took the lock again, at a new epoch, and both daemons say so."""
            now = leader(catalog)
            said = f"leader {now.node} (epoch {now.epoch})"
            both = all(said in status_of(d) for d in (a, b))
            return said if both and now.node is not None and now.epoch > before else ""

        said = wait_for(agreed, TAKEOVER_LIMIT, "both daemons to name one leader again")
        led = time.monotonic() - back

        def new_run() -> RunRecord | None:
            now = leader(catalog).epoch
            done = [
                r
                for r in daemon_runs(catalog)
                if r.created_at > back_at and r.epoch == now and r.status is RunStatus.SUCCEEDED
            ]
            return done[0] if done else None

        wait_for(new_run, 60, "a run of the leader's after the server came back")
        ran = time.monotonic() - back
        print(f"{what}: {said} {led:.1f} s after the server was back; a new run {ran:.1f} s")
        log.warning("%s: %s %.1f s after the server was back; a run %.1f s", what, said, led, ran)
        assert a.proc.poll() is None and b.proc.poll() is None  # both stayed up

        def cut_ended() -> RunRecord | None:
            run = catalog.run(cut.id)
            return run if run is not None and run.status.finished else None

        ended = wait_for(cut_ended, 60, f"run {cut.id} (in flight at the outage) to end")
        assert a.stop() == 0
        assert b.stop() == 0
    try:
        assert isinstance(ended, RunRecord)
        if ended.status is not RunStatus.SUCCEEDED:
            assert ended.status in (RunStatus.CANCELED, RunStatus.INTERRUPTED), ended
            assert "leadership" in (ended.error or "") or "catalog" in (ended.error or ""), ended
        assert all(r.status is not RunStatus.RUNNING for r in daemon_runs(catalog))
        assert_no_slot_twice_and_no_overlap(catalog)
    finally:
        catalog.close()


@pytest.mark.heavy
def test_a_fast_restart_of_the_server_under_two_daemons(
    server: PrivateServer, tmp_path: Path, cli: Cli
) -> None:
    through_an_outage(server, tmp_path, cli, server.restart, "pg_ctl restart -m fast")


@pytest.mark.heavy
def test_a_crash_of_the_server_under_two_daemons(
    server: PrivateServer, tmp_path: Path, cli: Cli
) -> None:
    """The server crashes (stop -m immediate) and stays down 10 s: meanwhile a command
    says in one line that it cannot reach the catalog; then it starts, recovering."""
    said: list[str] = []

    def crash() -> None:
        server.crash()
        down = time.monotonic()
        for command in (("status",), ("node", "list")):
            done = cli(*command, root=tmp_path / "a", check_rc=1)
            said.append(done.stderr)
        time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - down)))
        server.start()

    through_an_outage(server, tmp_path, cli, crash, "pg_ctl stop -m immediate, 10 s, start")
    where = f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/postgres"
    for stderr in said:
        [line] = stderr.strip().splitlines()
        assert line.startswith(f"drorch: error: cannot reach the catalog {where}: "), line
        assert "Traceback" not in stderr and "[SQL" not in stderr
