"""prune and check with the real restic on real repositories."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drorch.catalog import RunRecord, RunStatus
from drorch.locks import repository_lock_name, resource_lock
from tests.conftest import JOB_YAML, POLICY_YAML
from tests.integration.conftest import Env

Clock = Callable[[datetime], None]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Set the time runs see (snapshot times come from it); the catalog's own clock stays."""
    now = [datetime(2024, 3, 1, tzinfo=UTC)]
    monkeypatch.setattr("drorch.actions.lifecycle.utc_now", lambda: now[0])

    def set_to(moment: datetime) -> None:
        now[0] = moment

    yield set_to


def restic_snapshots(env: Env) -> list[dict[str, object]]:
    spec = env.config.targets["primary"]
    done = subprocess.run(
        ["restic", "--repo", str(spec.path), "snapshots", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(spec.password_file)},
        check=True,
    )
    return list(json.loads(done.stdout))


def snapshot_at(env: Env, clock: Clock, moment: datetime, job: str = "app") -> RunRecord:
    clock(moment)
    run = env.run(job)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.snapshot_id is not None
    return run


def at(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def with_retention(retention: str) -> dict[str, str]:
    return {"standard": POLICY_YAML + f"retention: {retention}\n"}


def test_prune_forgets_what_the_retention_does_not_keep(
    make_env: Callable[..., Env], clock: Clock
) -> None:
    env = make_env(policies=with_retention("{daily: 2}"))
    runs = [
        snapshot_at(env, clock, moment)
        for moment in (at(1, 10), at(1, 11), at(2, 9), at(2, 10), at(3, 8))
    ]
    # daily: 2 keeps the newest snapshot of each of the two newest days.
    kept = {runs[3].snapshot_id, runs[4].snapshot_id}
    removed = [runs[2].snapshot_id, runs[1].snapshot_id, runs[0].snapshot_id]

    run = env.run(action="prune")

    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.details is not None
    assert run.details["summary"] == "forgot 3 of 5 snapshots, pruned"
    assert run.details["removed"] == removed
    assert run.details["kept"] == 2
    assert run.details["retention"] == {"daily": 2}
    assert {s["id"] for s in restic_snapshots(env)} == kept
    assert {s.snapshot_id for s in env.catalog.snapshots(job="app")} == kept
    assert run.target == "primary"


def test_keep_within_is_a_safety_floor_counted_from_the_newest_snapshot(
    make_env: Callable[..., Env], clock: Clock
) -> None:
    env = make_env(policies=with_retention("{daily: 1, within: 36h}"))
    runs = [snapshot_at(env, clock, moment) for moment in (at(1, 10), at(2, 9), at(3, 8))]

    run = env.run(action="prune")

    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.details is not None
    # daily: 1 alone keeps only day 3; within 36h of day 3 08:00 also keeps day 2 09:00.
    assert run.details["removed"] == [runs[0].snapshot_id]
    assert run.details["retention"] == {"daily": 1, "within": "1d12h"}
    assert {s["id"] for s in restic_snapshots(env)} == {runs[1].snapshot_id, runs[2].snapshot_id}


def test_prune_of_one_job_never_touches_another_jobs_snapshots(
    make_env: Callable[..., Env], clock: Clock
) -> None:
    env = make_env(jobs={"app": JOB_YAML, "other": JOB_YAML}, policies=with_retention("{daily: 1}"))
    mine = [snapshot_at(env, clock, at(1, hour)) for hour in (8, 9, 10)]
    theirs = [snapshot_at(env, clock, at(1, hour), job="other") for hour in (11, 12)]

    run = env.run(action="prune")

    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.details is not None and run.details["kept"] == 1
    listed = {s["id"] for s in restic_snapshots(env)}
    assert listed == {mine[2].snapshot_id, *(r.snapshot_id for r in theirs)}
    assert [s.snapshot_id for s in env.catalog.snapshots(job="other")] == [
        r.snapshot_id for r in theirs
    ]
    assert [s.snapshot_id for s in env.catalog.snapshots(job="app")] == [mine[2].snapshot_id]


def test_prune_refuses_a_retention_that_keeps_nothing(
    make_env: Callable[..., Env], clock: Clock
) -> None:
    env = make_env()  # the default policy has no retention
    runs = [snapshot_at(env, clock, at(1, hour)) for hour in (8, 9)]

    run = env.run(action="prune")

    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "policy 'standard' has no retention" in run.error
    assert "refusing to prune" in run.error
    assert {s["id"] for s in restic_snapshots(env)} == {r.snapshot_id for r in runs}
    assert len(env.catalog.snapshots(job="app")) == 2


def test_check_passes_on_a_fresh_repository(env: Env) -> None:
    assert env.run().status is RunStatus.SUCCEEDED

    run = env.run(action="check")

    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.details is not None
    assert run.details["read_data_subset"] is None
    assert run.details["summary"] == "no errors in primary"
    artifacts = sorted(p.name for p in Path(run.artifacts or "").iterdir())
    assert [name for name in artifacts if name.endswith("-check.json")] != []


def test_check_rotates_the_data_subset_over_runs(make_env: Callable[..., Env]) -> None:
    job = JOB_YAML + 'check: {read_data_subset: "1/3"}\n'
    env = make_env(jobs={"app": job})
    assert env.run().status is RunStatus.SUCCEEDED

    subsets = []
    for _ in range(4):
        run = env.run(action="check")
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert run.details is not None
        subsets.append(run.details["read_data_subset"])

    assert subsets == ["1/3", "2/3", "3/3", "1/3"]
    argv = json.loads(next(Path(run.artifacts or "").glob("*-check.json")).read_text())["argv"]
    assert argv[-2:] == ["--read-data-subset", "1/3"]


@pytest.mark.parametrize("action", ["prune", "check"])
def test_a_held_repository_lock_fails_the_run_without_touching_restic(
    make_env: Callable[..., Env], clock: Clock, action: str
) -> None:
    env = make_env(policies=with_retention("{daily: 1}"))
    runs = [snapshot_at(env, clock, at(1, 8))]

    with resource_lock(env.catalog, repository_lock_name("primary"), purpose="replication"):
        run = env.run(action=action)

    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith("replication: already running (pid ")
    assert {s["id"] for s in restic_snapshots(env)} == {r.snapshot_id for r in runs}
    assert len(env.catalog.snapshots(job="app")) == 1
    assert not list(Path(run.artifacts or "").glob("*.json"))
    # and once the lock is free, the run goes through
    assert env.run(action=action).status is RunStatus.SUCCEEDED
