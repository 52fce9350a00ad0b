"""The catalog: runs, repositories, snapshots. SQLite by default, any SQLAlchemy URL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drorch.catalog.database import default_url, open_engine
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


def open_catalog(url: str | None, state_dir: Path, *, repositories: Sequence[Path] = ()) -> Catalog:
    """Open (creating and migrating as needed) the catalog at url, or SQLite in state_dir.

    CatalogLost when it is not the catalog the state dir used, or when it is missing or
    empty while the state dir (or a repository at one of `repositories`, the disk targets'
    paths) shows earlier use. Its use fails once it is removed or replaced under us.
    """
    engine, anchor = open_engine(url or default_url(state_dir), state_dir, repositories)
    catalog = Catalog(engine)
    catalog.anchor = anchor
    return catalog
