"""Node affinity (issue 15): the slots assigned to a node that no run took yet, found by
an index of their own (every daemon looks for its own every second).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_slot_claims_waiting",
        "slot_claims",
        ["node"],
        postgresql_where=sa.text("run_id IS NULL"),
        sqlite_where=sa.text("run_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_slot_claims_waiting", table_name="slot_claims")
