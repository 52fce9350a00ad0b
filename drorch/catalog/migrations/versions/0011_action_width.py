"""Action keys as wide as a config can make them (issue 15): `replicate:` and a target name
of 64 characters (the longest name a config root now takes) did not fit the 40 characters of
`runs.action`, `latest_runs.action` and `missed_slots.action` on PostgreSQL; nor did a
runbook's notify event (a name) fit `outbox.event`. They become 80 wide.

PostgreSQL widens a varchar in its catalog alone (no table rewrite, no index rebuild), but
refuses to retype a column a trigger names (`UPDATE OF job, action, status`), so the
trigger of latest_runs is dropped and created again around it, in the same transaction.

SQLite keeps any length in any VARCHAR: only the declared types change, in the schema
table itself, as SQLite documents for a change that leaves the stored rows as they are.
Rebuilding `runs` (Alembic's batch mode) would copy every run and drop its triggers.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD, NEW = 40, 80
COLUMNS = (
    ("runs", "action"),
    ("latest_runs", "action"),
    ("missed_slots", "action"),
    ("outbox", "event"),
)

# As at revision 0010 (written out, not imported: see 0010).
_NOTE_LATEST = """INSERT INTO latest_runs (job, action, status, run_id)
    VALUES (NEW.job, NEW.action, NEW.status, NEW.id)
    ON CONFLICT (job, action, status) DO UPDATE SET run_id = excluded.run_id
    WHERE latest_runs.run_id < excluded.run_id"""
PG_TRIGGER = (
    "CREATE TRIGGER latest_runs_note AFTER INSERT OR UPDATE OF job, action, status "
    "ON runs FOR EACH ROW EXECUTE FUNCTION latest_runs_note()"
)


def upgrade() -> None:
    _widen(OLD, NEW)


def downgrade() -> None:  # a longer key already written makes PostgreSQL refuse: say so
    _widen(NEW, OLD)


def _widen(old: int, new: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _declare_sqlite(new)
        return
    op.execute("DROP TRIGGER latest_runs_note ON runs")
    for table, column in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.String(new),
            existing_type=sa.String(old),
            existing_nullable=False,
        )
    op.execute(PG_TRIGGER)


def _declare_sqlite(width: int) -> None:
    """Declare each column VARCHAR(width) in sqlite_master (the rows, the indexes and the
    triggers stay as they are: SQLite's type affinity is TEXT either way)."""
    connection = op.get_bind()
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table, column in COLUMNS:
            sql = connection.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                {"t": table},
            ).scalar_one()
            pattern = rf'(\b{column}"?\s+VARCHAR\()\d+\)'  # whatever it says now
            changed, count = re.subn(pattern, rf"\g<1>{width})", sql, flags=re.IGNORECASE)
            if count != 1:
                raise RuntimeError(f"{table}.{column} is not declared a VARCHAR: {sql}")
            connection.execute(
                sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                {"sql": changed, "t": table},
            )
        # Other connections read the schema again when they see the version move.
        connection.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema=OFF")
