"""The runbook engine with real restic: a restore runbook end to end, resume after a failed
step, four eyes, Ctrl-C during a restore, a drill, and the recovery of a site's jobs in
the order of their RTO — each checked in the catalog and in the signed evidence."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drorch.actions import ACTIONS, execute, request_for
from drorch.catalog import RunStatus, open_catalog
from drorch.catalog.evidence import records
from drorch.catalog.models import StepStatus
from drorch.config import load_config
from drorch.errors import UsageError
from drorch.runbooks import Operator, abort, approve, dry_run, history, resume, start
from tests.conftest import DRORCH_YAML, JOB_YAML
from tests.integration.conftest import Env

ALLOWED = "allowed_roots: [restore]\n"

RESTORE = """\
title: Restore app
description: Restore app to a folder and verify it
params:
  destination: {type: path, required: true}
  snapshot: {type: snapshot, default: latest}
steps:
  - {name: restore, kind: restore,
     with: {job: app, snapshot: "{snapshot}", from: primary, to: "{destination}"}}
  - {name: verify, kind: verify, with: {job: app, dir: "{steps.restore.dir}"}}
"""

GATED = """\
title: Gated restore
description: Restore app once a second person approved, after a check that may fail
params:
  destination: {type: path, required: true}
steps:
  - {name: gate, kind: command, with: {argv: [test, -e, marker]}}
  - {name: approve, kind: approve, with: {role: data owner}}
  - {name: restore, kind: restore,
     with: {job: app, snapshot: latest, from: primary, to: "{destination}"}}
"""

DRILL = """\
title: Drill app
description: Restore app to scratch, verify it, remove it
drill: true
params:
  scratch: {type: path, required: true}
steps:
  - {name: restore, kind: restore,
     with: {job: app, snapshot: latest, from: replica, to: "{scratch}"}}
  - {name: verify, kind: verify, with: {job: app, dir: "{steps.restore.dir}"}}
  - {name: cleanup, kind: cleanup, with: {dir: "{steps.restore.dir}"}}
"""

SITE = """\
title: Recover a site
description: Restore every job of a site, shortest RTO first, and verify each
params:
  site: {type: string, default: dc1}
  destination: {type: path, required: true}
steps:
  - {name: restore, kind: restore, each_job: "{site}",
     with: {job: "{job}", snapshot: latest, from: primary, to: "{destination}/{job}"}}
  - {name: verify, kind: verify, each_job: "{site}",
     with: {job: "{job}", dir: "{steps.restore.dir}", checks: [canary, listing]}}
"""

SLOW_POLICY = "rpo: 1h\nrto: 8h\nresidency: [ML]\n"
FAST_POLICY = "rpo: 1h\nrto: 30m\nresidency: [ML]\n"


@pytest.fixture
def runbook_env(
    make_root: Callable[..., Path], catalog_url: str, restic_bin: str
) -> Iterator[Callable[..., Env]]:
    """A config root with the runbooks given and a first snapshot of app; its catalog on
    SQLite and on PostgreSQL (a runbook run writes rows SQLite alone would forgive)."""
    made: list[Env] = []

    def factory(**runbooks: str) -> Env:
        job = JOB_YAML + "replicate: [{to: replica}]\n"
        drorch = DRORCH_YAML + ALLOWED + f'catalog: "{catalog_url}"\n'
        root = make_root(drorch=drorch, jobs={"app": job}, runbooks=runbooks)
        config = load_config(root)
        env = Env(root, config, open_catalog(catalog_url, config.state_dir))
        made.append(env)
        (env.root / "restore").mkdir()
        run = env.run()
        assert run.status is RunStatus.SUCCEEDED, run.error
        return env

    yield factory
    for env in made:
        env.catalog.close()


def operator_named(name: str = "alice", **kwargs: Any) -> Operator:
    return Operator(name, **kwargs)


def _tree(root: Path) -> dict[str, str]:
    """Every file's hash; but SQLite's -shm, the WAL's index in shared memory, which any
    reader updates (the catalog and its -wal are compared)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "d"
        for p in sorted(root.rglob("*"))
        if not p.is_symlink() and not p.name.endswith("-shm")
    }


