from datetime import UTC, datetime

import pytest

from drorch.errors import ResticError
from drorch.restic.models import Version, parse_snapshots, parse_time, parse_version


def test_parse_version_of_debian_restic() -> None:
    text = "restic 0.14.0 compiled with go1.19.8 on linux/amd64"
    assert parse_version(text) == Version(0, 14, 0)
    assert not parse_version(text).has_exit_codes
    assert parse_version("restic 0.17.3 compiled with go1.23").has_exit_codes


def test_parse_version_rejects_garbage() -> None:
    with pytest.raises(ResticError):
        parse_version("hello")


def test_parse_time_keeps_microseconds_of_nanosecond_times() -> None:
    assert parse_time("2026-11-28T15:34:14.924399983Z") == datetime(
        2026, 11, 28, 15, 34, 14, 924399, tzinfo=UTC
    )
    assert parse_time("2026-11-28T16:34:14.5+01:00") == datetime(
        2026, 11, 28, 15, 34, 14, 500000, tzinfo=UTC
    )
    assert parse_time("2026-11-28T15:34:14Z") == datetime(2026, 11, 28, 15, 34, 14, tzinfo=UTC)


def test_parse_snapshots_of_restic_014_output() -> None:
    text = (
        '[{"time":"2026-11-28T15:34:14.924399983Z","tree":"4267f6","paths":["/tmp/rx/src"],'
        '"hostname":"vm","username":"root","tags":["drorch","job:a"],'
        '"id":"c4aef2e8ee3c04db","short_id":"c4aef2e8"}]'
    )
    [snapshot] = parse_snapshots(text)
    assert snapshot.id == "c4aef2e8ee3c04db"
    assert snapshot.tags == ("drorch", "job:a")
    assert snapshot.paths == ("/tmp/rx/src",)
    assert snapshot.original is None
    assert parse_snapshots("null") == []


def test_parse_snapshots_rejects_non_json() -> None:
    with pytest.raises(ResticError, match="not JSON"):
        parse_snapshots("Fatal: oops")
