"""Runbook runs in the catalog: runs of no one job, their step attempts, approvals, and
the run states only a runbook run has (WAITING, and going on after FAILED) — on SQLite
and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.catalog import Catalog, RunStatus
from drorch.catalog.daemon import interrupt_run
from drorch.catalog.database import create_catalog_engine, migrate
from drorch.catalog.models import StepStatus
from drorch.catalog.runbooks import (
    approve_step,
    end_open_steps,
    finish_step,
    runbook_runs,
    start_step,
    steps_of,
)
from drorch.errors import CatalogError
from tests.catalog_rows import upgrade_to


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    return any_catalog


def _runbook_run(catalog: Catalog, name: str = "restore-payroll") -> int:
    run = catalog.create_run(
        job=None, action="runbook", target=None, host="h", pid=1, actor="alice",
        details={"runbook": name},
    )  # fmt: skip
    return run.id


def test_a_runbook_run_has_no_job_and_is_not_a_jobs_last_run(catalog: Catalog) -> None:
    run_id = _runbook_run(catalog)
    job_run = catalog.create_run(
        job="app", action="snapshot", target=None, host="h", pid=1, actor="x"
    )
    assert catalog.run(run_id).job is None  # type: ignore[union-attr]
    assert [r.id for r in catalog.last_runs().values()] == [job_run.id]
    assert [r.id for r in runbook_runs(catalog)] == [run_id]
    assert runbook_runs(catalog, runbook="other") == []


def test_a_runbook_run_waits_and_goes_on_after_a_failure(catalog: Catalog) -> None:
    run_id = _runbook_run(catalog)
    started = catalog.run(run_id).started_at  # type: ignore[union-attr]
    waiting = catalog.transition(run_id, RunStatus.WAITING)
    assert waiting.finished_at is None and not waiting.status.finished
    catalog.transition(run_id, RunStatus.RUNNING)
    failed = catalog.transition(run_id, RunStatus.FAILED, error="step verify failed")
    assert failed.finished_at is not None
    resumed = catalog.transition(run_id, RunStatus.RUNNING)
    assert resumed.finished_at is None and resumed.started_at == started
    catalog.transition(run_id, RunStatus.SUCCEEDED)
    with pytest.raises(CatalogError, match="cannot go from SUCCEEDED to RUNNING"):
        catalog.transition(run_id, RunStatus.RUNNING)


def test_a_job_run_never_waits_nor_resumes(catalog: Catalog) -> None:
    run = catalog.create_run(job="app", action="restore", target=None, host="h", pid=1, actor="x")
    with pytest.raises(CatalogError, match="cannot go from RUNNING to WAITING"):
        catalog.transition(run.id, RunStatus.WAITING)
    catalog.transition(run.id, RunStatus.FAILED)
    with pytest.raises(CatalogError, match="cannot go from FAILED to RUNNING"):
        catalog.transition(run.id, RunStatus.RUNNING)


def test_step_attempts_are_kept_in_order(catalog: Catalog) -> None:
    run_id = _runbook_run(catalog)
    first = start_step(
        catalog, run_id, position=0, name="restore", kind="restore", actor="alice",
        inputs={"job": "payroll", "to": "/srv/r"},
    )  # fmt: skip
    finish_step(catalog, first.id, StepStatus.FAILED, error="restic exit 1")
    again = start_step(
        catalog, run_id, position=0, name="restore", kind="restore", actor="alice", inputs={}
    )
    done = finish_step(
        catalog, again.id, StepStatus.SUCCEEDED, outputs={"snapshot": "ab12"}, summary="ok"
    )
    assert (first.attempt, again.attempt) == (1, 2)
    assert done.outputs == {"snapshot": "ab12"} and done.duration is not None
    steps = steps_of(catalog, run_id)
    assert [(s.attempt, s.status, s.error) for s in steps] == [
        (1, StepStatus.FAILED, "restic exit 1"),
        (2, StepStatus.SUCCEEDED, None),
    ]
    assert steps[0].inputs == {"job": "payroll", "to": "/srv/r"}
    with pytest.raises(CatalogError, match="is SUCCEEDED, not RUNNING"):
        finish_step(catalog, again.id, StepStatus.FAILED)


def test_an_approval_is_taken_once(catalog: Catalog) -> None:
    run_id = _runbook_run(catalog)
    step = start_step(
        catalog, run_id, position=1, name="approve", kind="approve", actor="alice", inputs={}
    )
    waiting = finish_step(catalog, step.id, StepStatus.WAITING, summary="waits")
    assert waiting.finished_at is None
    approved = approve_step(catalog, step.id, by="bob")
    assert (approved.status, approved.approved_by) == (StepStatus.SUCCEEDED, "bob")
    assert approved.approved_at is not None
    with pytest.raises(CatalogError, match="is SUCCEEDED, not WAITING"):
        approve_step(catalog, step.id, by="carol")


def test_open_steps_end_with_their_run(catalog: Catalog) -> None:
    run_id = _runbook_run(catalog)
    step = start_step(
        catalog, run_id, position=0, name="r", kind="restore", actor="alice", inputs={}
    )
    assert end_open_steps(catalog, run_id, StepStatus.INTERRUPTED, "process gone") == 1
    [ended] = steps_of(catalog, run_id)
    assert (ended.id, ended.status, ended.error) == (
        step.id,
        StepStatus.INTERRUPTED,
        "process gone",
    )
    assert end_open_steps(catalog, run_id, StepStatus.INTERRUPTED, "again") == 0


def test_a_run_found_dead_ends_its_running_step_with_it(catalog: Catalog) -> None:
    run_id = _runbook_run(catalog)
    done = start_step(
        catalog, run_id, position=0, name="check", kind="check", actor="alice", inputs={}
    )
    finish_step(catalog, done.id, StepStatus.SUCCEEDED)
    start_step(catalog, run_id, position=1, name="r", kind="restore", actor="alice", inputs={})
    interrupted = interrupt_run(catalog, run_id, error="interrupted: pid 1 ended")
    assert interrupted is not None and interrupted.status is RunStatus.INTERRUPTED
    assert [(s.status, s.error) for s in steps_of(catalog, run_id)] == [
        (StepStatus.SUCCEEDED, None),
        (StepStatus.INTERRUPTED, "interrupted: pid 1 ended"),
    ]
    assert steps_of(catalog, run_id)[1].finished_at is not None


def test_migration_0009_keeps_runs_and_lets_job_be_empty(catalog_url: str) -> None:
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0008")
            connection.execute(
                text(
                    "INSERT INTO runs (job, action, status, created_at, host, actor) "
                    "VALUES ('a', 'snapshot', 'SUCCEEDED', '2026-01-01', 'h', 't')"
                )
            )
        migrate(engine)
        catalog = Catalog(engine)
        assert [(r.job, r.action) for r in catalog.runs()] == [("a", "snapshot")]
        run_id = _runbook_run(catalog)
        assert catalog.run(run_id).job is None  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_a_failed_sqlite_upgrade_leaves_the_catalog_as_it_was(tmp_path: Path) -> None:
    """The upgrade is one transaction on SQLite too (pysqlite would run its DDL outside
    one): a check that fails at its end leaves revision 0008 and no half-built table."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    engine = create_catalog_engine(url)
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0008")
        with engine.connect() as connection:  # a snapshot naming a run that is not there
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.execute(
                text(
                    "INSERT INTO snapshots (job, target, snapshot_id, time, hostname, paths, "
                    "tags, run_id, recorded_at) VALUES ('a', 't', 's', '2026-01-01', 'h', "
                    "'[]', '[]', 99, '2026-01-01')"
                )
            )
            connection.commit()
        for _ in range(2):  # and again: the same refusal, not a leftover table
            with pytest.raises(CatalogError, match="refer to none"):
                migrate(engine)
        with engine.connect() as connection:
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                == "0008"
            )
            tables = {r[0] for r in connection.exec_driver_sql("SELECT name FROM sqlite_master")}
        assert "runbook_steps" not in tables
        assert not [t for t in tables if t.startswith("_alembic_tmp")]
    finally:
        engine.dispose()