def _evidence(env: Env) -> list[dict[str, Any]]:
    return [r.data for r in records(env.catalog) if r.kind == "runbook"]


def test_a_restore_runbook_restores_verifies_and_is_sealed(
    runbook_env: Callable[..., Env],
) -> None:
    env = runbook_env(restore=RESTORE)
    destination = env.root / "restore" / "app"
    said: list[str] = []
    done = start(
        env.config, env.catalog, "restore", {"destination": str(destination)},
        operator_named(say=said.append),
    )  # fmt: skip
    assert done.status is RunStatus.SUCCEEDED, done.run.error
    restored = destination / env.root.relative_to("/") / "data" / "hello.txt"
    assert restored.read_text() == "hello drorch\n"
    verify = done.step("verify").latest
    assert verify is not None and verify.outputs is not None
    assert {c["name"]: c["passed"] for c in verify.outputs["checks"]} == {
        "restic": True,
        "canary": True,
        "listing": True,
    }
    assert not [p for p in (env.root / "restore").iterdir() if p.name.startswith(".")]
    [record] = _evidence(env)
    assert record["result"] == "pass" and record["actor"] == "alice"
    assert (
        record["runbook"]["sha256"]
        == hashlib.sha256((env.root / "runbooks" / "restore.yaml").read_bytes()).hexdigest()
    )
    [row] = record["recovery"]
    assert row["job"] == "app" and row["rto_s"] == 4 * 3600 and row["within"] is True
    assert done.details["evidence_seq"] == record["seq"]
    assert [v.id for v in history(env.catalog, "restore")] == [done.id]
    assert any("step 1/2 restore" in line for line in said)


def test_a_dry_run_changes_nothing_and_names_the_snapshot(runbook_env: Callable[..., Env]) -> None:
    env = runbook_env(restore=RESTORE)
    before = _tree(env.root)
    plan = dry_run(
        env.config, env.catalog, "restore", {"destination": str(env.root / "restore/x")},
        operator_named(),
    )  # fmt: skip
    assert _tree(env.root) == before
    [snapshot] = env.catalog.snapshots(job="app", target="primary")
    assert plan.ok and snapshot.short_id in plan.steps[0].does
    assert "absent: made" in plan.steps[0].does
    assert history(env.catalog) == []


def test_a_failed_step_stops_the_run_and_resume_goes_on_from_it(
    runbook_env: Callable[..., Env],
) -> None:
    env = runbook_env(gated=GATED)
    destination = str(env.root / "restore" / "gated")
    failed = start(env.config, env.catalog, "gated", {"destination": destination}, operator_named())
    assert failed.status is RunStatus.FAILED
    assert failed.run.error is not None and failed.run.error.startswith("step gate failed")
    (env.root / "marker").write_text("")
    waiting = resume(env.config, env.catalog, failed.id, operator_named())
    assert waiting.status is RunStatus.WAITING
    gate = waiting.step("gate")
    assert (gate.attempts, gate.status) == (2, StepStatus.SUCCEEDED)
    with pytest.raises(UsageError, match="waits at step approve"):
        resume(env.config, env.catalog, failed.id, operator_named())
    with pytest.raises(UsageError, match="four eyes: alice started run"):
        approve(env.config, env.catalog, failed.id, "approve", operator_named())
    approve(env.config, env.catalog, failed.id, "approve", operator_named("bob"))
    done = resume(env.config, env.catalog, failed.id, operator_named())
    assert done.status is RunStatus.SUCCEEDED, done.run.error
    records = _evidence(env)
    assert [r["result"] for r in records] == ["fail", "pass"]
    assert records[-1]["approvals"][0]["by"] == "bob"
    assert [s["attempts"] for s in records[-1]["steps"]] == [2, 1, 1]


