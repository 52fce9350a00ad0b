"""The catalog: runs, repositories, snapshots. SQLite by default, any SQLAlchemy URL."""

from __future__ import annotations

from pathlib import Path

from drorch.catalog.database import create_catalog_engine, default_url, migrate
from drorch.catalog.models import RunStatus, SnapshotStatus
from drorch.catalog.store import Catalog, RepositoryRecord, RunRecord, SnapshotRecord, utc_now

__all__ = [
    "Catalog",
    "RepositoryRecord",
    "RunRecord",
    "RunStatus",
    "SnapshotRecord",
    "SnapshotStatus",
    "open_catalog",
    "utc_now",
]


def open_catalog(url: str | None, state_dir: Path) -> Catalog:
    """Open (creating and migrating as needed) the catalog at url, or SQLite in state_dir."""
    engine = create_catalog_engine(url or default_url(state_dir))
    migrate(engine)
    return Catalog(engine)
