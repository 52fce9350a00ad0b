"""Open the catalog: engine settings, file safety, migrations applied on open, and the
check that it is the catalog the state dir used (see identity)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from drorch.catalog import faults
from drorch.catalog import identity as ident
from drorch.catalog.identity import Anchor, Identity
from drorch.catalog.models import Base
from drorch.errors import CatalogError, CatalogLost, CatalogUnreachable

log = logging.getLogger(__name__)

HEAD = "0015"  # the newest revision in migrations/versions; a test keeps them in step
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'catalog.sqlite'}"


# Every engine this process made, so that a command can close them before it exits
# (drorch.cli.entry skips the interpreter's teardown, which would otherwise close them).
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def close_all_engines() -> None:
    """Close every catalog connection this process holds. On SQLite the last connection to
    close folds the -wal into the catalog file and removes it, so that no -wal is left
    beside the catalog after a command (one left behind must never pair with another
    file of that name)."""
    for engine in list(_engines):
        engine.dispose()


# Seconds SQLite waits for another connection's write lock (the environment shortens it for
# tests that hold the lock past it).
BUSY_TIMEOUT = float(os.environ.get("DRORCH_CATALOG_BUSY_TIMEOUT", "30"))


def _write_start(sql: str) -> bool:
    """Whether pysqlite begins a transaction before `sql` (it does before INSERT, UPDATE,
    DELETE and REPLACE), or `sql` begins one itself."""
    return sql.lstrip()[:7].upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN"))


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(database: str) -> threading.Lock:
    key = os.path.realpath(database)
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


class WriteQueuedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on one lock per database file in
    this process, held from the statement that begins one to its commit or rollback.

    SQLite lets one writer in at a time; the others wait in its busy handler, which
    sleeps in steps of up to 100 ms and so wakes late: with the daemon's workers
    committing one after another (each through an fsync), a third of their time went
    into those sleeps. Threads waiting on a lock wake as soon as it is released. Other
    processes still meet SQLite's busy timeout; past it, so does a thread of this one
    (a second write transaction nested in a first, on another connection, fails as it
    did). Reads never take the lock (WAL readers do not block a writer)."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._queue = _write_lock(os.fsdecode(database))
        self._holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _QueuedCursor)

    def before(self, sql: str) -> None:
        if not self._holding and _write_start(sql):
            self._holding = self._queue.acquire(timeout=BUSY_TIMEOUT)

    def after(self) -> None:
        """After a statement: one that wrote outside a transaction (autocommit), or failed
        before beginning one, leaves none to wait for."""
        if self._holding and not self.in_transaction:
            self._release()

    # The write lock is held through the commit (its fsync): the next writer cannot
    # write before then anyway.
    def commit(self) -> None:
        self._ending(super().commit)

    def rollback(self) -> None:
        self._ending(super().rollback)

    def close(self) -> None:
        self._ending(super().close)

    def _ending(self, end: Callable[[], None]) -> None:
        try:
            end()
        finally:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._queue.release()


class _QueuedCursor(sqlite3.Cursor):
    connection: WriteQueuedConnection

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self._queued(super().execute, sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self._queued(super().executemany, sql, parameters)

    def _queued(self, statement: Callable[[str, Any], Any], sql: str, parameters: Any) -> Any:
        self.connection.before(sql)
        try:
            return statement(sql, parameters)
        finally:
            self.connection.after()


def create_catalog_engine(url: str) -> Engine:
    """An engine for url; a SQLite file is created 0600 in WAL mode with full fsync."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, connect_args=server_session())
        _wait_for_locks_at_most(engine)
        _name_catalog_in_errors(engine, url)
        _engines.add(engine)
        return engine
    database = parsed.database
    if database and database != ":memory:":
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise faults.explain_os(path, exc) from exc
    connect: dict[str, Any] = {"timeout": BUSY_TIMEOUT}
    if database and database != ":memory:" and not parsed.query:
        connect["factory"] = WriteQueuedConnection
    engine = create_engine(url, connect_args=connect)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        _write_ahead(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if database and database != ":memory:":
        _name_catalog_in_errors(engine, url)
    _engines.add(engine)
    return engine


def _write_ahead(cursor: Any) -> None:
    """PRAGMA journal_mode=WAL, waiting for the locks it needs as a write would.

    A new catalog file is in rollback-journal mode until its first connection turns it to
    WAL, which takes an exclusive lock; SQLite answers SQLITE_BUSY at once, without its
    busy handler, to a connection asking while another holds a lock there. Processes
    opening one new catalog together (two daemons started at once, a command beside them)
    then failed as "locked", about 1 round in 10 with six of them. The pragma is asked
    again until BUSY_TIMEOUT has passed, as SQLite waits for a write lock."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _wait_for_locks_at_most(engine: Engine) -> None:
    """A server session waits BUSY_TIMEOUT for a lock another session holds, as SQLite
    does, then fails (explain_error: locked); never forever."""

    @event.listens_for(engine, "connect")
    def _lock_timeout(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{int(BUSY_TIMEOUT * 1000)}ms'")
        dbapi_connection.commit()


def _name_catalog_in_errors(engine: Engine, url: str) -> None:
    """Mark each error of `engine` with its catalog's URL, for `explain_error` (the
    database's own words name no catalog)."""

    @event.listens_for(engine, "handle_error")
    def _mark(context: Any) -> None:
        if context.sqlalchemy_exception is not None:  # None: not the database's error
            setattr(context.sqlalchemy_exception, CATALOG_URL, url)


CATALOG_URL = "drorch_catalog_url"


def explain_error(exc: BaseException) -> CatalogError | None:
    """The typed error for a catalog error that says what is wrong with the catalog
    (corrupt, read-only, locked), naming it; None for any other error."""
    url = getattr(exc, CATALOG_URL, None)
    if not isinstance(url, str) or not isinstance(exc, SQLAlchemyError):
        return None
    path = sqlite_file(url)
    if path is None:
        return faults.explain_server(describe(url), reason(exc))
    return faults.explain(path, reason(exc))


def server_session() -> dict[str, Any]:
    """What a server-side session of this process says of itself: in pg_stat_activity an
    operator (or a test) tells drorch's sessions, and which process holds each, apart."""
    return {"application_name": f"drorch pid {os.getpid()}"}


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for a server or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def describe(url: str) -> str:
    """The catalog for a message: its file, or its URL without a password."""
    path = sqlite_file(url)
    return str(path) if path is not None else make_url(url).render_as_string(hide_password=True)


def open_engine(
    url: str, state_dir: Path, repositories: Sequence[Path] = ()
) -> tuple[Engine, Anchor]:
    """An engine on the catalog at url, migrated to HEAD, checked against the state dir's
    record of it, and anchored. A missing or empty catalog is created only where the state
    dir shows no earlier use (CatalogLost otherwise, and nothing is created)."""
    path, where = sqlite_file(url), describe(url)
    sqlite = path is not None

    def refuse_if_used(state: str) -> None:
        traces = ident.traces_of_use(state_dir, repositories)
        if traces:
            raise CatalogLost(ident.missing_message(where, state, traces, sqlite=sqlite))

    if path is not None and not _has_content(path):
        refuse_if_used("is missing" if not path.exists() else "is empty")
    engine = create_catalog_engine(url)
    try:
        found = migrate(engine, before_create=lambda: refuse_if_used("is empty"))
        ident.check_record(state_dir, found, where, sqlite=sqlite)
        if found is None:  # its identity row was deleted, and the state dir knows none
            found = ident.new_identity()
            with engine.begin() as connection:
                ident.insert_identity(connection, found)
            log.warning("the catalog %s had no identity; it is now %s", where, found.id)
            ident.check_record(state_dir, found, where, sqlite=sqlite)
        anchor = Anchor(found, where, path)
        anchor.install(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine, anchor


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CatalogError(f"cannot open the catalog {path}: {exc.strerror}") from exc


def create_schema(connection: Any, identity: Identity | None = None) -> Identity:
    """A new catalog: every table from the models, stamped at HEAD, with its identity and
    its leadership row (epoch 0: no daemon has led yet)."""
    Base.metadata.create_all(connection)
    connection.execute(text("INSERT INTO leadership (id, epoch) VALUES (1, 0)"))
    connection.execute(
        text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    )
    connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": HEAD})
    identity = identity or ident.new_identity()
    ident.insert_identity(connection, identity)
    return identity


def migrate(engine: Engine, *, before_create: Callable[[], None] | None = None) -> Identity | None:
    """Bring the schema to HEAD. A new database is created from the models and stamped,
    after `before_create` (which may refuse by raising). Returns the catalog's identity
    (None when its row was deleted).

    Processes that open one catalog at once (two daemons started together, a command
    beside them) create or upgrade it one at a time: the first does it, the others wait for
    it and then find nothing left to do."""
    try:
        with engine.connect() as connection:  # the common case: at HEAD, read only
            if _revision(connection) == HEAD:
                return ident.read_identity(connection)
        with engine.connect() as connection, _serialised(connection):
            tables = set(inspect(connection).get_table_names())
            revision = _revision(connection)
            if revision == HEAD:  # another process got there first
                return ident.read_identity(connection)
            if revision is None and not tables & set(Base.metadata.tables):
                if before_create is not None:
                    before_create()
                identity = create_schema(connection)
                log.info("created catalog schema at revision %s: catalog %s", HEAD, identity.id)
                return identity
            _alembic_upgrade(connection)
            return ident.read_identity(connection)
    except OperationalError as exc:
        if engine.dialect.name == "sqlite" or explain_error(exc) is not None:
            raise _cannot_open(engine, exc) from exc
        raise CatalogUnreachable(
            f"cannot reach the catalog {_where(engine)}: {reason(exc)}"
        ) from exc
    except SQLAlchemyError as exc:
        raise _cannot_open(engine, exc) from exc


def _cannot_open(engine: Engine, exc: SQLAlchemyError) -> CatalogError:
    return explain_error(exc) or CatalogError(
        f"cannot open the catalog {_where(engine)}: {reason(exc)}"
    )


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def _where(engine: Engine) -> str:
    return describe(engine.url.render_as_string(hide_password=False))


def reason(exc: SQLAlchemyError) -> str:
    """What went wrong, for a message: the database's own first line (no SQL statement, no
    parameters, no password), or the kind of error when there is none."""
    cause = getattr(exc, "orig", None) or exc.__cause__
    lines = str(cause or "").strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# The key of the advisory lock that serialises schema changes of a PostgreSQL catalog: this
# number (drorch's, for its schema) and the schema's own (several catalogs share a server).
SCHEMA_LOCK = 0x64726F72  # "dror"


@contextlib.contextmanager
def _serialised(connection: Connection) -> Iterator[None]:
    """One transaction on `connection`, which no other process changing the schema runs
    beside: on PostgreSQL under a transaction-level advisory lock, on SQLite under the
    write lock taken at its start (BEGIN IMMEDIATE). On SQLite, foreign keys are enforced
    only at its end: a migration rebuilds a table other tables reference (SQLite alters a
    column by copying the table, dropping and renaming it), which SQLite allows only with
    enforcement off; `_alembic_upgrade` then proves that nothing dangles."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # outside a transaction, or SQLite ignores it
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            if sqlite:  # pysqlite begins a transaction before DML only, never before DDL
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:  # another process's migration is waited for, however long it takes
                connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                    {"key": SCHEMA_LOCK},
                )
            yield
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def _alembic_upgrade(connection: Any) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    if connection.dialect.name == "sqlite":
        dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if dangling:
            raise CatalogError(f"the migration left rows that refer to none: {dangling}")
