"""Replication between disk targets with the real restic."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
import types
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psutil

from drorch.actions import request_for
from drorch.catalog import RunStatus, utc_now
from drorch.catalog.facts import replication_lags
from tests.conftest import DRORCH_YAML
from tests.integration.conftest import Env

REPLICATED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
replicate: [{to: replica}]
"""


def restic(env: Env, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    spec = env.config.targets[target]
    return subprocess.run(
        ["restic", "--repo", str(spec.path), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(spec.password_file)},
        check=False,
    )


def replicate(env: Env, to: str = "replica", **kwargs: object):  # type: ignore[no-untyped-def]
    from drorch.actions import ACTIONS, execute

    return execute(
        env.config, env.catalog, request_for("app", f"replicate:{to}", **kwargs), ACTIONS
    )


def test_copy_maps_ids_and_records_where_the_data_went(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": REPLICATED})
    snap = env.run()
    run = replicate(env)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.action, run.target) == ("replicate:replica", "replica")
    assert run.details is not None
    assert (run.details["site"], run.details["jurisdiction"]) == ("dc2", "ML")
    [copy] = json.loads(restic(env, "replica", "snapshots", "--json").stdout)
    assert copy["original"] == snap.snapshot_id
    assert run.details["copied"] == [copy["id"]]
    [source] = json.loads(restic(env, "primary", "snapshots", "--json").stdout)
    assert copy["tree"] == source["tree"]
    [record] = env.catalog.snapshots(target="replica")
    assert (record.snapshot_id, record.original_id) == (copy["id"], snap.snapshot_id)
    assert record.canary_sha256 == env.catalog.snapshots(target="primary")[0].canary_sha256
    # the destination splits files like its source, so copies deduplicate
    chunker = [
        json.loads(restic(env, t, "cat", "config").stdout)["chunker_polynomial"]
        for t in ("primary", "replica")
    ]
    assert chunker[0] == chunker[1]
    assert restic(env, "replica", "check").returncode == 0


def lag(env: Env) -> timedelta | None:
    """The age of app's newest snapshot not yet on replica (None: in step)."""
    return replication_lags(env.catalog, [("app", "primary", "replica")], utc_now()).get(
        ("app", "replica")
    )


def test_second_copy_copies_only_the_new_snapshot(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": REPLICATED})
    env.run()
    assert replicate(env).status is RunStatus.SUCCEEDED
    (env.root / "data" / "new.txt").write_text("new\n")
    second = env.run()
    assert lag(env) is not None
    run = replicate(env)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.details is not None and len(run.details["copied"]) == 1
    copies = json.loads(restic(env, "replica", "snapshots", "--json").stdout)
    assert len(copies) == 2
    assert {c["original"] for c in copies} == {
        s.snapshot_id for s in env.catalog.snapshots(target="primary")
    }
    assert second.snapshot_id in {r.original_id for r in env.catalog.snapshots(target="replica")}
    assert lag(env) is None
    again = replicate(env)
    assert again.details is not None and again.details["copied"] == []


def test_residency_is_enforced_again_at_run_time(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": REPLICATED})
    env.run()
    policy = env.config.policies["standard"]
    # The config changed underneath: the policy now only allows France.
    env.config = dataclasses.replace(
        env.config,
        policies=types.MappingProxyType(
            {"standard": policy.model_copy(update={"residency": ("FR",)})}
        ),
    )
    run = replicate(env)
    assert run.status is RunStatus.FAILED
    assert run.error == (
        "job app: target 'replica' is in jurisdiction ML, outside policy "
        "'standard' residency (FR); refusing to copy"
    )
    assert not (env.root / "repos" / "replica").exists()


def test_wrong_destination_password_then_fixed(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": REPLICATED})
    env.run()
    assert replicate(env).status is RunStatus.SUCCEEDED
    password = env.config.targets["replica"].password_file
    good = password.read_text()
    password.write_text("wrong\n")
    env.run()
    run = replicate(env)
    assert run.status is RunStatus.FAILED
    assert "wrong password" in (run.error or "")
    assert len(env.catalog.snapshots(target="replica")) == 1
    password.write_text(good)
    fixed = replicate(env)
    assert fixed.status is RunStatus.SUCCEEDED, fixed.error
    assert len(env.catalog.snapshots(target="replica")) == 2


def test_interrupted_copy_leaves_a_valid_destination_and_resumes(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(jobs={"app": REPLICATED})
    with (env.root / "data" / "big.bin").open("wb") as handle:
        for _ in range(300):
            handle.write(os.urandom(1024 * 1024))
    assert env.run().status is RunStatus.SUCCEEDED
    assert replicate(env).status is RunStatus.SUCCEEDED  # creates the destination
    (env.root / "data" / "big.bin").write_bytes(os.urandom(300 * 1024 * 1024))
    assert env.run().status is RunStatus.SUCCEEDED
    cancel = threading.Event()

    def cancel_when_copying() -> None:
        replica = str(env.root / "repos" / "replica")  # this test's copy, not another's
        for _ in range(600):
            for proc in psutil.process_iter(["name", "cmdline"]):
                cmdline = proc.info["cmdline"] or []
                if proc.info["name"] == "restic" and "copy" in cmdline and replica in cmdline:
                    cancel.wait(1.0)
                    cancel.set()
                    return
            cancel.wait(0.05)

    watcher = threading.Thread(target=cancel_when_copying)
    watcher.start()
    run = replicate(env, cancel=cancel)
    watcher.join()
    assert run.status is RunStatus.CANCELED, (run.status, run.error)
    assert restic(env, "replica", "check").returncode == 0
    assert list((env.root / "repos" / "replica" / "locks").iterdir()) == []
    resumed = replicate(env)
    assert resumed.status is RunStatus.SUCCEEDED, resumed.error
    assert len(json.loads(restic(env, "replica", "snapshots", "--json").stdout)) == 2
    assert restic(env, "replica", "check").returncode == 0


def test_tape_destinations_are_scheduled(make_env: Callable[..., Env]) -> None:
    from drorch.actions import can_run

    drorch = DRORCH_YAML + (
        "  vault: {kind: tape, virtual: {path: vtl, capacity: 10MiB}, pool: weekly,\n"
        "          password_file: keys/replica.pass, site: dc1, jurisdiction: ML}\n"
    )
    env = make_env(drorch=drorch, jobs={"app": REPLICATED.replace("{to: replica}", "{to: vault}")})
    assert can_run(env.config)("app", "replicate:vault")  # tests/integration/test_tape_out.py
    assert can_run(env.config)("app", "snapshot")


def test_cli_replicates_and_lists_both_targets(make_root: Callable[..., Path]) -> None:
    import sys

    root = make_root(jobs={"app": REPLICATED})
    cli = [sys.executable, "-m", "drorch", "--config", str(root)]
    subprocess.run([*cli, "run", "app"], check=True, capture_output=True)
    done = subprocess.run(
        [*cli, "run", "app", "replicate"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "copied 1 new snapshot(s) to replica (dc2, ML)" in done.stdout
    table = subprocess.run([*cli, "snapshots"], capture_output=True, text=True, check=True).stdout
    [original, copy] = [line.split() for line in table.splitlines()[1:]]
    assert (original[4], copy[4], copy[5]) == ("primary", "replica", original[0])  # copy of
    bad = subprocess.run(
        [*cli, "run", "app", "replicate", "--to", "nowhere"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "job app does not replicate to 'nowhere' (it replicates to: replica)" in bad.stderr
