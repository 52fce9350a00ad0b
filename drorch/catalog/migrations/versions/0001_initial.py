"""Runs, repositories and snapshots.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from drorch.catalog.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "PARTIAL", "FAILED", "INTERRUPTED", "CANCELED")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="runstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("bytes_processed", sa.BigInteger(), nullable=True),
        sa.Column("bytes_added", sa.BigInteger(), nullable=True),
        sa.Column("files", sa.BigInteger(), nullable=True),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("artifacts", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_index("ix_runs_job_action", "runs", ["job", "action", "id"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "repositories",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("repo_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("restic_version", sa.String(40), nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("tree", sa.String(64), nullable=True),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("paths", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("files", sa.BigInteger(), nullable=True),
        sa.Column("original_id", sa.String(64), nullable=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("canary_path", sa.Text(), nullable=True),
        sa.Column("canary_sha256", sa.String(64), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("target", "snapshot_id"),
    )
    op.create_index("ix_snapshots_job_time", "snapshots", ["job", "time"])


def downgrade() -> None:
    op.drop_table("snapshots")
    op.drop_table("repositories")
    op.drop_table("runs")
