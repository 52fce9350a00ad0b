"""The catalog's identity, so that a lost catalog is refused instead of silently replaced.

Every catalog holds one identity row (a UUID and its creation time) written when it is
created; the state dir records the UUID in `catalog.id` (0600) when the catalog is created
or first seen. Opening then refuses, with CatalogLost:

- a catalog whose identity is not the recorded one (replaced, recreated, another's);
- a missing or empty catalog where the state dir shows earlier use (a recorded identity,
  run folders, canaries, a restic repository at a disk target's path): a new, empty
  catalog there would restart the run history and hide what the repositories hold.
  `drorch catalog rebuild` re-reads the repositories instead.

An open catalog is anchored. A SQLite file is checked by (st_dev, st_ino) before each use
of a connection, so that a catalog removed or replaced under a process fails its next use
instead of taking writes into a deleted file, or re-creating an empty file. The daemon
also calls `Anchor.check` with its heartbeat: open handles on removed files (a removed
-wal) and the identity row (a file overwritten in place, a database dropped or recreated).
Once lost, every later use of the catalog by that process fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from drorch.catalog import faults
from drorch.catalog.faults import REBUILD
from drorch.catalog.models import CatalogIdentity
from drorch.errors import CatalogError, CatalogLost

log = logging.getLogger(__name__)

RECORD = "catalog.id"  # in the state dir: the UUID of the catalog it uses
LOCK = "catalog.lock"  # in the state dir: held shared by daemons, exclusively by a rebuild
SQLITE_PARTS = ("", "-wal", "-shm")  # a SQLite catalog is these files together


@dataclass(frozen=True)
class Identity:
    id: str
    created_at: datetime

    @property
    def short(self) -> str:
        return self.id[:8]


def new_identity() -> Identity:
    return Identity(str(uuid.uuid4()), datetime.now(UTC).replace(microsecond=0))


def insert_identity(connection: Connection, identity: Identity) -> None:
    connection.execute(
        insert(CatalogIdentity).values(id=identity.id, created_at=identity.created_at)
    )


def read_identity(connection: Connection) -> Identity | None:
    """The catalog's identity; None when its row is gone. Two rows: edited by hand."""
    rows = connection.execute(select(CatalogIdentity.id, CatalogIdentity.created_at)).all()
    if len(rows) > 1:
        raise CatalogLost(
            f"the catalog has {len(rows)} identities in catalog_identity (edited by hand?)"
        )
    return Identity(rows[0].id, rows[0].created_at) if rows else None


# -- the state dir's record -------------------------------------------------------------------


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD


def read_record(state_dir: Path) -> str | None:
    path = record_path(state_dir)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from exc


def write_record(state_dir: Path, identity: Identity) -> None:
    """Record which catalog the state dir uses: atomically, 0600, fsync'd."""
    path = record_path(state_dir)
    partial = state_dir / f".{RECORD}.{os.getpid()}.partial"
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"{identity.id}\n")
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    fsync_dir(state_dir)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in folder durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def traces_of_use(state_dir: Path, repositories: Sequence[Path] = ()) -> list[str]:
    """What shows that this state dir's catalog was used before, each said in words."""
    traces = []
    recorded = read_record(state_dir)
    if recorded is not None:
        traces.append(f"{record_path(state_dir)} records catalog {recorded[:8]}")
    for folder, what in (("runs", "run folders"), ("canaries", "canaries of snapshots")):
        if _holds_something(state_dir / folder):
            traces.append(f"{state_dir / folder} holds {what}")
    traces += [
        f"a restic repository is at {path}" for path in repositories if (path / "config").is_file()
    ]
    return traces


