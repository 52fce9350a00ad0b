"""Snapshots: their status (COMPLETE, PARTIAL, ORPHANED), so that a partial snapshot never
satisfies an RPO nor is taken for `latest`.

Existing rows: a snapshot written by a PARTIAL run is PARTIAL, and so is every copy of it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="COMPLETE")
        )
    op.execute(
        "UPDATE snapshots SET status = 'PARTIAL' "
        "WHERE run_id IN (SELECT id FROM runs WHERE status = 'PARTIAL')"
    )
    op.execute(
        "UPDATE snapshots SET status = 'PARTIAL' WHERE original_id IN "
        "(SELECT snapshot_id FROM snapshots WHERE status = 'PARTIAL')"
    )


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("status")
