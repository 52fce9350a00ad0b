"""Tape media: media sets, cartridges, the tape files on them and the repository files in
those, so that a restore finds which cartridges hold the files it needs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tape_media_sets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("pool", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_written_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_tape_media_sets_target", "tape_media_sets", ["target", "opened_at"])
    op.create_table(
        "tape_cartridges",
        sa.Column("barcode", sa.String(32), primary_key=True),
        sa.Column("pool", sa.String(200), nullable=True),
        sa.Column(
            "media_set_id", sa.String(36), sa.ForeignKey("tape_media_sets.id"), nullable=True
        ),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("write_protected", sa.Boolean(), nullable=False),
        sa.Column("location", sa.String(20), nullable=True),
        sa.Column("element", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("labelled_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_tape_cartridges_pool", "tape_cartridges", ["pool"])
    op.create_index("ix_tape_cartridges_media_set", "tape_cartridges", ["media_set_id", "sequence"])
    op.create_table(
        "tape_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "barcode", sa.String(32), sa.ForeignKey("tape_cartridges.barcode"), nullable=False
        ),
        sa.Column("file_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column(
            "media_set_id", sa.String(36), sa.ForeignKey("tape_media_sets.id"), nullable=False
        ),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("session", sa.String(36), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.UniqueConstraint("barcode", "file_number"),
    )
    op.create_table(
        "tape_repository_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "barcode", sa.String(32), sa.ForeignKey("tape_cartridges.barcode"), nullable=False
        ),
        sa.Column("file_number", sa.Integer(), nullable=False),
        sa.Column(
            "media_set_id", sa.String(36), sa.ForeignKey("tape_media_sets.id"), nullable=False
        ),
    )
    op.create_index("ix_tape_repository_files_path", "tape_repository_files", ["target", "path"])
    op.create_index(
        "ix_tape_repository_files_set", "tape_repository_files", ["media_set_id", "target", "path"]
    )
    op.create_index(
        "ix_tape_repository_files_file", "tape_repository_files", ["barcode", "file_number"]
    )


def downgrade() -> None:
    op.drop_table("tape_repository_files")
    op.drop_table("tape_files")
    op.drop_table("tape_cartridges")
    op.drop_table("tape_media_sets")
