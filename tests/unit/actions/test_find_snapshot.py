"""Which snapshot a restore means (issue 10, defects 2 and 12), on SQLite and PostgreSQL.

`latest` is the newest COMPLETE snapshot on the target; an id (or a prefix of 4 or more)
is either the snapshot's own id on that target or, for a copy, the id of its source; it
always resolves to the copy's own id there. An ambiguous prefix names the candidates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drorch.actions.restore import find_snapshot
from drorch.catalog import Catalog, RunStatus, SnapshotStatus
from drorch.errors import UnknownSnapshot
from tests.catalog_rows import run, snapshot

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PARTIAL = SnapshotStatus.PARTIAL

# primary ids, and the replica's own ids of their copies: prefixes chosen to collide
GOOD, NEWER = "aaaa1111" + "0" * 56, "bbbb2222" + "0" * 56
GOOD_COPY, NEWER_COPY = "cccc3333" + "0" * 56, "aaaa9999" + "0" * 56


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    """Each test runs on SQLite and on PostgreSQL."""
    return any_catalog


@pytest.fixture
def partial_run(catalog: Catalog) -> int:
    """A complete snapshot, then a PARTIAL one; both copied to the replica."""
    snapshot(catalog, "primary", GOOD, T0, run_id=run(catalog, "snapshot", RunStatus.SUCCEEDED, T0))
    later = T0 + timedelta(hours=1)
    partial = run(catalog, "snapshot", RunStatus.PARTIAL, later)
    snapshot(catalog, "primary", NEWER, later, status=PARTIAL, run_id=partial)
    snapshot(catalog, "replica", GOOD_COPY, T0, original=GOOD)
    snapshot(catalog, "replica", NEWER_COPY, later, original=NEWER, status=PARTIAL)
    return partial


def test_latest_is_the_newest_complete_snapshot(catalog: Catalog, partial_run: int) -> None:
    assert find_snapshot(catalog, "app", "primary", "latest").snapshot_id == GOOD
    assert find_snapshot(catalog, "app", "replica", "latest").snapshot_id == GOOD_COPY
    named = find_snapshot(catalog, "app", "primary", "bbbb")  # a partial one, by its id
    assert named.snapshot_id == NEWER and named.status is PARTIAL


def test_latest_without_a_complete_snapshot_is_refused_naming_the_others(
    catalog: Catalog,
) -> None:
    partial = run(catalog, "snapshot", RunStatus.PARTIAL, T0)
    snapshot(catalog, "primary", NEWER, T0, status=PARTIAL, run_id=partial)
    with pytest.raises(UnknownSnapshot) as refused:
        find_snapshot(catalog, "app", "primary", "latest")
    assert str(refused.value) == (
        "job 'app' has no complete snapshot on target 'primary' (1 PARTIAL: bbbb2222); "
        "to restore what one of them holds, name it with --snapshot ID"
    )


def test_a_copy_is_found_by_its_own_id_or_its_source_id(catalog: Catalog, partial_run: int) -> None:
    assert find_snapshot(catalog, "app", "replica", "cccc3333").snapshot_id == GOOD_COPY
    assert find_snapshot(catalog, "app", "replica", GOOD_COPY).snapshot_id == GOOD_COPY
    assert find_snapshot(catalog, "app", "replica", GOOD).snapshot_id == GOOD_COPY
    assert find_snapshot(catalog, "app", "replica", "BBBB2").snapshot_id == NEWER_COPY
    with pytest.raises(UnknownSnapshot, match="no snapshot 'cccc3333' of job 'app' on target"):
        find_snapshot(catalog, "app", "primary", "cccc3333")


def test_an_ambiguous_prefix_names_every_candidate(catalog: Catalog, partial_run: int) -> None:
    # "aaaa" is the own id of one copy and the source id of the other
    with pytest.raises(UnknownSnapshot) as refused:
        find_snapshot(catalog, "app", "replica", "aaaa")
    assert str(refused.value) == (
        "snapshot id 'aaaa' is ambiguous on target 'replica': "
        "cccc3333 (copy of aaaa1111), aaaa9999 (copy of bbbb2222, PARTIAL)"
    )
    assert find_snapshot(catalog, "app", "replica", "aaaa1").snapshot_id == GOOD_COPY
    assert find_snapshot(catalog, "app", "replica", "aaaa9").snapshot_id == NEWER_COPY


def test_a_random_restore_test_picks_only_complete_snapshots(
    catalog: Catalog, partial_run: int
) -> None:
    """`restore_test: {snapshot: random}` draws among complete snapshots only, whatever the
    seed; a partial one is tested only when named."""
    from types import SimpleNamespace

    from drorch.actions.restore_test import RestoreTestOptions, choose_snapshot

    ctx = SimpleNamespace(
        catalog=catalog,
        job_name="app",
        job=SimpleNamespace(restore_test=SimpleNamespace(snapshot="random")),
    )
    drawn = {
        choose_snapshot(ctx, "primary", RestoreTestOptions())[0].snapshot_id for _ in range(40)
    }  # type: ignore[arg-type]
    assert drawn == {GOOD}
    named = choose_snapshot(ctx, "primary", RestoreTestOptions(snapshot="bbbb"))[0]  # type: ignore[arg-type]
    assert named.snapshot_id == NEWER
