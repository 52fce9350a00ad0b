from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from drorch.catalog import Catalog, RunStatus, SnapshotRecord, SnapshotStatus, open_catalog
from drorch.catalog.database import HEAD, create_catalog_engine, migrate
from drorch.errors import CatalogError
from tests.catalog_rows import upgrade_to


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    """Each test runs on SQLite and on PostgreSQL."""
    return any_catalog


def test_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    catalog = open_catalog(None, tmp_path / "state")
    path = tmp_path / "state" / "catalog.sqlite"
    assert path.stat().st_mode & 0o777 == 0o600
    with catalog.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD


def test_run_lifecycle(catalog: Catalog) -> None:
    run = catalog.create_run(
        job="app", action="snapshot", target="primary", host="h", pid=42, actor="ops"
    )
    assert run.status is RunStatus.RUNNING
    assert run.started_at is not None and run.started_at.tzinfo is UTC
    done = catalog.transition(run.id, RunStatus.SUCCEEDED, bytes_added=7)
    assert done.status is RunStatus.SUCCEEDED
    assert done.finished_at is not None and done.finished_at >= run.started_at
    assert done.bytes_added == 7
    assert catalog.run(run.id) == done


def test_a_run_across_a_clock_stepped_back_never_lasts_a_negative_time(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock stepped back an hour while the run ran: it ends before it started by the
    clock; `drorch status` and `drorch runs` show 0 s, never a negative duration."""
    from drorch.catalog import store

    run = catalog.create_run(
        job="app", action="snapshot", target="primary", host="h", pid=42, actor="ops"
    )
    assert run.started_at is not None
    monkeypatch.setattr(store, "utc_now", lambda: run.started_at - timedelta(hours=1))
    done = catalog.transition(run.id, RunStatus.SUCCEEDED)
    assert done.finished_at is not None and done.finished_at < run.started_at
    assert done.duration == 0


def test_finished_runs_cannot_change_status(catalog: Catalog) -> None:
    run = catalog.create_run(
        job="app", action="snapshot", target=None, host="h", pid=1, actor="ops"
    )
    catalog.transition(run.id, RunStatus.FAILED, error="boom")
    with pytest.raises(CatalogError, match="cannot go from FAILED to SUCCEEDED"):
        catalog.transition(run.id, RunStatus.SUCCEEDED)


def test_runs_filters_and_last_runs(catalog: Catalog) -> None:
    ids = []
    for job, action in [("a", "snapshot"), ("a", "snapshot"), ("b", "snapshot"), ("a", "prune")]:
        ids.append(
            catalog.create_run(job=job, action=action, target=None, host="h", pid=1, actor="x").id
        )
    assert [r.id for r in catalog.runs(job="a")] == [ids[3], ids[1], ids[0]]
    assert [r.id for r in catalog.runs(job="a", action="snapshot", limit=1)] == [ids[1]]
    last = catalog.last_runs()
    assert {key: run.id for key, run in last.items()} == {
        ("a", "snapshot"): ids[1],
        ("b", "snapshot"): ids[2],
        ("a", "prune"): ids[3],
    }


def test_naive_datetimes_are_refused(catalog: Catalog) -> None:
    record = SnapshotRecord(
        job="a",
        target="t",
        snapshot_id="ab" * 32,
        time=datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
        tree="t",
        hostname="h",
        paths=(),
        tags=(),
        size=None,
        files=None,
        original_id=None,
        run_id=None,
        canary_path=None,
        canary_sha256=None,
    )
    with pytest.raises(Exception, match="naive datetime"):
        catalog.record_snapshot(record)


def test_snapshots_round_trip_in_time_order(catalog: Catalog) -> None:
    base = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    for offset, sid in [(2, "bb"), (1, "aa")]:
        catalog.record_snapshot(
            replace(snapshot_of(None), snapshot_id=sid * 32, time=base + timedelta(hours=offset))
        )
    snapshots = catalog.snapshots(job="a", target="primary")
    assert [s.short_id for s in snapshots] == ["aaaaaaaa", "bbbbbbbb"]
    assert snapshots[0].time == base + timedelta(hours=1)
    assert snapshots[0].paths == ("/srv",)
    assert catalog.snapshots(job="other") == []


def snapshot_of(run_id: int | None) -> SnapshotRecord:
    return SnapshotRecord(
        job="a",
        target="primary",
        snapshot_id="cd" * 32,
        time=datetime(2026, 11, 30, 4, 0, tzinfo=UTC),
        tree=None,
        hostname="h",
        paths=("/srv",),
        tags=("drorch", f"run:{run_id}"),
        size=10,
        files=1,
        original_id=None,
        run_id=run_id,
        canary_path="/c",
        canary_sha256="0" * 64,
    )


def test_a_transition_is_a_compare_and_swap(catalog: Catalog) -> None:
    run = catalog.create_run(job="a", action="snapshot", target=None, host="h", pid=1, actor="x")
    with pytest.raises(CatalogError, match=f"run {run.id} is RUNNING now"):
        catalog.transition(run.id, RunStatus.CANCELED, only_from=[RunStatus.PENDING])
    with pytest.raises(CatalogError, match="no run 999999 in the catalog"):
        catalog.transition(999999, RunStatus.FAILED)
    assert catalog.run(run.id) == run  # nothing changed
    done = catalog.transition(run.id, RunStatus.CANCELED, only_from=[RunStatus.RUNNING])
    assert done.status is RunStatus.CANCELED and done.finished_at is not None


def test_a_pending_run_gets_its_start_when_it_runs(catalog: Catalog) -> None:
    run = catalog.create_run(
        job="a",
        action="snapshot",
        target=None,
        host="h",
        pid=1,
        actor="x",
        status=RunStatus.PENDING,
    )
    assert run.started_at is None
    running = catalog.transition(run.id, RunStatus.RUNNING)
    assert running.started_at is not None and running.finished_at is None
    assert catalog.run(run.id) == running


def test_migrations_build_the_same_schema_as_the_models(catalog_url: str) -> None:
    """Alembic's migrations (as an old database upgrades) and the models agree, on SQLite
    and on PostgreSQL."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from drorch.catalog.database import _alembic_upgrade
    from drorch.catalog.models import Base

    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            _alembic_upgrade(connection)
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == HEAD
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_migration_0006_marks_partial_snapshots_and_their_copies(catalog_url: str) -> None:
    """A catalog from before snapshot statuses: the snapshot of a PARTIAL run, and its copy on
    another target, come out PARTIAL; the others COMPLETE."""
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0005")
            connection.execute(
                text(
                    "INSERT INTO runs (id, job, action, status, created_at, host, actor) VALUES "
                    "(1, 'a', 'snapshot', 'PARTIAL', '2026-01-01', 'h', 't'), "
                    "(2, 'a', 'snapshot', 'SUCCEEDED', '2026-01-02', 'h', 't')"
                )
            )
            for target, snap, original, run in (
                ("primary", "p1", None, 1),
                ("replica", "r1", "p1", None),
                ("primary", "p2", None, 2),
                ("replica", "r2", "p2", None),
            ):
                connection.execute(
                    text(
                        "INSERT INTO snapshots (job, target, snapshot_id, time, hostname, paths, "
                        "tags, original_id, run_id, recorded_at) VALUES ('a', :t, :s, "
                        "'2026-01-01', 'h', '[]', '[]', :o, :r, '2026-01-01')"
                    ),
                    {"t": target, "s": snap, "o": original, "r": run},
                )
        migrate(engine)
        statuses = {s.snapshot_id: s.status for s in Catalog(engine).snapshots()}
    finally:
        engine.dispose()
    assert statuses == {
        "p1": SnapshotStatus.PARTIAL,
        "r1": SnapshotStatus.PARTIAL,
        "p2": SnapshotStatus.COMPLETE,
        "r2": SnapshotStatus.COMPLETE,
    }


def test_head_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from drorch.catalog.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_migrate_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    catalog = open_catalog(None, tmp_path)
    catalog.create_run(job="a", action="snapshot", target=None, host="h", pid=1, actor="x")
    migrate(catalog.engine)
    assert len(catalog.runs()) == 1
    assert "runs" in inspect(catalog.engine).get_table_names()


def test_unwritable_catalog_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        open_catalog(None, blocker / "state")


def test_a_run_s_view_answers_the_first_repository_lookup_from_its_first_transaction(
    catalog: Catalog,
) -> None:
    """`knowing` hands a run the rows read when its lock was taken; the first lookup of a
    target is answered from them, every later one (a first use looks again under its lock)
    and every other target's from the catalog, as is every lookup outside the view."""
    known = catalog.record_repository(
        target="primary", location="/srv/repo", repo_id="a" * 64, restic_version="0.16.4"
    )
    view = catalog.knowing({"primary": known, "replica": None})
    catalog.set_repository_config_hash("primary", "b" * 64)
    catalog.record_repository(
        target="replica", location="/srv/copy", repo_id="c" * 64, restic_version="0.16.4"
    )
    changed = catalog.repository("primary")
    assert changed is not None and changed.config_sha256 == "b" * 64
    assert view.repository("primary") == known  # as read with the run's start
    assert view.repository("primary") == changed  # read again
    assert view.repository("replica") is None  # it had none at the run's start
    found = view.repository("replica")
    assert found is not None and found.repo_id == "c" * 64
    assert catalog.repository("primary") == changed  # the catalog itself keeps no rows


def test_the_statements_of_a_run_s_start_and_end_are_compiled_once() -> None:
    """The daemon's hundred runs a slot run them: a statement SQLAlchemy cannot cache (no
    cache key, e.g. a multi-row VALUES) is compiled again for every run, which costs more
    CPU than the round trips its CTEs save."""
    from drorch.catalog.store import _insert_named_run, _transition_statement

    keys = ("job", "action", "target", "status", "created_at", "epoch", "node")
    for dialect in ("sqlite", "postgresql"):
        for fenced in (False, True):
            named = _insert_named_run(keys, fenced=fenced, dialect=dialect)
            assert named._generate_cache_key() is not None
    for snapshot in (False, True):
        for free in (False, True):
            statement = _transition_statement(
                RunStatus.SUCCEEDED, None, ("error", "snapshot_id"), snapshot, free
            )
            assert statement._generate_cache_key() is not None