def test_an_approver_outside_the_named_ones_is_refused(runbook_env: Callable[..., Env]) -> None:
    env = runbook_env(gated=GATED.replace("{role: data owner}", "{who: [carol]}"))
    (env.root / "marker").write_text("")
    run = start(
        env.config, env.catalog, "gated", {"destination": str(env.root / "restore/g")},
        operator_named(),
    )  # fmt: skip
    with pytest.raises(UsageError, match="approved by carol, not bob"):
        approve(env.config, env.catalog, run.id, "approve", operator_named("bob"))
    aborted = abort(env.config, env.catalog, run.id, operator_named("bob"), "not today")
    assert aborted.status is RunStatus.CANCELED
    assert aborted.step("approve").status is StepStatus.CANCELED
    assert _evidence(env)[-1]["reasons"] == ["aborted by bob: not today"]


def test_a_runbook_changed_since_its_run_started_is_not_resumed(
    runbook_env: Callable[..., Env],
) -> None:
    env = runbook_env(gated=GATED)
    run = start(
        env.config, env.catalog, "gated", {"destination": str(env.root / "restore/g")},
        operator_named(),
    )  # fmt: skip
    path = env.root / "runbooks" / "gated.yaml"
    path.write_text(path.read_text().replace("Gated restore", "Gated restore v2"))
    env.reload()
    with pytest.raises(UsageError, match="changed since run"):
        resume(env.config, env.catalog, run.id, operator_named())


def test_a_drill_restores_verifies_and_cleans_up(runbook_env: Callable[..., Env]) -> None:
    env = runbook_env(drill=DRILL)
    replicated = execute(env.config, env.catalog, request_for("app", "replicate:replica"), ACTIONS)
    assert replicated.status is RunStatus.SUCCEEDED, replicated.error
    scratch = str(env.root / "restore" / "drill")
    done = start(env.config, env.catalog, "drill", {"scratch": scratch}, operator_named())
    assert done.status is RunStatus.SUCCEEDED, done.run.error
    assert not (env.root / "restore" / "drill").exists()
    [record] = _evidence(env)
    assert record["drill"] is True and record["recovery"][0]["target"] == "replica"


def test_a_site_is_recovered_job_by_job_shortest_rto_first(
    make_env: Callable[..., Env],
) -> None:
    jobs = {"app": JOB_YAML, "billing": JOB_YAML.replace("standard", "fast")}
    env = make_env(
        drorch=DRORCH_YAML + ALLOWED,
        jobs=jobs,
        policies={"standard": SLOW_POLICY, "fast": FAST_POLICY},
        runbooks={"site": SITE},
    )
    for job in jobs:
        assert env.run(job=job).status is RunStatus.SUCCEEDED
    (env.root / "restore").mkdir()
    said: list[str] = []
    done = start(
        env.config, env.catalog, "site", {"destination": str(env.root / "restore/site")},
        operator_named(say=said.append),
    )  # fmt: skip
    assert done.status is RunStatus.SUCCEEDED, done.run.error
    assert [s.name for s in done.steps] == [
        "restore[billing]",
        "verify[billing]",
        "restore[app]",
        "verify[app]",
    ]
    [record] = _evidence(env)
    rows = {r["job"]: r for r in record["recovery"]}
    assert (rows["billing"]["rto_s"], rows["app"]["rto_s"]) == (1800, 8 * 3600)
    assert rows["billing"]["recovered_after_s"] <= rows["app"]["recovered_after_s"]
    assert all(r["within"] for r in rows.values())
    assert (env.root / "restore" / "site" / "billing").is_dir()
    summary = said[said.index("recovery time against RTO:") + 1 :]
    assert [line.split(":")[0].strip() for line in summary] == ["billing", "app"]
    assert summary[0].endswith("RTO 30m: within") and summary[1].endswith("RTO 8h: within")


