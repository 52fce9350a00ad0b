"""Compliance never counts a snapshot that is not COMPLETE as good (issue 10, defect 2).

A PARTIAL snapshot (restic could not read some source files) or an ORPHANED one (its run
never finished) is listed, named in the rules' detail, and never satisfies an RPO, a
verified RPO or a copy; a PARTIAL run counts in failed_runs. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from drorch.catalog import Catalog, RunStatus, SnapshotStatus
from drorch.config import Config
from tests.catalog_rows import run, snapshot
from tests.unit.policy.test_rules import NOW, restore_test, rules

PARTIAL, ORPHANED = SnapshotStatus.PARTIAL, SnapshotStatus.ORPHANED
HOUR = timedelta(hours=1)


def complete_then_partial(catalog: Catalog, complete_age: timedelta) -> int:
    """A complete snapshot `complete_age` old on both copies, then a PARTIAL one 10 minutes
    old on both (the replica's a copy of it, PARTIAL too); the PARTIAL run's id."""
    good_at, partial_at = NOW - complete_age, NOW - timedelta(minutes=10)
    good = run(catalog, "snapshot", RunStatus.SUCCEEDED, good_at)
    snapshot(catalog, "primary", "a" * 64, good_at, run_id=good)
    snapshot(catalog, "replica", "b" * 64, good_at, original="a" * 64)
    partial = run(catalog, "snapshot", RunStatus.PARTIAL, partial_at)
    snapshot(catalog, "primary", "c" * 64, partial_at, status=PARTIAL, run_id=partial)
    run(catalog, "replicate:replica", RunStatus.SUCCEEDED, partial_at + timedelta(minutes=1))
    snapshot(catalog, "replica", "d" * 64, partial_at, original="c" * 64, status=PARTIAL)
    return partial


def test_a_newer_partial_snapshot_does_not_satisfy_the_rpo(
    config: Config, catalog: Catalog
) -> None:
    partial = complete_then_partial(catalog, complete_age=2 * HOUR)
    got = rules(config, catalog)
    for target in ("primary", "replica"):
        rpo = got[f"rpo:{target}"]
        assert not rpo.ok, rpo
        assert rpo.value == 2 * 3600  # the complete one's age, not the partial's
        assert rpo.since == NOW - 2 * HOUR + HOUR
        assert rpo.detail == (
            f"newest complete snapshot on {target} is 7200s old; "
            f"1 newer snapshot is PARTIAL (run {partial})"
        )


def test_an_older_complete_snapshot_within_the_rpo_still_satisfies_it(
    config: Config, catalog: Catalog
) -> None:
    partial = complete_then_partial(catalog, complete_age=timedelta(minutes=30))
    rpo = rules(config, catalog)["rpo:primary"]
    assert rpo.ok and rpo.value == 30 * 60
    assert rpo.detail.endswith(f"; 1 newer snapshot is PARTIAL (run {partial})")


def test_only_partial_snapshots_is_no_complete_snapshot(config: Config, catalog: Catalog) -> None:
    first = run(catalog, "snapshot", RunStatus.PARTIAL, NOW - HOUR)
    snapshot(catalog, "primary", "c" * 64, NOW - HOUR, status=PARTIAL, run_id=first)
    second = run(catalog, "snapshot", RunStatus.PARTIAL, NOW - timedelta(minutes=5))
    snapshot(
        catalog, "primary", "e" * 64, NOW - timedelta(minutes=5), status=PARTIAL, run_id=second
    )
    got = rules(config, catalog)
    rpo = got["rpo:primary"]
    assert not rpo.ok and rpo.value is None
    assert rpo.detail == (
        f"no complete snapshot on primary; 2 snapshots are PARTIAL (runs {first}, {second})"
    )
    copies = got["copies"]
    assert not copies.ok and copies.value["min"] == 0
    assert copies.detail.endswith("not counted: primary (only snapshots that are not complete)")
    assert got["residency"].ok  # the data is there all the same, inside


def test_orphaned_snapshots_are_named_and_not_counted(config: Config, catalog: Catalog) -> None:
    good_at = NOW - 2 * HOUR
    snapshot(
        catalog,
        "primary",
        "a" * 64,
        good_at,
        run_id=run(catalog, "snapshot", RunStatus.SUCCEEDED, good_at),
    )
    orphan = run(catalog, "snapshot", RunStatus.INTERRUPTED, NOW - timedelta(minutes=9))
    snapshot(
        catalog, "primary", "f" * 64, NOW - timedelta(minutes=9), status=ORPHANED, run_id=orphan
    )
    partial = run(catalog, "snapshot", RunStatus.PARTIAL, NOW - timedelta(minutes=5))
    snapshot(
        catalog, "primary", "c" * 64, NOW - timedelta(minutes=5), status=PARTIAL, run_id=partial
    )
    rpo = rules(config, catalog)["rpo:primary"]
    assert not rpo.ok and rpo.value == 2 * 3600
    assert rpo.detail == (
        "newest complete snapshot on primary is 7200s old; 2 newer snapshots are not "
        f"complete: 1 PARTIAL (run {partial}), 1 ORPHANED (run {orphan})"
    )


def test_a_partial_run_counts_in_failed_runs_and_is_named(config: Config, catalog: Catalog) -> None:
    partial = complete_then_partial(catalog, complete_age=timedelta(minutes=30))
    got = rules(config, catalog)["failed_runs"]
    assert not got.ok and got.value == 1
    assert got.since == NOW - timedelta(minutes=10)
    assert got.detail == f"snapshot: 1 PARTIAL (run {partial}) since last success"
    failed = run(catalog, "snapshot", RunStatus.FAILED, NOW - timedelta(minutes=2))
    got = rules(config, catalog)["failed_runs"]
    assert got.value == 2 and got.detail == (
        f"snapshot: 1 failed and 1 PARTIAL (run {partial}) since last success"
    )
    assert failed > partial
    run(catalog, "snapshot", RunStatus.SUCCEEDED, NOW - timedelta(minutes=1))
    assert rules(config, catalog)["failed_runs"].ok


def test_a_restore_test_of_a_partial_snapshot_proves_the_restore_not_the_rpo(
    config: Config, catalog: Catalog
) -> None:
    """A partial snapshot restored fine lacks the files restic could not read: the test
    counts for the restore-test cadence and the RTO, never for the verified RPO."""
    complete_then_partial(catalog, complete_age=9 * 24 * HOUR)
    restore_test(catalog, "c" * 64, NOW - timedelta(minutes=5))  # the PARTIAL one
    got = rules(config, catalog)
    assert got["restore_test"].ok and got["rto"].ok
    verified = got["verified_rpo"]
    assert not verified.ok and verified.value is None
    assert verified.detail == "no restore test passed on a complete snapshot"
    restore_test(catalog, "a" * 64, NOW - timedelta(minutes=1))  # the complete one, old
    verified = rules(config, catalog)["verified_rpo"]
    assert not verified.ok and verified.value == 9 * 24 * 3600


def test_a_copy_holding_only_partial_snapshots_is_not_a_copy_but_is_resident(
    config: Config, catalog: Catalog
) -> None:
    taken = NOW - timedelta(minutes=20)
    good = run(catalog, "snapshot", RunStatus.SUCCEEDED, taken)
    snapshot(catalog, "primary", "a" * 64, taken, run_id=good)
    partial = run(catalog, "snapshot", RunStatus.PARTIAL, NOW - timedelta(minutes=5))
    snapshot(
        catalog, "primary", "c" * 64, NOW - timedelta(minutes=5), status=PARTIAL, run_id=partial
    )
    snapshot(catalog, "replica", "d" * 64, NOW, original="c" * 64, status=PARTIAL)
    snapshot(catalog, "abroad", "e" * 64, NOW, original="c" * 64, status=PARTIAL)
    got = rules(config, catalog)
    assert got["copies"].value["min"] == 1
    assert got["copies"].detail == (
        "short of min, media, offsite, offline; holders: primary; "
        "not counted: abroad, replica (only snapshots that are not complete)"
    )
    residency = got["residency"]
    assert not residency.ok and "abroad (FR)" in residency.detail
    rpo = got["rpo:replica"]
    assert not rpo.ok and rpo.detail == (
        f"no complete snapshot on replica; 1 snapshot is PARTIAL (run {partial})"
    )


def test_the_rpo_age_metric_is_the_newest_complete_snapshots(
    config: Config, catalog: Catalog
) -> None:
    from drorch.metrics import collect, render
    from tests.unit.metrics.conftest import parse, value

    complete_then_partial(catalog, complete_age=2 * HOUR)
    samples = parse(render(collect(config, catalog, NOW)))
    for target in ("primary", "replica"):
        age = value(samples, "drorch_rpo_age_seconds", drorch_job="app", target=target)
        assert age == 2 * 3600


def test_a_partial_snapshot_in_the_same_second_as_the_complete_one_is_named(
    config: Config, catalog: Catalog
) -> None:
    # Snapshot times are whole seconds: two runs a moment apart share one. The PARTIAL one
    # is not older than the complete one, so the RPO's detail must still name it.
    at = NOW - timedelta(minutes=20)
    good = run(catalog, "snapshot", RunStatus.SUCCEEDED, at)
    snapshot(catalog, "primary", "a" * 64, at, run_id=good)
    partial = run(catalog, "snapshot", RunStatus.PARTIAL, at)
    snapshot(catalog, "primary", "c" * 64, at, status=PARTIAL, run_id=partial)
    rpo = rules(config, catalog)["rpo:primary"]
    assert rpo.ok and rpo.value == 20 * 60
    assert rpo.detail.endswith(f"; 1 newer snapshot is PARTIAL (run {partial})")
