from datetime import UTC, datetime

import pytest

from drorch.errors import ResticError
from drorch.restic.models import (
    Version,
    parse_forget,
    parse_snapshots,
    parse_time,
    parse_version,
)


def test_parse_version_of_debian_restic() -> None:
    text = "restic 0.14.0 compiled with go1.19.8 on linux/amd64"
    assert parse_version(text) == Version(0, 14, 0)
    assert parse_version("restic 0.17.3 compiled with go1.23") == Version(0, 17, 3)
    assert Version(0, 14, 0) < Version(0, 17, 3)


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


def _snap(short: str, time: str, run: int) -> str:
    return (
        f'{{"time":"{time}","tree":"291c6e1d","paths":["/d"],"hostname":"vm",'
        f'"username":"root","tags":["job:a","run:{run}"],"id":"{short}00","short_id":"{short}"}}'
    )


# The shape restic 0.14 prints for `forget --json --group-by ''` (trimmed).
FORGET_014 = (
    '[{"tags":null,"host":"","paths":null,'
    f'"keep":[{_snap("f9237538", "2024-01-01T10:03:00Z", 3)}],'
    f'"remove":[{_snap("67fd3b1f", "2024-01-01T10:02:00Z", 2)},'
    f"{_snap('13e88608', '2024-01-01T10:01:00Z', 1)}],"
    '"reasons":[{"snapshot":{"time":"2024-01-01T10:03:00Z"},"matches":["daily snapshot"],'
    '"counters":{}}]}]'
)


def test_parse_forget_of_restic_014_output() -> None:
    [group] = parse_forget(FORGET_014)
    assert [s.id for s in group.keep] == ["f923753800"]
    assert [s.id for s in group.remove] == ["67fd3b1f00", "13e8860800"]
    assert group.remove[0].tags == ("job:a", "run:2")


def test_parse_forget_reads_null_lists_and_empty_output() -> None:
    text = FORGET_014.replace(
        FORGET_014[FORGET_014.index('"remove"') : FORGET_014.index(',"reasons"')], '"remove":null'
    )
    [group] = parse_forget(text)
    assert len(group.keep) == 1 and group.remove == ()
    # restic 0.14 prints nothing at all when no snapshot matches the filter.
    assert parse_forget("") == []


def test_parse_forget_skips_a_note_before_the_json() -> None:
    [group] = parse_forget("Applying Policy: keep 1 daily snapshots\n" + FORGET_014)
    assert len(group.remove) == 2


def test_parse_forget_rejects_non_json() -> None:
    with pytest.raises(ResticError, match="not JSON"):
        parse_forget("[oops")
