"""Rows written straight into a real catalog, for tests of what reads it (compliance,
metrics): a run with chosen times and status, a snapshot on a target; and a catalog emptied
behind drorch's back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from drorch.catalog import Catalog, RunStatus, SnapshotRecord, SnapshotStatus


def run(
    catalog: Catalog,
    action: str,
    status: RunStatus,
    at: datetime,
    *,
    took: timedelta = timedelta(0),
    job: str = "app",
    **fields: Any,
) -> int:
    """A run of `job` created and started at `at`, ended `took` later with `status`."""
    record = catalog.create_run(job=job, action=action, target=None, host="h", pid=1, actor="t")
    catalog.transition(
        record.id, status, created_at=at, started_at=at, finished_at=at + took, **fields
    )
    return record.id


def snapshot(
    catalog: Catalog,
    target: str,
    snapshot_id: str,
    at: datetime,
    *,
    job: str = "app",
    original: str | None = None,
    status: SnapshotStatus = SnapshotStatus.COMPLETE,
    run_id: int | None = None,
) -> None:
    catalog.record_snapshot(
        SnapshotRecord(
            job=job,
            target=target,
            snapshot_id=snapshot_id,
            time=at,
            tree=None,
            hostname="h",
            paths=("/data",),
            tags=(),
            size=1,
            files=1,
            original_id=original,
            run_id=run_id,
            canary_path=None,
            canary_sha256=None,
            status=status,
        )
    )


def drop_everything(url: str) -> None:
    """Drop every table of the catalog at url, as a database dropped and recreated would be."""
    from sqlalchemy import text

    from drorch.catalog.database import create_catalog_engine
    from drorch.catalog.models import Base

    engine = create_catalog_engine(url)
    try:
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def upgrade_to(connection: Any, revision: str) -> None:
    """Run the catalog's migrations up to `revision` only, as an older drorch left it."""
    from alembic import command
    from alembic.config import Config

    from drorch.catalog.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def undo_0010(connection: Any) -> None:
    """Undo by hand what migration 0010 puts on `runs` and `snapshots` (its table aside),
    for a catalog taken back to before it."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP TRIGGER latest_runs_note ON runs"))
    else:
        for name in ("latest_runs_insert", "latest_runs_update"):
            connection.execute(text(f"DROP TRIGGER {name}"))
    for index in (
        "ix_runs_restore_tested",
        "ix_snapshots_job_target_time",
        "ix_snapshots_original",
        "ix_runs_status",
    ):
        connection.execute(text(f"DROP INDEX {index}"))
    connection.execute(text("CREATE INDEX ix_runs_status ON runs (status)"))
    connection.execute(
        text("CREATE INDEX ix_snapshots_job_target_time ON snapshots (job, target, time)")
    )


def undo_0012(connection: Any) -> None:
    """Undo by hand what migration 0012 (leadership) adds, for a catalog taken back to
    before it."""
    from sqlalchemy import text

    for table in ("slot_claims", "leadership", "node_states"):
        connection.execute(text(f"DROP TABLE {table}"))
    for table, column in (
        ("runs", "epoch"),
        ("runs", "node"),
        ("evidence_records", "epoch"),
        ("nodes", "name"),
    ):
        connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def undo_0014(connection: Any) -> None:
    """Undo by hand what migration 0014 (process identities) adds."""
    from sqlalchemy import text

    for table in ("locks", "runs"):
        connection.execute(text(f"ALTER TABLE {table} DROP COLUMN process"))


def undo_0015(connection: Any) -> None:
    """Undo by hand what migration 0015 (the replication lag's index) adds."""
    from sqlalchemy import text

    connection.execute(text("DROP INDEX ix_snapshots_copies"))