def test_a_canceled_run_stops_interrupted_and_resumes(runbook_env: Callable[..., Env]) -> None:
    """The daemon's stop sets the operator's cancel: restic stops, the run is resumable."""
    env = runbook_env(restore=RESTORE)
    destination = env.root / "restore" / "app"
    stop = threading.Event()
    stop.set()
    run = start(
        env.config, env.catalog, "restore", {"destination": str(destination)},
        operator_named(cancel=stop),
    )  # fmt: skip
    assert run.status is RunStatus.INTERRUPTED
    assert run.step("restore").status is StepStatus.INTERRUPTED
    assert not destination.exists() and _evidence(env) == []
    done = resume(env.config, env.catalog, run.id, operator_named())
    assert done.status is RunStatus.SUCCEEDED and destination.is_dir()


def test_a_site_with_no_job_is_refused_not_recovered(runbook_env: Callable[..., Env]) -> None:
    env = runbook_env(site=SITE)
    with pytest.raises(UsageError, match="no job has its primary copy at site 'dc2'"):
        start(
            env.config, env.catalog, "site",
            {"site": "dc2", "destination": str(env.root / "restore/s")}, operator_named(),
        )  # fmt: skip
    assert history(env.catalog) == []


def test_too_little_room_is_refused_before_anything_is_written(
    runbook_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk cannot be made here on demand: free space is what psutil reports."""
    from drorch.errors import TargetFull
    from drorch.runbooks.steps import restore as step

    env = runbook_env(restore=RESTORE)
    monkeypatch.setattr(step, "free_bytes", lambda _path: 1000)
    with pytest.raises(TargetFull, match="1000 B free"):
        start(
            env.config, env.catalog, "restore", {"destination": str(env.root / "restore/x")},
            operator_named(),
        )  # fmt: skip
    assert history(env.catalog) == []


def test_a_run_that_died_after_its_record_is_not_sealed_twice(
    runbook_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch
) -> None:
    from drorch.catalog import Catalog
    from drorch.catalog.daemon import interrupt_run

    env = runbook_env(restore=RESTORE)
    real = Catalog.transition

    def dies_at_the_end(self: Catalog, run_id: int, to: RunStatus, **fields: Any) -> Any:
        if to is RunStatus.SUCCEEDED:
            raise KeyboardInterrupt  # the process ends between the record and the run's end
        return real(self, run_id, to, **fields)

    monkeypatch.setattr(Catalog, "transition", dies_at_the_end)
    with pytest.raises(KeyboardInterrupt):
        start(
            env.config, env.catalog, "restore",
            {"destination": str(env.root / "restore/app")}, operator_named(),
        )  # fmt: skip
    monkeypatch.setattr(Catalog, "transition", real)
    [run] = history(env.catalog)
    interrupt_run(env.catalog, run.id, error="its process is gone")  # as recovery finds it
    done = resume(env.config, env.catalog, run.id, operator_named())
    assert done.status is RunStatus.SUCCEEDED
    [record] = _evidence(env)
    assert record["result"] == "pass" and done.details["evidence_seq"] == record["seq"]


def test_abort_ends_the_run_even_when_evidence_cannot_be_written(
    runbook_env: Callable[..., Env], tmp_path: Path
) -> None:
    env = runbook_env(gated=GATED)
    run = start(
        env.config, env.catalog, "gated", {"destination": str(env.root / "restore/g")},
        operator_named(),
    )  # fmt: skip
    assert run.status is RunStatus.FAILED
    key = env.config.settings.evidence_key
    key.rename(tmp_path / "away")  # the key is gone: nothing can be signed
    aborted = abort(env.config, env.catalog, run.id, operator_named("bob"), "wrong day")
    assert aborted.status is RunStatus.CANCELED
    assert aborted.run.error is not None and "not recorded as evidence" in aborted.run.error