def _holds_something(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except OSError:
        return False


# -- refusals ---------------------------------------------------------------------------------


def missing_message(where: str, state: str, traces: Sequence[str], *, sqlite: bool) -> str:
    put_back = (
        "If the catalog was moved, or lives on a disk that is not mounted, put it back. "
        if sqlite
        else "If the catalog's database was moved or is being restored, point `catalog:` at it. "
    )
    return (
        f"the catalog {where} {state}, but drorch was used here before: "
        f"{'; '.join(traces)}. drorch will not start a new, empty catalog in its place: the "
        "run history would silently restart and the snapshots in the repositories would go "
        f"unlisted. {put_back}Otherwise rebuild it from the repositories with `{REBUILD}`: "
        "it re-reads every disk target's snapshots and copies; the run history and the "
        "evidence log cannot be recovered and start empty."
    )


def mismatch_message(
    where: str, found: Identity | None, recorded: str, state_dir: Path, *, sqlite: bool
) -> str:
    what = (
        f"is catalog {found.short} (created {found.created_at:%Y-%m-%d %H:%M:%SZ})"
        if found is not None
        else "has no identity"
    )
    rebuild = (
        f"`{REBUILD} --force` moves this catalog aside (never deletes it) and re-reads the "
        "repositories"
        if sqlite
        else f"point `catalog:` at a new, empty database and run `{REBUILD}`, which re-reads "
        "the repositories"
    )
    return (
        f"the catalog {where} {what}, not catalog {recorded[:8]} that "
        f"{record_path(state_dir)} records: it was replaced or recreated since this state "
        "dir used it, and drorch will not mix two histories. If the right catalog was moved "
        "aside, put it back. If this one is the catalog to use (rebuilt on purpose on "
        f"another node, say), remove {record_path(state_dir)} to accept it. Otherwise "
        f"{rebuild}."
    )


def check_record(state_dir: Path, found: Identity | None, where: str, *, sqlite: bool) -> None:
    """Refuse a catalog that is not the one the state dir records; record it when the state
    dir has no record yet."""
    recorded = read_record(state_dir)
    if recorded is not None and (found is None or recorded != found.id):
        raise CatalogLost(mismatch_message(where, found, recorded, state_dir, sqlite=sqlite))
    if recorded is not None or found is None:
        return
    try:
        write_record(state_dir, found)
    except OSError as exc:  # a read-only view of a server catalog, say: warn, go on
        log.warning(
            "cannot record the catalog's identity in %s: %s; a catalog replaced later will "
            "not be noticed from here",
            record_path(state_dir),
            exc.strerror,
        )


# -- an open catalog --------------------------------------------------------------------------


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _fd_id(fd: int) -> tuple[int, int] | None:
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class Anchor:
    """What a process opened: the catalog's identity and, for SQLite, its file."""

    def __init__(self, identity: Identity, where: str, path: Path | None) -> None:
        self.identity = identity
        self.where = where
        self.path = path
        self._file = _file_id(path) if path is not None else None
        self._real = os.path.realpath(path) if path is not None else None
        self.lost: str | None = None  # what happened, as first found; never changes
        self._verdict = threading.Lock()

    def install(self, engine: Engine) -> None:
        """Check before a new connection (which would create an empty file where the catalog
        was) and before each statement (which would write into a deleted file). Not at
        checkout: a failed checkout closes the connection, and SQLite's last close deletes
        PATH-wal by name, which may be another catalog's by then."""
        event.listen(engine, "do_connect", self._guard_event)
        event.listen(engine, "before_cursor_execute", self._guard_event)

    def _guard_event(self, *_args: Any) -> None:
        self._guard()

    def _guard(self) -> None:
        if self.lost is None:
            self._found(self._file_changed())
        if self.lost is not None:
            raise CatalogLost(f"{self.lost}; nothing more is recorded by this process")

    def _found(self, reason: str | None) -> str | None:
        """Record what happened to the catalog, once: threads that find it together (a
        statement's guard, the heartbeat's check) all report the first finding."""
        with self._verdict:
            if self.lost is None:
                self.lost = reason
            return self.lost

    def _file_changed(self) -> str | None:
        if self.path is None:
            return None
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return f"the catalog {self.path} was removed after it was opened"
        except OSError:
            return None  # not a verdict: SQLite reports what it meets
        if (info.st_dev, info.st_ino) != self._file:
            return f"the catalog {self.path} was replaced by another file after it was opened"
        return None

    def _handles(self) -> dict[str, int]:
        """This process's open descriptors on the catalog's files, by what they point to
        (`PATH-wal`, or `PATH-wal (deleted)` once removed)."""
        if self._real is None:
            return {}
        found = {}
        try:
            fds = os.listdir("/proc/self/fd")
        except OSError:
            return {}
        for fd in fds:
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/self/fd/{fd}")
                if target.startswith(self._real):
                    found[target] = int(fd)
        return found

    def _removed_handles(self) -> str | None:
        """A file of the catalog (-wal, -shm) removed while this process holds it open."""
        handles = self._handles()
        for suffix in SQLITE_PARTS:
            if f"{self._real}{suffix} (deleted)" in handles:
                return f"{self.path}{suffix} was removed while the catalog was open"
        return None

    def set_aside(self) -> list[Path]:
        """After the catalog's file was replaced or removed: move the -wal and -shm this
        process holds (checked by inode) out of the way, to PATH.lost-STAMP-wal, so that
        they never pair with a file now or later at PATH: SQLite would apply the old log to
        it. Nothing is deleted."""
        if self.path is None or self._file_changed() is None:
            return []
        handles, moved = self._handles(), []
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for suffix in SQLITE_PARTS[1:]:
            fd = handles.get(f"{self._real}{suffix}")
            part = Path(f"{self.path}{suffix}")
            if fd is None or _file_id(part) != _fd_id(fd):
                continue
            aside = self.path.with_name(f"{self.path.name}.lost-{stamp}{suffix}")
            try:
                part.rename(aside)
            except OSError as exc:
                log.error("could not move %s aside: %s", part, exc.strerror)
                continue
            moved.append(aside)
        return moved

    def check(self, engine: Engine) -> str | None:
        """Whether the catalog is still the one opened: None, or what happened to it. Cheap
        (a stat, a look at open handles, one row), for the daemon's heartbeat. A server
        that cannot be reached is not a verdict: the next check asks again."""
        if self.lost is None:
            # Handles first, then the file: a catalog removed while they were read shows as
            # removed, never as one of its -wal or -shm removed.
            removed = self._removed_handles()
            self._found(self._file_changed() or removed)
        if self.lost is None:
            self._found(self._identity_changed(engine))
        return self.lost

    def _identity_changed(self, engine: Engine) -> str | None:
        try:
            with engine.connect() as connection:
                try:
                    found = read_identity(connection)
                except SQLAlchemyError:
                    connection.rollback()
                    if inspect(connection).has_table(CatalogIdentity.__tablename__):
                        raise
                    found = None
        except CatalogLost as exc:
            return self.lost or str(exc)
        except SQLAlchemyError as exc:
            log.warning("could not check the catalog's identity: %s", exc)
            return None
        if found is None:
            return (
                f"the catalog {self.where} has no identity any more: its tables were dropped "
                "or emptied after it was opened"
            )
        if found.id != self.identity.id:
            return (
                f"the catalog {self.where} is now catalog {found.short}, not catalog "
                f"{self.identity.short} that was opened: it was replaced"
            )
        return None


# -- who uses the state dir -------------------------------------------------------------------


def _open_lock(state_dir: Path) -> int:
    path = state_dir / LOCK
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise faults.explain_lock_file(path, exc) from exc


def hold_daemon_lock(state_dir: Path) -> int:
    """For a daemon: a shared lock on the state dir's catalog.lock, held while the process
    lives (the returned descriptor), so that a rebuild can tell that a daemon uses this state
    dir even when the catalog, and the heartbeats in it, are gone."""
    fd = _open_lock(state_dir)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CatalogError(
            f"a catalog rebuild is in progress in {state_dir}; start the daemon when it is done"
        ) from None
    return fd


@contextlib.contextmanager
def no_daemon(state_dir: Path) -> Iterator[None]:
    """For a rebuild: the state dir's catalog.lock, exclusively; refused while a daemon holds
    it. No daemon can start until the block ends."""
    fd = _open_lock(state_dir)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CatalogError(
                f"a drorch daemon is running on {state_dir} (it holds {state_dir / LOCK}); "
                "stop it first (systemctl stop drorch)"
            ) from None
        yield
    finally:
        os.close(fd)
