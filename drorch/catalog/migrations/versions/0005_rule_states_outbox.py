"""Compliance rule states (transitions found once), the notification outbox, and indexes
for compliance and metrics over millions of runs (runs by action and status; the newest
snapshot of a job per copy).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_states",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("rule", sa.String(300), primary_key=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("recorded_seq", sa.Integer(), nullable=True),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("job", sa.String(200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("gave_up_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["delivered_at", "gave_up_at", "next_attempt_at"]
    )
    op.create_index("ix_runs_action_status", "runs", ["action", "status", "job"])
    op.create_index("ix_snapshots_job_target_time", "snapshots", ["job", "target", "time"])


def downgrade() -> None:
    op.drop_index("ix_snapshots_job_target_time", table_name="snapshots")
    op.drop_index("ix_runs_action_status", table_name="runs")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("rule_states")
