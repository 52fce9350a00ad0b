"""A job's scheduled drill, run by the daemon as systemd would run it: a runbook run of
no one job, by the scheduler, restored to scratch, verified, cleaned up, and sealed."""

from __future__ import annotations

from pathlib import Path

from drorch.catalog import RunStatus
from drorch.catalog.evidence import records
from tests.conftest import DRORCH_YAML, RootFactory
from tests.e2e.daemon_harness import DaemonProcess, catalog_of, runs_of, wait_for

JOB = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 2s"}
drill: {schedule: "every 3s", params: {scratch: restore/drill}}
"""

DRILL = """\
title: Drill
description: Restore the job's newest snapshot to scratch, verify it, remove it
drill: true
params:
  job: {type: job, required: true}
  scratch: {type: path, required: true}
steps:
  - {name: restore, kind: restore,
     with: {job: "{job}", snapshot: latest, from: primary, to: "{scratch}"}}
  - {name: verify, kind: verify, with: {job: "{job}", dir: "{steps.restore.dir}"}}
  - {name: cleanup, kind: cleanup, with: {dir: "{steps.restore.dir}"}}
"""


def test_the_daemon_runs_a_jobs_drill_on_its_schedule(
    make_root: RootFactory, tmp_path: Path
) -> None:
    root = make_root(
        drorch=DRORCH_YAML + "allowed_roots: [restore]\n",
        jobs={"app": JOB},
        runbooks={"drill": DRILL},
    )
    (root / "restore").mkdir()
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(
            lambda: any(r.status is RunStatus.SUCCEEDED for r in runs_of(root, "runbook")),
            60,
            "a drill that succeeded",
        )
        assert daemon.stop() == 0
    finally:
        daemon.close()
    drills = runs_of(root, "runbook")
    done = [r for r in drills if r.status is RunStatus.SUCCEEDED]
    assert done and all(r.actor == "scheduler" and r.job is None for r in done)
    assert done[0].details is not None and done[0].details["params"]["job"] == "app"
    assert not (root / "restore" / "drill").exists()
    catalog = catalog_of(root)
    try:
        sealed = [r.data for r in records(catalog) if r.kind == "runbook"]
    finally:
        catalog.close()
    first = next(r for r in sealed if r["run"] == done[0].id)
    assert (first["drill"], first["result"], first["actor"]) == (True, "pass", "scheduler")
    assert first["recovery"][0]["job"] == "app"
