"""A PostgreSQL catalog for tests: a schema of its own per test on the server that
DRORCH_TEST_PG_URL names (`make test` points it at the local server).

Without a reachable server the PostgreSQL cases are skipped with the reason, except
under CI, where they fail: CI must prove both backends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

ENV = "DRORCH_TEST_PG_URL"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"no PostgreSQL for the catalog tests: {reason}")


def pg_schema_url() -> Iterator[str]:
    """Yield a URL whose connections live in a fresh, empty schema; drop it afterwards."""
    base = os.environ.get(ENV)
    if not base:
        _unavailable(f"{ENV} is not set (make test sets it)")
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        _unavailable(f"{make_url(base).render_as_string(hide_password=True)}: {exc.orig}")
        return
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
