"""The evidence log and its signed checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from drorch.catalog.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_records",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("job", sa.String(200), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
    )
    op.create_index("ix_evidence_records_job", "evidence_records", ["job", "seq"])
    op.create_index("ix_evidence_records_at", "evidence_records", ["at"])
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_index("ix_evidence_records_at", "evidence_records")
    op.drop_index("ix_evidence_records_job", "evidence_records")
    op.drop_table("evidence_records")
