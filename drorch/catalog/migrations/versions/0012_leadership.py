"""Several daemons on one catalog (issue 15): leadership with a fencing epoch, slot claims,
node names and node states.

- `leadership`: one row, the leader and its epoch (0 until a daemon first leads).
- `slot_claims`: a scheduled slot of a job's action, claimed once (unique key).
- `node_states`: draining or not, by node name (`drorch node drain/resume`).
- `nodes.name` (existing rows: their host), `runs.epoch`, `runs.node`, `evidence_records.epoch`.

Columns are added with plain ALTER TABLE ADD COLUMN, never by SQLite's batch mode, which
would rebuild `runs` and drop the latest_runs triggers with it (0010).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from drorch.catalog.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("epoch", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("node", sa.String(200), nullable=True))
    op.add_column("evidence_records", sa.Column("epoch", sa.Integer(), nullable=True))
    # NOT NULL once filled: on SQLite a column added NOT NULL needs a default, so it is
    # added with the empty string and filled; the models never write it empty.
    if op.get_bind().dialect.name == "sqlite":
        op.add_column("nodes", sa.Column("name", sa.String(200), nullable=False, server_default=""))
        op.execute("UPDATE nodes SET name = host")
    else:
        op.add_column("nodes", sa.Column("name", sa.String(200), nullable=True))
        op.execute("UPDATE nodes SET name = host")
        op.alter_column("nodes", "name", existing_type=sa.String(200), nullable=False)
    op.create_table(
        "node_states",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("draining", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "leadership",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(200), nullable=True),
        sa.Column("node_id", sa.Integer(), sa.ForeignKey("nodes.id"), nullable=True),
        sa.Column("since", UTCDateTime(), nullable=True),
    )
    op.execute("INSERT INTO leadership (id, epoch) VALUES (1, 0)")
    op.create_table(
        "slot_claims",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("slot_at", UTCDateTime(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("node", sa.String(200), nullable=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("job", "action", "slot_at"),
    )


def downgrade() -> None:
    op.drop_table("slot_claims")
    op.drop_table("leadership")
    op.drop_table("node_states")
    op.drop_column("nodes", "name")
    op.drop_column("evidence_records", "epoch")
    op.drop_column("runs", "node")
    op.drop_column("runs", "epoch")
