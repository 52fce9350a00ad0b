"""drorch killed, terminated or crashed mid-backup, as real processes with the real restic:
restic dies with the drorch process that started it, the run it left RUNNING becomes
INTERRUPTED as soon as any drorch process looks, a snapshot restic wrote for it is listed
as ORPHANED, and no stale lock blocks what follows. Earlier snapshots are never touched."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drorch.catalog import RunStatus, SnapshotStatus
from tests.conftest import DRORCH_YAML, POLICY_YAML
from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import DaemonProcess, catalog_of, runs_of, wait_for
from tests.slow_restic import (
    gone,
    kill_leftovers,
    lock_files,
    random_file,
    real_restic,
    restic_processes,
    throttled_restic,
)

EVERY_2S = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 2s"}
"""


class Slow:
    """A config root whose restic can be slowed down: after `big_data()` and `throttle()`
    a backup (or a restore) of its 20 MB of random data takes about 20 s."""

    def __init__(self, root: Path, flag: Path) -> None:
        self.root, self.flag = root, flag
        self.repo = root / "repos" / "primary"

    def big_data(self) -> None:
        random_file(self.root / "data" / "big.bin", 20)

    def throttle(self) -> None:
        self.flag.touch()

    def unthrottle(self) -> None:
        self.flag.unlink(missing_ok=True)

    def restic_started(self) -> list[int]:
        """Wait until restic works on the repository and holds its lock; its pids."""
        found = wait_for(lambda: restic_processes(self.repo), 30, "restic backing up")
        wait_for(lambda: lock_files(self.repo), 10, "restic's lock")
        return [proc.pid for proc in found]  # type: ignore[attr-defined]

    def drorch(self, *args: str) -> subprocess.Popen[str]:
        """`drorch ARGS` started as a process of its own, to be killed."""
        return subprocess.Popen(
            [sys.executable, "-m", "drorch", "--config", str(self.root), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def slow(make_root, tmp_path: Path) -> Iterator[Slow]:  # type: ignore[no-untyped-def]
    binary, flag = throttled_restic(tmp_path / "bin")
    root = make_root(
        drorch=DRORCH_YAML + f"restic: {{binary: {binary}}}\n",
        policies={"standard": POLICY_YAML + "retention: {daily: 7}\n"},
    )
    slow = Slow(root, flag)
    yield slow
    kill_leftovers(slow.repo)


def newest_run(cli: Cli, root: Path) -> dict[str, Any]:
    runs: list[dict[str, Any]] = as_json(cli("runs", "--json", root=root, check_rc=0))
    return runs[0]


def restic_snapshot_ids(root: Path) -> set[str]:
    done = subprocess.run(
        [real_restic(), "--repo", str(root / "repos" / "primary"), "snapshots", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(root / "keys" / "primary.pass")},
    )
    return {s["id"] for s in json.loads(done.stdout)}


@pytest.mark.heavy
def test_sigkill_of_drorch_run_takes_restic_with_it(cli: Cli, slow: Slow) -> None:
    first = as_json(cli("run", "app", "--json", root=slow.root, check_rc=0))
    slow.big_data()
    slow.throttle()
    drorch = slow.drorch("run", "app")
    restic = slow.restic_started()
    drorch.kill()
    drorch.wait(10)
    wait_for(lambda: all(gone(pid) for pid in restic), 5, f"restic {restic} to die with drorch")
    slow.unthrottle()
    # The next drorch process that looks finds the run's process gone.
    assert restic_snapshot_ids(slow.root) == {first["snapshot_id"]}, "restic went on"
    run = newest_run(cli, slow.root)
    assert (run["id"], run["status"]) == (first["id"] + 1, "INTERRUPTED")
    assert f"(pid {drorch.pid}) ended without finishing it" in run["error"]
    status = as_json(cli("status", "--json", root=slow.root, check_rc=0))
    assert status["running"] == []
    # Its lock (restic was SIGKILLed) blocks neither check nor prune.
    cli("run", "app", "check", root=slow.root, check_rc=0)
    cli("run", "app", "prune", root=slow.root, check_rc=0)
    assert lock_files(slow.repo) == []
    assert restic_snapshot_ids(slow.root) == {first["snapshot_id"]}
    listed = as_json(cli("snapshots", "--json", root=slow.root, check_rc=0))
    assert [s["id"] for s in listed] == [first["snapshot_id"]]


def terminate_while_restic_runs(slow: Slow, *args: str) -> str:
    """Start `drorch ARGS`, SIGTERM it while restic holds its lock; what it printed."""
    drorch = slow.drorch(*args)
    restic = slow.restic_started()
    drorch.send_signal(signal.SIGTERM)
    out, err = drorch.communicate(timeout=60)
    assert drorch.returncode == 143, (out, err)
    assert "drorch: terminated by SIGTERM" in err
    assert all(gone(pid) for pid in restic)
    assert lock_files(slow.repo) == []  # restic had its SIGINT and removed its own lock
    return out


@pytest.mark.heavy
def test_sigterm_to_drorch_run_cancels_the_run(cli: Cli, slow: Slow) -> None:
    cli("run", "app", root=slow.root, check_rc=0)
    slow.big_data()
    slow.throttle()
    assert "snapshot of app CANCELED" in terminate_while_restic_runs(slow, "run", "app")
    assert newest_run(cli, slow.root)["status"] == "CANCELED"


@pytest.mark.heavy
def test_sigterm_to_drorch_restore_cancels_the_run(cli: Cli, slow: Slow, tmp_path: Path) -> None:
    slow.big_data()
    cli("run", "app", root=slow.root, check_rc=0)
    slow.throttle()
    out = terminate_while_restic_runs(slow, "restore", "app", "--to", str(tmp_path / "to"))
    assert "restore of app CANCELED" in out
    assert newest_run(cli, slow.root)["status"] == "CANCELED"


@pytest.mark.heavy
def test_a_killed_daemon_takes_its_restic_with_it(cli: Cli, slow: Slow, tmp_path: Path) -> None:
    (slow.root / "jobs" / "app.yaml").write_text(EVERY_2S)
    first = as_json(cli("run", "app", "--json", root=slow.root, check_rc=0))
    slow.big_data()
    slow.throttle()
    daemon = DaemonProcess(slow.root, tmp_path)
    try:
        daemon.wait_ready()
        restic = slow.restic_started()
        daemon.signal(signal.SIGKILL)
        daemon.proc.wait(10)
    finally:
        daemon.close()
    wait_for(lambda: all(gone(pid) for pid in restic), 5, f"restic {restic} to die with the daemon")
    slow.unthrottle()
    status = as_json(cli("status", "--json", root=slow.root, check_rc=0))
    assert status["running"] == []
    run = newest_run(cli, slow.root)
    assert run["status"] == "INTERRUPTED"
    assert f"(pid {daemon.proc.pid}) ended without finishing it" in run["error"]
    cli("run", "app", "check", root=slow.root, check_rc=0)
    assert restic_snapshot_ids(slow.root) == {first["snapshot_id"]}


YEARLY = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "0 0 1 1 *"}
"""


@pytest.mark.heavy
def test_a_running_daemon_notices_a_killed_drorch_run(cli: Cli, slow: Slow, tmp_path: Path) -> None:
    (slow.root / "jobs" / "app.yaml").write_text(YEARLY)
    cli("run", "app", root=slow.root, check_rc=0)
    daemon = DaemonProcess(slow.root, tmp_path)
    try:
        daemon.wait_ready()
        slow.big_data()
        slow.throttle()
        drorch = slow.drorch("run", "app")
        slow.restic_started()
        drorch.kill()
        drorch.wait(10)
        # No command is run: the daemon's heartbeat notices (runs_of only reads).
        wait_for(
            lambda: runs_of(slow.root)[-1].status is RunStatus.INTERRUPTED,
            30,
            "the daemon to mark the killed run INTERRUPTED",
        )
        assert daemon.stop() == 0
    finally:
        daemon.close()
    [killed] = [r for r in runs_of(slow.root) if r.pid == drorch.pid]
    assert "found by the daemon" in (killed.error or "")
    assert f"run {killed.id} (snapshot of app, pid {drorch.pid})" in daemon.output()


# -- a snapshot restic wrote for a run that never finished ----------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def snapshot_for_a_dead_run(root: Path) -> tuple[int, str]:
    """What a `drorch run` killed after restic wrote its snapshot leaves: a RUNNING run of a
    process that is gone, and a snapshot tagged with that run in the repository."""
    catalog = catalog_of(root)
    try:
        run = catalog.create_run(
            job="app",
            action="snapshot",
            target="primary",
            host=socket.gethostname(),
            pid=dead_pid(),
            actor="test",
        )
    finally:
        catalog.close()
    repo, tags = str(root / "repos" / "primary"), f"drorch,job:app,run:{run.id}"
    done = subprocess.run(
        [real_restic(), "--repo", repo, "backup", "--json", "--tag", tags, str(root / "data")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(root / "keys" / "primary.pass")},
    )
    summary = json.loads(done.stdout.splitlines()[-1])
    [snapshot_id] = [s for s in restic_snapshot_ids(root) if s.startswith(summary["snapshot_id"])]
    return run.id, snapshot_id


def test_a_snapshot_written_for_a_dead_run_is_listed_as_orphaned(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    first = as_json(cli("run", "app", "--json", root=root, check_rc=0))
    run_id, orphan = snapshot_for_a_dead_run(root)
    listed = as_json(cli("snapshots", "--json", root=root, check_rc=0))
    assert [s["id"] for s in listed] == [first["snapshot_id"], orphan]
    catalog = catalog_of(root)
    try:
        [record] = [s for s in catalog.snapshots() if s.snapshot_id == orphan]
        run = catalog.run(run_id)
    finally:
        catalog.close()
    assert (record.status, record.run_id, record.job) == (SnapshotStatus.ORPHANED, run_id, "app")
    assert run is not None and run.status is RunStatus.INTERRUPTED
    assert f"snapshot {orphan[:8]} it wrote is listed as ORPHANED" in (run.error or "")


def test_a_dead_run_whose_repository_cannot_be_read_says_so(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    cli("run", "app", root=root, check_rc=0)
    run_id, _ = snapshot_for_a_dead_run(root)
    (root / "keys" / "primary.pass").write_text("not the password\n")
    run = newest_run(cli, root)
    assert (run["id"], run["status"]) == (run_id, "INTERRUPTED")
    assert "could not look for snapshots it may have written to target 'primary'" in run["error"]
    assert "wrong password" in run["error"]


RESTORE_RUNBOOK = """\
title: Restore app
description: Restore app into a folder
params:
  destination: {type: path, required: true}
steps:
  - {name: restore, kind: restore,
     with: {job: app, snapshot: latest, from: primary, to: "{destination}"}}
"""


def restore_runbook_ready(cli: Cli, slow: Slow, tmp_path: Path) -> None:
    """The `restore` runbook (restoring under tmp_path), 20 MB of data snapshotted, restic
    throttled: a restore step that takes about 20 s."""
    with (slow.root / "drorch.yaml").open("a") as config:
        config.write(f"allowed_roots: [{tmp_path}]\n")
    (slow.root / "runbooks" / "restore.yaml").write_text(RESTORE_RUNBOOK)
    slow.big_data()
    cli("run", "app", root=slow.root, check_rc=0)
    slow.throttle()


@pytest.mark.heavy
def test_sigterm_to_a_runbook_run_leaves_it_resumable_and_nothing_half_restored(
    cli: Cli, slow: Slow, tmp_path: Path
) -> None:
    restore_runbook_ready(cli, slow, tmp_path)
    destination = tmp_path / "to"
    terminate_while_restic_runs(
        slow, "runbook", "run", "restore", "--param", f"destination={destination}"
    )
    assert list(tmp_path.glob("*to*")) == []  # neither the folder nor a partial one
    [run] = as_json(cli("runbook", "history", "--json", root=slow.root, check_rc=0))
    assert run["status"] == "INTERRUPTED"
    slow.unthrottle()
    resumed = as_json(cli("runbook", "resume", run["run"], "--json", root=slow.root, check_rc=0))
    assert resumed["status"] == "SUCCEEDED"
    assert [s["attempts"] for s in resumed["steps"]] == [2]
    assert (destination / (slow.root / "data" / "big.bin").relative_to("/")).stat().st_size
