"""A write tried again while the catalog's server is away, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError

from drorch.catalog.outage import patiently, server_away

SERVER = create_engine("postgresql+psycopg://drorch@127.0.0.1:1/drorch")  # never connected
SQLITE = create_engine("sqlite://")


def refused() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


class Flaky:
    """A write that meets the server away `times` times, then succeeds."""

    def __init__(self, times: int, error: Exception | None = None) -> None:
        self.left, self.tries = times, 0
        self.error = error or refused()

    def __call__(self) -> str:
        self.tries += 1
        if self.left:
            self.left -= 1
            raise self.error
        return "written"


def test_a_server_away_is_waited_for_with_growing_pauses() -> None:
    slept: list[float] = []
    write = Flaky(5)
    assert patiently(SERVER, write, what="run 1 ended", sleep=slept.append) == "written"
    assert write.tries == 6
    assert slept == [0.5, 1.0, 2.0, 4.0, 5.0]


def test_past_its_patience_the_error_is_raised() -> None:
    write = Flaky(1000)
    with pytest.raises(OperationalError):
        patiently(SERVER, write, what="run 1 ended", patience=0.0, sleep=lambda _: None)
    assert write.tries == 1


def test_sqlite_errors_and_other_errors_are_not_waited_for() -> None:
    assert server_away(SERVER, refused())
    assert not server_away(SQLITE, refused())  # the file's own trouble, not an absence
    duplicate = IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert not server_away(SERVER, duplicate)
    for engine, error in ((SQLITE, refused()), (SERVER, duplicate)):
        write = Flaky(1, error)
        with pytest.raises(type(error)):
            patiently(engine, write, what="run 1 ended", sleep=lambda _: None)
        assert write.tries == 1
