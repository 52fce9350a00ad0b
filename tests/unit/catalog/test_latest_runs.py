"""latest_runs, the newest run of each (job, action) per status: kept by triggers on every
write of a run, filled by migration 0010 from the runs there were; and what reads it
(compliance's facts, `drorch status`) on each backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import select, text

from drorch.action_key import NAME_MAX, replicate_key
from drorch.catalog import Catalog, RunStatus, outbox
from drorch.catalog import models as m
from drorch.catalog.daemon import missed_slots, record_missed_slots
from drorch.catalog.database import create_catalog_engine, migrate
from drorch.catalog.facts import read_facts, replication_lags
from tests.catalog_rows import run, snapshot, upgrade_to

T = TypeVar("T")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    return any_catalog


def latest(catalog: Catalog) -> dict[tuple[str, str, str], int]:
    query = select(m.LatestRun.job, m.LatestRun.action, m.LatestRun.status, m.LatestRun.run_id)
    with catalog.session() as session:
        return {(j, a, s.value): i for j, a, s, i in session.execute(query)}


def test_every_insert_and_transition_is_noted_in_its_statement(catalog: Catalog) -> None:
    first = run(catalog, "snapshot", RunStatus.SUCCEEDED, T0)
    failed = run(catalog, "snapshot", RunStatus.FAILED, T0 + HOUR)
    running = catalog.create_run(
        job="app", action="snapshot", target=None, host="h", pid=1, actor="t"
    ).id
    other = run(catalog, "check", RunStatus.SUCCEEDED, T0, job="db")
    assert latest(catalog) == {  # every run is created RUNNING
        ("app", "snapshot", "SUCCEEDED"): first,
        ("app", "snapshot", "FAILED"): failed,
        ("app", "snapshot", "RUNNING"): running,
        ("db", "check", "SUCCEEDED"): other,
        ("db", "check", "RUNNING"): other,
    }
    catalog.transition(running, RunStatus.SUCCEEDED)
    assert latest(catalog)[("app", "snapshot", "SUCCEEDED")] == running


def test_a_run_of_no_one_job_is_not_noted(catalog: Catalog) -> None:
    catalog.create_run(job=None, action="runbook", target=None, host="h", pid=1, actor="t")
    assert latest(catalog) == {}


def test_migration_0010_fills_it_from_the_runs_there_are(catalog_url: str) -> None:
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0009")
            connection.execute(
                text(
                    "INSERT INTO runs (id, job, action, status, created_at, host, actor) VALUES "
                    "(1, 'a', 'snapshot', 'SUCCEEDED', '2026-01-01', 'h', 't'), "
                    "(2, 'a', 'snapshot', 'FAILED', '2026-01-02', 'h', 't'), "
                    "(3, 'a', 'snapshot', 'SUCCEEDED', '2026-01-03', 'h', 't'), "
                    "(4, NULL, 'runbook', 'SUCCEEDED', '2026-01-04', 'h', 't'), "
                    "(5, 'b', 'check', 'RUNNING', '2026-01-05', 'h', 't')"
                )
            )
        migrate(engine)
        catalog = Catalog(engine)
        assert latest(catalog) == {
            ("a", "snapshot", "SUCCEEDED"): 3,
            ("a", "snapshot", "FAILED"): 2,
            ("b", "check", "RUNNING"): 5,
        }
        # The triggers are in place after the migration too.
        catalog.transition(5, RunStatus.FAILED, error="boom")
        assert latest(catalog)[("b", "check", "FAILED")] == 5
    finally:
        engine.dispose()


def test_migration_0011_widens_the_action_keys_and_keeps_the_triggers(catalog_url: str) -> None:
    """A catalog of revision 0010 with runs in it takes, once upgraded, the longest action key
    a config can produce in every column that holds one; its triggers note the runs still."""
    longest = replicate_key("t" * NAME_MAX)
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0010")
            connection.execute(
                text(
                    "INSERT INTO runs (job, action, status, created_at, host, actor) VALUES "
                    "('a', 'snapshot', 'SUCCEEDED', '2026-01-01', 'h', 't')"
                )
            )
        migrate(engine)
        catalog = Catalog(engine)
        long_run = catalog.create_run(
            job="a", action=longest, target=None, host="h", pid=1, actor="t"
        ).id
        catalog.transition(long_run, RunStatus.SUCCEEDED)
        assert latest(catalog) == {
            ("a", "snapshot", "SUCCEEDED"): long_run - 1,
            ("a", longest, "RUNNING"): long_run,
            ("a", longest, "SUCCEEDED"): long_run,
        }
        record_missed_slots(catalog, "a", longest, [T0])
        assert missed_slots(catalog) == [("a", longest, T0)]
        event = "e" * NAME_MAX  # a runbook's notify event is a name
        outbox.enqueue_now(catalog, [outbox.webhook("http://h/x", event, {})], T0)
        with catalog.session() as session:
            assert session.scalars(select(m.Delivery.event)).all() == [event]
    finally:
        engine.dispose()


def test_migrations_create_the_triggers_the_models_do(catalog_url: str) -> None:
    """Migration 0010 writes its trigger SQL out (a migration must not change with the
    models): a catalog upgraded from 0009 holds exactly the triggers a new one gets."""
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0009")
        migrate(engine)
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                found = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
                ).scalars()
                assert tuple(found) == m.LATEST_RUNS_TRIGGERS["sqlite"]
            else:
                body = connection.exec_driver_sql(
                    "SELECT prosrc FROM pg_proc WHERE proname = 'latest_runs_note' "
                    "AND pronamespace = to_regnamespace(current_schema())"
                ).scalar_one()  # this test's schema: the server holds others
                function, trigger = m.LATEST_RUNS_TRIGGERS["postgresql"]
                assert f"$${body}$$" in function
                names = connection.exec_driver_sql(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'runs'::regclass "
                    "AND NOT tgisinternal"
                ).scalars()
                assert list(names) == ["latest_runs_note"] and "latest_runs_note" in trigger
    finally:
        engine.dispose()


def test_facts_come_from_it(catalog: Catalog) -> None:
    ok = run(catalog, "snapshot", RunStatus.SUCCEEDED, T0)
    failed = run(catalog, "snapshot", RunStatus.FAILED, T0 + HOUR)
    run(catalog, "snapshot", RunStatus.CANCELED, T0 + 2 * HOUR)
    facts = read_facts(catalog)["app"]
    assert facts.last_success["snapshot"].id == ok
    assert facts.last_finished["snapshot"].id == failed  # CANCELED is not finished here
    assert facts.failures["snapshot"].count == 1


def test_a_run_changed_by_hand_is_read_from_the_runs(catalog: Catalog) -> None:
    """The newest success set back to RUNNING behind drorch's back: latest_runs still names
    it as SUCCEEDED; the facts see through it to the success before."""
    older = run(catalog, "snapshot", RunStatus.SUCCEEDED, T0)
    newer = run(catalog, "snapshot", RunStatus.SUCCEEDED, T0 + HOUR)
    with catalog.engine.begin() as connection:
        connection.execute(text("UPDATE runs SET status = 'RUNNING' WHERE id = :i"), {"i": newer})
    assert latest(catalog)[("app", "snapshot", "SUCCEEDED")] == newer
    facts = read_facts(catalog)["app"]
    assert facts.last_success["snapshot"].id == older
    assert facts.last_finished["snapshot"].id == older


def test_last_runs_of_any_status(catalog: Catalog) -> None:
    run(catalog, "snapshot", RunStatus.SUCCEEDED, T0)
    running = catalog.create_run(
        job="app", action="snapshot", target=None, host="h", pid=1, actor="t"
    ).id
    check = run(catalog, "check", RunStatus.FAILED, T0)
    run(catalog, "prune", RunStatus.SUCCEEDED, T0 - HOUR, job="db")
    moved = run(catalog, "prune", RunStatus.SUCCEEDED, T0)
    with catalog.engine.begin() as connection:  # by hand: its (job, action) is db's prune now
        connection.execute(text("UPDATE runs SET job = 'db' WHERE id = :i"), {"i": moved})
    newest = catalog.last_runs()
    assert {key: r.id for key, r in newest.items()} == {
        ("app", "snapshot"): running,
        ("app", "check"): check,
        ("db", "prune"): moved,
    }
    assert newest[("app", "snapshot")].status is RunStatus.RUNNING


def test_replication_lags(catalog: Catalog) -> None:
    now = T0 + 10 * HOUR
    for job in ("behind", "in-step", "hole"):
        for hour in range(3):
            snapshot(catalog, "primary", f"{job}-p{hour}", T0 + hour * HOUR, job=job)
    for hour in range(3):
        snapshot(catalog, "replica", f"s-r{hour}", T0, job="in-step", original=f"in-step-p{hour}")
    snapshot(catalog, "replica", "b-r0", T0, job="behind", original="behind-p0")
    snapshot(catalog, "replica", "h-r2", T0, job="hole", original="hole-p2")
    # A copy on another target, or of another job, does not count.
    snapshot(catalog, "offsite", "b-o2", T0, job="behind", original="behind-p2")
    routes = [(job, "primary", "replica") for job in ("behind", "in-step", "hole", "none")]
    assert replication_lags(catalog, routes, now) == {
        ("behind", "replica"): now - (T0 + 2 * HOUR),
        ("hole", "replica"): now - (T0 + HOUR),
    }


def test_a_snapshot_ahead_of_the_clock_lags_nothing(catalog: Catalog) -> None:
    """The clock stepped back an hour after the snapshot: its lag is 0, never negative."""
    snapshot(catalog, "primary", "ahead", T0 + HOUR, job="app")
    assert replication_lags(catalog, [("app", "primary", "replica")], T0) == {
        ("app", "replica"): timedelta(0)
    }


def test_runs_as_drorch_writes_them_are_not_read_from_the_runs(catalog: Catalog) -> None:
    """Every run is created RUNNING, then finishes: latest_runs then names it under both
    statuses, and the facts take it from there, with no query per (job, action)."""
    for job in ("a", "b", "c"):
        run(catalog, "snapshot", RunStatus.SUCCEEDED, T0, job=job)
        run(catalog, "check", RunStatus.FAILED, T0, job=job)
    facts, sent = _sent(catalog, lambda: read_facts(catalog))
    statements = [statement for statement, _ in sent]
    assert sorted(facts) == ["a", "b", "c"]
    assert facts["a"].last_success["snapshot"].status is RunStatus.SUCCEEDED
    assert facts["a"].last_finished["check"].status is RunStatus.FAILED
    assert not [s for s in statements if "max(runs.id)" in s]


def test_only_a_restore_tests_details_are_read(catalog: Catalog) -> None:
    evidence = {"evidence": {"rto": {"projected_s": 60}}}
    run(catalog, "restore-test", RunStatus.SUCCEEDED, T0, details=evidence)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, T0, details={"summary": "x"})
    facts = read_facts(catalog)["app"]
    assert facts.last_success["restore-test"].details == evidence
    assert facts.last_success["snapshot"].details is None
    assert facts.last_success["snapshot"].at == T0


def _sent(catalog: Catalog, call: Callable[[], T]) -> tuple[T, list[tuple[str, object]]]:
    """What `call` returns, and every statement it sends through the catalog with its
    parameters."""
    from sqlalchemy import event

    sent: list[tuple[str, object]] = []

    def seen(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        sent.append((statement, parameters))

    event.listen(catalog.engine, "before_cursor_execute", seen)
    try:
        value = call()
    finally:
        event.remove(catalog.engine, "before_cursor_execute", seen)
    return value, sent


def _plans(catalog: Catalog, call: Callable[[], object]) -> list[str]:
    """The steps of SQLite's plan of every statement `call` sends through the catalog."""
    _, sent = _sent(catalog, call)
    with catalog.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        return [
            step
            for statement, parameters in sent
            for *_, step in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]


