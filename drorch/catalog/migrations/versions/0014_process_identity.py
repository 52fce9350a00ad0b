"""The process identity (boot id and start ticks) of a lock's holder and of a run's
process: a live one on this host is told apart from a reused pid without the wall clock,
which a step (NTP, a resumed virtual machine) moves under psutil's create_time.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("locks", "runs"):
        op.add_column(table, sa.Column("process", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in ("runs", "locks"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("process")
