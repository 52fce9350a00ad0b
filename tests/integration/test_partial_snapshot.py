"""A PARTIAL snapshot with the real restic (issue 10, defect 2): listed, never good.

restic 0.14 exits 3 when it cannot read a source file. Root reads any file whatever its
mode, but nobody can read /proc/self/mem at offset 0 (restic reads its own memory there
and gets EIO), so a source naming it makes the real restic write a partial snapshot, as
root and as any other user.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drorch.actions import ACTIONS, RestoreOptions, RestoreTestOptions, execute, request_for
from drorch.actions.restore import find_snapshot
from drorch.catalog import RunRecord, RunStatus, SnapshotStatus, utc_now
from drorch.errors import UnknownSnapshot
from drorch.policy import RuleResult, evaluate
from tests.integration.conftest import Env

JOB = """\
policy: standard
source: {paths: [%s]}
snapshot: {target: primary}
replicate: [{to: replica}]
restore_test: {from: [primary, replica], verify: [restic, canary]}
"""
UNREADABLE = "/proc/self/mem"  # EIO on read for everyone, root included


def readable(env: Env) -> None:
    (env.root / "jobs" / "app.yaml").write_text(JOB % "data", encoding="utf-8")
    env.reload()


def unreadable(env: Env) -> None:
    (env.root / "jobs" / "app.yaml").write_text(JOB % f"data, {UNREADABLE}", encoding="utf-8")
    env.reload()


def rules(env: Env) -> dict[str, RuleResult]:
    [job] = evaluate(env.config, env.catalog, utc_now())
    return {r.rule: r for r in job.rules}


def replicate(env: Env) -> RunRecord:
    return execute(env.config, env.catalog, request_for("app", "replicate:replica"), ACTIONS)


def statuses(env: Env, target: str) -> list[tuple[str | None, SnapshotStatus]]:
    return [(s.original_id, s.status) for s in env.catalog.snapshots(target=target)]


def test_a_partial_snapshot_alone_satisfies_no_rpo(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": JOB % f"data, {UNREADABLE}"})
    partial = env.run()
    assert partial.status is RunStatus.PARTIAL, partial.error
    [snapshot] = env.catalog.snapshots()
    assert (snapshot.snapshot_id, snapshot.status) == (partial.snapshot_id, SnapshotStatus.PARTIAL)

    got = rules(env)
    assert not got["rpo:primary"].ok
    assert got["rpo:primary"].detail == (
        f"no complete snapshot on primary; 1 snapshot is PARTIAL (run {partial.id})"
    )
    assert not got["failed_runs"].ok
    assert got["failed_runs"].detail == (
        f"snapshot: 1 PARTIAL (run {partial.id}) since last success"
    )

    assert replicate(env).status is RunStatus.SUCCEEDED
    assert statuses(env, "replica") == [(partial.snapshot_id, SnapshotStatus.PARTIAL)]
    got = rules(env)
    assert got["rpo:replica"].detail == (
        f"no complete snapshot on replica; 1 snapshot is PARTIAL (run {partial.id})"
    )
    for target in ("primary", "replica"):
        with pytest.raises(UnknownSnapshot, match=f"no complete snapshot on target '{target}'"):
            find_snapshot(env.catalog, "app", target, "latest")


def test_latest_is_the_newest_complete_snapshot(
    make_env: Callable[..., Env], tmp_path: Path
) -> None:
    env = make_env(jobs={"app": JOB % "data"})
    complete = env.run()
    assert complete.status is RunStatus.SUCCEEDED, complete.error
    unreadable(env)
    partial = env.run()
    assert partial.status is RunStatus.PARTIAL, partial.error

    got = rules(env)
    assert got["rpo:primary"].detail.startswith("newest complete snapshot on primary is ")
    assert got["rpo:primary"].detail.endswith(f"; 1 newer snapshot is PARTIAL (run {partial.id})")
    assert not got["failed_runs"].ok
    assert f"(run {partial.id})" in got["failed_runs"].detail

    latest = env.run(action="restore", options=RestoreOptions(to=tmp_path / "latest"))
    assert latest.status is RunStatus.SUCCEEDED, latest.error
    assert latest.snapshot_id == complete.snapshot_id
    assert not (tmp_path / "latest" / UNREADABLE.lstrip("/")).exists()

    tested = env.run(action="restore-test", options=RestoreTestOptions(from_target="primary"))
    assert tested.snapshot_id == complete.snapshot_id

    chosen = env.run(
        action="restore",
        options=RestoreOptions(to=tmp_path / "chosen", snapshot=(partial.snapshot_id or "")[:8]),
    )
    assert chosen.status is RunStatus.SUCCEEDED, chosen.error
    assert chosen.snapshot_id == partial.snapshot_id
    assert chosen.details is not None and "PARTIAL" in chosen.details["summary"]

    readable(env)
    assert replicate(env).status is RunStatus.SUCCEEDED
    # Both runs may fall in one second (snapshot times are whole seconds), and restic lists
    # copies of the same time in no set order: each copy is checked, not their order.
    held_on_replica = statuses(env, "replica")
    assert len(held_on_replica) == 2
    assert set(held_on_replica) == {
        (complete.snapshot_id, SnapshotStatus.COMPLETE),
        (partial.snapshot_id, SnapshotStatus.PARTIAL),
    }
    from_replica = env.run(
        action="restore",
        options=RestoreOptions(to=tmp_path / "replica", from_target="replica"),
    )
    assert from_replica.status is RunStatus.SUCCEEDED, from_replica.error
    [copy] = [s for s in env.catalog.snapshots(target="replica") if s.complete]
    assert from_replica.snapshot_id == copy.snapshot_id
    held = [s.status for s in env.catalog.snapshots()]
    assert held.count(SnapshotStatus.PARTIAL) == 2 and len(held) == 4
