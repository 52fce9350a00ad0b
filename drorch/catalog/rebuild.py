"""A new catalog from what the repositories hold: the SQL side of `drorch catalog rebuild`
(drorch.actions.rebuild reads the repositories).

The new catalog is built whole before it is put in place: SQLite in a file beside the final
one, renamed over it at the end; a server catalog in one transaction. The state dir records
the new identity first, so that a crash half-way leaves a catalog that is refused (rebuild
again), never half a catalog taken for a whole one.

What stood there is moved aside, never deleted: a SQLite catalog (only with `force`, and
with its -wal and -shm), and the run folders of the lost catalog (`runs/` becomes
`runs.replaced-STAMP/`): run ids start at 1 again, and their artifacts never mix with the
old ones. A server database that holds a catalog is never dropped. Nothing is invented: no
runs, no evidence; the snapshots and repositories given are all that is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, inspect
from sqlalchemy.exc import SQLAlchemyError

from drorch.catalog import identity as ident
from drorch.catalog import models
from drorch.catalog.database import (
    create_catalog_engine,
    create_schema,
    describe,
    reason,
    sqlite_file,
)
from drorch.catalog.identity import Identity
from drorch.catalog.store import RepositoryRecord, SnapshotRecord, utc_now
from drorch.errors import CatalogError


@dataclass(frozen=True)
class Rebuilt:
    where: str
    identity: Identity
    moved_aside: tuple[Path, ...]


def refuse_present(url: str, *, force: bool) -> None:
    """Refuse to rebuild over a catalog that is there: a server's always (drorch never drops a
    database), a SQLite file unless `force` (it is then moved aside)."""
    standing = _standing(url)
    if standing is None:
        return
    where, path = describe(url), sqlite_file(url)
    if path is None:
        raise CatalogError(
            f"the catalog {where} holds {standing}; drorch never drops a database: point "
            "`catalog:` at a new, empty database to rebuild into, or drop this one yourself"
        )
    if not force:
        raise CatalogError(
            f"the catalog {where} is present ({standing}); `drorch catalog rebuild --force` "
            "moves it aside (never deletes it) and rebuilds"
        )


def _standing(url: str) -> str | None:
    """What stands where the catalog goes, in words; None for nothing: no SQLite file or an
    empty one, a database without drorch's tables."""
    path = sqlite_file(url)
    if path is not None and not (path.exists() and path.stat().st_size > 0):
        return None
    engine = create_catalog_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if not tables & set(models.Base.metadata.tables):
                return None if path is None else "a file without drorch's tables"
            found = ident.read_identity(connection) if "catalog_identity" in tables else None
    except SQLAlchemyError as exc:
        return f"a catalog that cannot be read: {exc.__class__.__name__}"
    finally:
        engine.dispose()
    return f"catalog {found.short}" if found else "a catalog from before identities"


def build(
    url: str,
    state_dir: Path,
    repositories: Sequence[RepositoryRecord],
    snapshots: Sequence[SnapshotRecord],
    *,
    force: bool,
) -> Rebuilt:
    """Create the new catalog at url holding these repositories and snapshots, and put it in
    place; `force` moves a SQLite catalog that stands there aside."""
    refuse_present(url, force=force)
    new = _Contents(ident.new_identity(), repositories, snapshots)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = sqlite_file(url)
    try:
        if path is None:
            moved = _build_on_server(url, state_dir, new, stamp)
        else:
            moved = _build_sqlite(path, state_dir, new, stamp)
    except SQLAlchemyError as exc:
        raise CatalogError(f"cannot build the catalog {describe(url)}: {reason(exc)}") from exc
    except OSError as exc:
        raise CatalogError(f"cannot build the catalog {describe(url)}: {exc}") from exc
    return Rebuilt(describe(url), new.identity, tuple(moved))


@dataclass(frozen=True)
class _Contents:
    identity: Identity
    repositories: Sequence[RepositoryRecord]
    snapshots: Sequence[SnapshotRecord]

    def write(self, connection: Connection) -> None:
        create_schema(connection, self.identity)
        now = utc_now()
        if self.repositories:
            connection.execute(insert(models.Repository), [_values(r) for r in self.repositories])
        if self.snapshots:
            connection.execute(
                insert(models.Snapshot),
                [{**_values(s), "recorded_at": now} for s in self.snapshots],
            )


def _build_sqlite(path: Path, state_dir: Path, new: _Contents, stamp: str) -> list[Path]:
    building = path.with_name(f"{path.name}.rebuilding")
    for leftover in _family(building):  # of an interrupted rebuild: never a catalog in use
        leftover.unlink(missing_ok=True)
    engine = create_catalog_engine(f"sqlite:///{building}")
    try:
        with engine.begin() as connection:
            new.write(connection)
    finally:
        engine.dispose()  # the last connection: SQLite folds the -wal into the file
    if any(part.exists() for part in _family(building)[1:]):
        raise CatalogError(f"{building} kept a -wal or -shm after it was closed; not using it")
    ident.write_record(state_dir, new.identity)
    moved = _move_runs_aside(state_dir, stamp)
    aside = _unused(path.with_name(f"{path.name}.replaced-{stamp}"))
    for part, target in zip(_family(path), _family(aside), strict=True):
        if part.exists():  # a -wal without its file too: it must not pair with the new one
            part.rename(target)
            moved.append(target)
    building.replace(path)
    ident.fsync_dir(path.parent)
    return moved


def _build_on_server(url: str, state_dir: Path, new: _Contents, stamp: str) -> list[Path]:
    engine = create_catalog_engine(url)
    try:
        with engine.begin() as connection:  # one transaction: PostgreSQL's DDL is in it
            if set(inspect(connection).get_table_names()) & set(models.Base.metadata.tables):
                raise CatalogError(f"a catalog appeared at {describe(url)} meanwhile")
            new.write(connection)
            # Before the commit: a commit that fails leaves a record of a catalog that is not
            # there, which is refused; never a catalog the state dir does not know.
            ident.write_record(state_dir, new.identity)
            moved = _move_runs_aside(state_dir, stamp)
    finally:
        engine.dispose()
    return moved


def _values(record: Any) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in record.__dataclass_fields__}
    for key in ("paths", "tags"):
        if key in values:
            values[key] = list(values[key])
    return values


def _family(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ident.SQLITE_PARTS]


def _move_runs_aside(state_dir: Path, stamp: str) -> list[Path]:
    runs = state_dir / "runs"
    try:
        if not any(runs.iterdir()):
            return []
    except FileNotFoundError:
        return []
    aside = _unused(state_dir / f"runs.replaced-{stamp}")
    runs.rename(aside)
    return [aside]


def _unused(path: Path) -> Path:
    """path, or path-2, path-3...: a name that nothing (nor a -wal of it) has yet."""
    candidate, number = path, 1
    while any(part.exists() for part in _family(candidate)):
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate
