"""Runbook runs: a run need not belong to one job (`runs.job` may be NULL), and each
attempt at each step of a runbook run is a row of `runbook_steps`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from drorch.catalog.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STEP_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "WAITING", "INTERRUPTED", "CANCELED")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("job", existing_type=sa.String(200), nullable=True)
    op.create_table(
        "runbook_steps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STEP_STATUSES, name="stepstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("run_id", "position", "attempt"),
    )


def downgrade() -> None:
    op.drop_table("runbook_steps")
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("job", existing_type=sa.String(200), nullable=False)
