"""Compliance and `drorch status` out of a cold catalog (issue 14).

- `latest_runs`: the newest run of each (job, action) per status, kept by triggers on
  `runs` and filled here from the runs there are.
- `ix_runs_status` with job and action in it: the failed runs compliance counts are read
  from the index alone.
- `ix_runs_restore_tested`: the snapshots passed restore tests tested (verified RPO), a
  partial index of 1 run in 40.
- `ix_snapshots_job_target_time` with each snapshot's status in it: compliance's newest
  COMPLETE snapshot per copy from the index alone.
- `ix_snapshots_original`: whether a snapshot has a copy on a target (the replication lag
  of every job at once, for `drorch status`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# As they were at this revision, written out here rather than imported from the models: a
# migration must keep creating what it created when it was written, whatever the models
# say later (a later change to the triggers comes with a migration of its own).
RESTORE_TESTED = "action = 'restore-test' AND status = 'SUCCEEDED'"
_NOTE_LATEST = """INSERT INTO latest_runs (job, action, status, run_id)
    VALUES (NEW.job, NEW.action, NEW.status, NEW.id)
    ON CONFLICT (job, action, status) DO UPDATE SET run_id = excluded.run_id
    WHERE latest_runs.run_id < excluded.run_id"""
LATEST_RUNS_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER latest_runs_insert AFTER INSERT ON runs "
        f"WHEN NEW.job IS NOT NULL BEGIN {_NOTE_LATEST}; END",
        "CREATE TRIGGER latest_runs_update AFTER UPDATE OF job, action, status ON runs "
        f"WHEN NEW.job IS NOT NULL BEGIN {_NOTE_LATEST}; END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION latest_runs_note() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF NEW.job IS NOT NULL THEN {_NOTE_LATEST}; END IF; RETURN NULL; END $$",
        "CREATE TRIGGER latest_runs_note AFTER INSERT OR UPDATE OF job, action, status "
        "ON runs FOR EACH ROW EXECUTE FUNCTION latest_runs_note()",
    ),
}

STATUSES = (
    "PENDING",
    "RUNNING",
    "SUCCEEDED",
    "PARTIAL",
    "FAILED",
    "INTERRUPTED",
    "CANCELED",
    "WAITING",
)


def upgrade() -> None:
    op.create_table(
        "latest_runs",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("action", sa.String(40), primary_key=True),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="runstatus", native_enum=False, length=20),
            primary_key=True,
        ),
        sa.Column("run_id", sa.Integer(), nullable=False),
    )
    # In the migration's transaction: no run is written between the fill and the triggers.
    op.execute(
        "INSERT INTO latest_runs (job, action, status, run_id) "
        "SELECT job, action, status, max(id) FROM runs WHERE job IS NOT NULL "
        "GROUP BY job, action, status"
    )
    for statement in LATEST_RUNS_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_index("ix_runs_status", table_name="runs")
    op.create_index("ix_runs_status", "runs", ["status", "job", "action"])
    op.create_index(
        "ix_runs_restore_tested",
        "runs",
        ["action", "status", "job", "target", "snapshot_id"],
        sqlite_where=sa.text(RESTORE_TESTED),
        postgresql_where=sa.text(RESTORE_TESTED),
    )
    op.drop_index("ix_snapshots_job_target_time", table_name="snapshots")
    op.create_index(
        "ix_snapshots_job_target_time",
        "snapshots",
        ["job", "target", "time", "status"],
    )
    op.create_index("ix_snapshots_original", "snapshots", ["target", "original_id", "job"])


def downgrade() -> None:
    op.drop_index("ix_snapshots_original", table_name="snapshots")
    op.drop_index("ix_snapshots_job_target_time", table_name="snapshots")
    op.create_index("ix_snapshots_job_target_time", "snapshots", ["job", "target", "time"])
    op.drop_index("ix_runs_restore_tested", table_name="runs")
    op.drop_index("ix_runs_status", table_name="runs")
    op.create_index("ix_runs_status", "runs", ["status"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER latest_runs_note ON runs")
        op.execute("DROP FUNCTION latest_runs_note()")
    else:
        op.execute("DROP TRIGGER latest_runs_insert")
        op.execute("DROP TRIGGER latest_runs_update")
    op.drop_table("latest_runs")
