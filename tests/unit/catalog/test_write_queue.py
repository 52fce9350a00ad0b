"""SQLite write transactions of one process queue on a lock per database file."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from drorch.catalog import database
from drorch.catalog.database import create_catalog_engine


class Watched:
    """The lock, telling when a thread starts waiting for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.asked = threading.Event()

    def acquire(self, timeout: float = -1) -> bool:
        if self.lock.locked():
            self.asked.set()
        return self.lock.acquire(timeout=timeout)

    def release(self) -> None:
        self.lock.release()

    def locked(self) -> bool:
        return self.lock.locked()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "queue.sqlite"


@pytest.fixture
def queue(path: Path, monkeypatch: pytest.MonkeyPatch) -> Watched:
    watched = Watched()
    monkeypatch.setitem(database._write_locks, str(path.resolve()), watched)
    return watched


def engine_on(path: Path) -> Engine:
    engine = create_catalog_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    return engine


def test_held_from_the_first_write_to_the_end_of_the_transaction(
    path: Path, queue: Watched
) -> None:
    engine = engine_on(path)
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM t")).scalar()
        assert not queue.locked()  # reads never wait for writers
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert queue.locked()
        connection.rollback()
        assert not queue.locked()
        connection.execute(text("UPDATE t SET x = 2"))
        assert queue.locked()
        connection.commit()
        assert not queue.locked()
        connection.execute(text("DELETE FROM t"))
    assert not queue.locked()  # the pool's rollback on return ends it too
    engine.dispose()


def test_a_second_writer_waits_for_the_first_instead_of_failing(
    path: Path, queue: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no busy timeout at all, a second writer that met the first's SQLite lock would
    fail at once with 'database is locked': it waits on the queue instead, then writes."""
    engine = engine_on(path)
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.0)  # read by create_catalog_engine
    impatient = create_catalog_engine(f"sqlite:///{path}")
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 30.0)  # the queue's own wait
    outcome: list[Any] = []

    def second() -> None:
        try:
            with impatient.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (2)"))
            outcome.append("written")
        except OperationalError as exc:
            outcome.append(exc)

    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        writer = threading.Thread(target=second)
        writer.start()
        assert queue.asked.wait(30)  # the second writer waits for this transaction
    writer.join(30)
    assert outcome == ["written"]
    with engine.connect() as connection:
        assert sorted(connection.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
    engine.dispose()
    impatient.dispose()


def test_past_the_busy_timeout_sqlite_decides_as_before(
    path: Path, queue: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write on a second connection nested in a first one's transaction, in the same
    thread, cannot be waited out: it fails with SQLite's own error, as without the queue."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.05)
    engine = engine_on(path)
    with engine.begin() as outer:
        outer.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="database is locked"), engine.begin() as inner:
            inner.execute(text("INSERT INTO t VALUES (2)"))
        assert queue.locked()  # still the outer transaction's
    assert not queue.locked()
    engine.dispose()