def test_the_lag_reads_its_own_index_and_compliance_never_does(catalog: Catalog) -> None:
    """`drorch status` walks every job's snapshots and their ids from ix_snapshots_copies
    alone (a page of the table per snapshot without it); compliance, which reads its
    index cold, never takes that wider one for its scan of (job, target, time)."""
    if catalog.engine.dialect.name != "sqlite":
        pytest.skip("the plans are SQLite's; PostgreSQL plans by its statistics")
    for hour in range(3):
        snapshot(catalog, "primary", f"p{hour}", T0 + hour * HOUR, job="app")
    snapshot(catalog, "replica", "r0", T0, job="app", original="p0")
    # Made last: the planner breaks a tie between two indexes by taking the newest.
    (copies,) = [i for i in m.Snapshot.__table__.indexes if i.name == "ix_snapshots_copies"]
    with catalog.engine.begin() as connection:
        copies.drop(connection)
        copies.create(connection)

    lag = _plans(catalog, lambda: replication_lags(catalog, [("app", "primary", "replica")], T0))
    assert any("COVERING INDEX ix_snapshots_copies" in step for step in lag), lag
    compliance = _plans(catalog, lambda: read_facts(catalog))
    on_snapshots = [step for step in compliance if "ix_snapshots" in step]
    assert on_snapshots and not [s for s in on_snapshots if "ix_snapshots_copies" in s]
