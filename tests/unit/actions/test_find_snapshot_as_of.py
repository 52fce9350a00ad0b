"""Which snapshot "as of a time" means (issue 12), on SQLite and PostgreSQL: the newest
COMPLETE snapshot of the job on the target taken at or before that time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from drorch.actions.restore import find_snapshot_as_of
from drorch.catalog import Catalog, SnapshotStatus
from drorch.errors import UnknownSnapshot, UsageError
from tests.catalog_rows import snapshot

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
FIRST, SECOND, PARTIAL, THIRD = (c * 8 + "0" * 56 for c in "abcd")
OTHER_JOB, REPLICA = "e" * 8 + "0" * 56, "f" * 8 + "0" * 56


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    """Complete snapshots at T0, T0+1h and T0+3h, a PARTIAL one at T0+2h; another job's
    snapshot at T0+2h30; a copy on the replica at T0+1h."""
    snapshot(any_catalog, "primary", FIRST, T0)
    snapshot(any_catalog, "primary", SECOND, T0 + HOUR)
    snapshot(any_catalog, "primary", PARTIAL, T0 + 2 * HOUR, status=SnapshotStatus.PARTIAL)
    snapshot(any_catalog, "primary", THIRD, T0 + 3 * HOUR)
    snapshot(any_catalog, "primary", OTHER_JOB, T0 + 2.5 * HOUR, job="other")
    snapshot(any_catalog, "replica", REPLICA, T0 + HOUR, original=SECOND)
    return any_catalog


@pytest.mark.parametrize(
    ("as_of", "target", "expected"),
    [
        (T0, "primary", FIRST),  # the very moment a snapshot was taken: that one
        (T0 + HOUR - timedelta(seconds=1), "primary", FIRST),
        (T0 + HOUR, "primary", SECOND),
        (T0 + 2 * HOUR, "primary", SECOND),  # the PARTIAL one is never chosen by time
        (T0 + 2.9 * HOUR, "primary", SECOND),  # nor is another job's
        (T0 + 3 * HOUR, "primary", THIRD),
        (T0 + 1000 * HOUR, "primary", THIRD),
        (T0 + 5 * HOUR, "replica", REPLICA),  # a copy, by its own id there
        # another zone is the same instant: 14:30+02:00 is 12:30Z
        (datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))), "primary", FIRST),
    ],
)
def test_the_newest_complete_snapshot_not_after_the_time(
    catalog: Catalog, as_of: datetime, target: str, expected: str
) -> None:
    assert find_snapshot_as_of(catalog, "app", target, as_of).snapshot_id == expected


def test_a_time_before_every_snapshot_names_the_oldest(catalog: Catalog) -> None:
    with pytest.raises(UnknownSnapshot) as refused:
        find_snapshot_as_of(catalog, "app", "replica", T0 + HOUR - timedelta(minutes=1))
    assert str(refused.value) == (
        "job 'app' has no complete snapshot on target 'replica' taken at or before "
        "2026-03-01T12:59:00Z; the oldest there is ffffffff of 2026-03-01T13:00:00Z: choose "
        "a later time, or another target that keeps older snapshots"
    )


@pytest.mark.parametrize("status", [None, SnapshotStatus.PARTIAL])
def test_no_complete_snapshot_at_all_is_said(
    any_catalog: Catalog, status: SnapshotStatus | None
) -> None:
    if status is not None:
        snapshot(any_catalog, "primary", PARTIAL, T0, status=status)
    with pytest.raises(UnknownSnapshot) as refused:
        find_snapshot_as_of(any_catalog, "app", "primary", T0 + HOUR)
    assert str(refused.value) == (
        "job 'app' has no complete snapshot on target 'primary', none taken at or before "
        "2026-03-01T13:00:00Z (list them with: drorch snapshots --job app --target primary)"
    )


def test_a_time_without_a_zone_is_refused(catalog: Catalog) -> None:
    with pytest.raises(UsageError, match="as-of time 2026-03-01T12:00:00 has no time zone"):
        find_snapshot_as_of(catalog, "app", "primary", T0.replace(tzinfo=None))
