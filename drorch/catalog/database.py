"""Open the catalog: engine settings, file safety, and migrations applied on open."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from drorch.catalog.models import Base
from drorch.errors import CatalogError

log = logging.getLogger(__name__)

HEAD = "0006"  # the newest revision in migrations/versions; a test keeps them in step
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'catalog.sqlite'}"


def create_catalog_engine(url: str) -> Engine:
    """An engine for url; a SQLite file is created 0600 in WAL mode with full fsync."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:":
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise CatalogError(f"cannot open the catalog {path}: {exc.strerror}") from exc
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to HEAD. A new database is created from the models and stamped."""
    try:
        with engine.begin() as connection:
            tables = set(inspect(connection).get_table_names())
            if "alembic_version" in tables:
                current = connection.execute(text("SELECT version_num FROM alembic_version"))
                if current.scalar() == HEAD:
                    return
            elif not tables & set(Base.metadata.tables):
                Base.metadata.create_all(connection)
                connection.execute(
                    text(
                        "CREATE TABLE alembic_version "
                        "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
                    )
                )
                connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": HEAD})
                log.info("created catalog schema at revision %s", HEAD)
                return
            _alembic_upgrade(connection)
    except SQLAlchemyError as exc:
        raise CatalogError(f"cannot open the catalog {engine.url!r}: {exc}") from exc


def _alembic_upgrade(connection: Any) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
