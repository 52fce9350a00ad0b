"""Runs left RUNNING by a process that is gone: who may mark them, and only once. On the
catalog's two backends, with real processes for the pids."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from drorch.catalog import Catalog, RunStatus, SnapshotRecord, SnapshotStatus, models
from drorch.catalog.daemon import interrupt_run
from drorch.config import Config, load_config
from drorch.process import process_identity
from drorch.service.recovery import notice_dead_runs

HOST = socket.gethostname()


def gone_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def config(make_root: Callable[..., Path]) -> Config:
    return load_config(make_root())


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def run_of(
    catalog: Catalog,
    pid: int,
    *,
    host: str = HOST,
    ago: timedelta | None = None,
    process: str | None = None,
) -> int:
    run_id = catalog.create_run(
        job="app",
        action="check",
        target="primary",
        host=host,
        pid=pid,
        actor="test",
        process=process,
    ).id
    if ago is not None:
        with catalog.session() as session, session.begin():
            then = datetime.now(UTC) - ago
            session.execute(
                update(models.Run)
                .where(models.Run.id == run_id)
                .values(created_at=then, started_at=then)
            )
    return run_id


def test_a_run_this_process_is_running_is_alive_whatever_the_clock_says(
    any_catalog: Catalog, config: Config
) -> None:
    """A daemon whose wall clock was stepped back an hour dates its next run an hour
    before its own start: by the pid-reuse guard alone its own live run is gone (the
    daemon marked it INTERRUPTED, then could not record its success). The daemon says which
    actions it runs now, and those of its own pid are alive."""
    own = run_of(any_catalog, os.getpid(), ago=timedelta(days=1))  # before this process began
    assert (
        notice_dead_runs(config, any_catalog, noticed_by="the daemon", running_here={"app:check"})
        == []
    )
    run = any_catalog.run(own)
    assert run is not None and run.status is RunStatus.RUNNING
    # Another action of this process's: the guard alone decides, and calls it gone.
    marked = notice_dead_runs(
        config, any_catalog, noticed_by="the daemon", running_here={"app:snapshot"}
    )
    assert [r.id for r in marked] == [own]


def test_only_a_run_whose_process_is_gone_on_this_host_is_interrupted(
    any_catalog: Catalog, config: Config, sleeper: subprocess.Popen[bytes]
) -> None:
    dead = run_of(any_catalog, gone_pid())
    live = run_of(any_catalog, os.getpid())
    elsewhere = run_of(any_catalog, gone_pid(), host="another-node")
    # Its pid now belongs to a process started an hour after the run: not the run's.
    reused = run_of(any_catalog, sleeper.pid, ago=timedelta(hours=1))
    marked = notice_dead_runs(config, any_catalog, noticed_by="the test")
    assert sorted(r.id for r in marked) == [dead, reused]
    assert notice_dead_runs(config, any_catalog, noticed_by="the test") == []
    status = {r.id: r.status for r in any_catalog.runs()}
    assert (status[live], status[elsewhere]) == (RunStatus.RUNNING, RunStatus.RUNNING)
    run = any_catalog.run(dead)
    assert run is not None and run.status is RunStatus.INTERRUPTED
    assert run.finished_at is not None
    assert run.error == (
        f"interrupted: the process running it (pid {run.pid}) ended without finishing it; "
        "found by the test"
    )


def test_a_run_is_told_by_its_process_identity_whatever_the_clock_did(
    any_catalog: Catalog, config: Config, sleeper: subprocess.Popen[bytes]
) -> None:
    """With the identity (boot id, start ticks) recorded, a clock stepped since the run
    began does not matter: a run dated a day before its live process began is alive (the
    clock stepped forward since), one whose pid now names a process of another start is
    gone, as is one whose pid is gone."""
    mine = process_identity(os.getpid())
    assert mine is not None
    boot, ticks = mine.split()
    live = run_of(any_catalog, os.getpid(), ago=timedelta(days=1), process=mine)
    reused = run_of(any_catalog, sleeper.pid, process=f"{boot} {int(ticks) - 1}")
    dead = run_of(any_catalog, gone_pid(), process=mine)
    marked = notice_dead_runs(config, any_catalog, noticed_by="the test")
    assert sorted(r.id for r in marked) == [reused, dead]
    run = any_catalog.run(live)
    assert run is not None and run.status is RunStatus.RUNNING and run.process == mine


def orphan(run_id: int) -> SnapshotRecord:
    return SnapshotRecord(
        job="app",
        target="primary",
        snapshot_id="ab" * 32,
        time=datetime(2026, 11, 29, 12, tzinfo=UTC),
        tree="cd" * 32,
        hostname=HOST,
        paths=("/srv/app",),
        tags=("drorch", "job:app", f"run:{run_id}"),
        size=None,
        files=None,
        original_id=None,
        run_id=run_id,
        canary_path=None,
        canary_sha256=None,
        status=SnapshotStatus.ORPHANED,
    )


def test_two_processes_finding_a_dead_run_at_once_record_it_once(any_catalog: Catalog) -> None:
    """Every command looks; the second to look finds the run no longer RUNNING, and neither
    fails nor records its snapshot twice."""
    run_id = run_of(any_catalog, gone_pid())
    first = interrupt_run(any_catalog, run_id, error="first", orphans=[orphan(run_id)])
    second = interrupt_run(any_catalog, run_id, error="second", orphans=[orphan(run_id)])
    assert first is not None and first.status is RunStatus.INTERRUPTED
    assert second is None
    assert [(s.snapshot_id, s.status) for s in any_catalog.snapshots()] == [
        ("ab" * 32, SnapshotStatus.ORPHANED)
    ]
    run = any_catalog.run(run_id)
    assert run is not None and run.error == "first"


def test_a_resumed_runbook_run_is_alive_in_the_process_that_claimed_it() -> None:
    """resume gives a run a new pid, started after the run did: judged against the run's
    start, it would look like a pid taken by a later process."""
    from drorch.catalog import RunRecord
    from drorch.service.recovery import run_process_gone

    long_ago = datetime.now(UTC) - timedelta(days=30)
    run = RunRecord(
        id=1, job=None, action="runbook", target=None, status=RunStatus.RUNNING,
        created_at=long_ago, started_at=long_ago, finished_at=None, host="h",
        pid=os.getpid(), actor="alice", bytes_processed=None, bytes_added=None, files=None,
        snapshot_id=None, error=None, artifacts=None, details={},
    )  # fmt: skip
    assert run_process_gone(run)  # this process started after the run did
    claimed = {"claimed_at": datetime.now(UTC).isoformat()}
    assert not run_process_gone(replace(run, details=claimed))
