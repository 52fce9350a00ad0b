"""Snapshots with the real restic into real repositories."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from drorch.catalog import RunStatus, open_catalog
from drorch.catalog.daemon import register_node
from drorch.catalog.fencing import Fence
from drorch.catalog.leadership import take_on
from drorch.catalog.locks import held_locks
from drorch.config import load_config
from drorch.restic.models import parse_time
from tests.conftest import DRORCH_YAML
from tests.integration.conftest import Env


def restic(env: Env, *args: str, target: str = "primary") -> subprocess.CompletedProcess[str]:
    spec = env.config.targets[target]
    return subprocess.run(
        ["restic", "--repo", str(spec.path), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(spec.password_file)},
        check=False,
    )


def test_first_snapshot_initialises_the_repository_and_records_everything(env: Env) -> None:
    run = env.run()
    assert run.status is RunStatus.SUCCEEDED, run.error
    listed = json.loads(restic(env, "snapshots", "--json").stdout)
    assert [s["id"] for s in listed] == [run.snapshot_id]
    assert set(listed[0]["tags"]) == {"drorch", "job:app", f"run:{run.id}"}
    repository = env.catalog.repository("primary")
    config = json.loads(restic(env, "cat", "config").stdout)
    # restic 0.14's init prints a 10-digit prefix of the id; newer restic prints all of it.
    assert repository is not None and config["id"].startswith(repository.repo_id)
    assert len(repository.repo_id) >= 10
    [snapshot] = env.catalog.snapshots(job="app")
    assert snapshot.snapshot_id == run.snapshot_id
    assert snapshot.time == parse_time(listed[0]["time"])
    assert snapshot.hostname == listed[0]["hostname"]
    assert snapshot.paths == tuple(listed[0]["paths"])
    assert snapshot.files == run.files == 3  # hello.txt, sub/blob.bin, the canary
    assert snapshot.size is not None and snapshot.size > 200_000
    canary = Path(snapshot.canary_path or "")
    assert hashlib.sha256(canary.read_bytes()).hexdigest() == snapshot.canary_sha256
    assert restic(env, "check").returncode == 0


def test_second_snapshot_reuses_the_repository(env: Env) -> None:
    first = env.run()
    (env.root / "data" / "new.txt").write_text("more\n")
    second = env.run()
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.snapshot_id != first.snapshot_id
    assert second.details is not None and second.details["files_new"] >= 1
    assert len(json.loads(restic(env, "snapshots", "--json").stdout)) == 2


def test_run_artifacts_are_private_and_record_each_restic_call(env: Env) -> None:
    run = env.run()
    folder = Path(run.artifacts or "")
    assert folder.stat().st_mode & 0o777 == 0o700
    names = sorted(p.name for p in folder.iterdir())
    # `restic version` is asked once per process, so it may or may not be among them.
    calls = [n.split("-", 1)[1] for n in names if not n.endswith("-version.json")]
    # One key derivation per restic call (~0.6 s): a first snapshot needs just these two.
    assert calls == ["init.json", "backup.json"]
    backup = json.loads(next(folder.glob("*-backup.json")).read_text())
    assert backup["exit_code"] == 0
    assert "RESTIC_PASSWORD_FILE" in backup["env"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())


def test_missing_source_fails_without_touching_the_repository(env: Env) -> None:
    shutil.rmtree(env.root / "data")
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert run.error == f"job app: source path does not exist: {env.root / 'data'}"
    assert not (env.root / "repos" / "primary").exists()


def test_wrong_password_is_named(env: Env) -> None:
    assert env.run().status is RunStatus.SUCCEEDED
    password_file = env.config.targets["primary"].password_file
    password_file.write_text("not the password\n")
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert run.error == (
        f"snapshot of job app to target primary: wrong password (password file {password_file})"
    )


def test_existing_repository_is_adopted_not_reinitialised(env: Env) -> None:
    repo = env.root / "repos" / "primary"
    repo.parent.mkdir(parents=True)
    assert restic(env, "init").returncode == 0
    repo_id = json.loads(restic(env, "cat", "config").stdout)["id"]
    run = env.run()
    assert run.status is RunStatus.SUCCEEDED, run.error
    repository = env.catalog.repository("primary")
    assert repository is not None and repository.repo_id == repo_id


def test_non_empty_folder_that_is_not_a_repository_is_refused(env: Env) -> None:
    repo = env.root / "repos" / "primary"
    repo.mkdir(parents=True)
    (repo / "precious.txt").write_text("someone's data")
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert "is not empty and not a restic repository" in (run.error or "")
    assert sorted(p.name for p in repo.iterdir()) == ["precious.txt"]


def test_failing_before_hook_means_no_snapshot(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(
        jobs={
            "app": """\
        policy: standard
        source:
          paths: [data]
          before: [[sh, -c, "echo dump failed >&2; exit 7"]]
          after: [[sh, -c, "echo after > after-ran"]]
        snapshot: {target: primary}
        """
        }
    )
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert (
        run.error == "before hook 1 (sh -c echo dump failed >&2; exit 7) failed with exit "
        "code 7: dump failed"
    )
    assert env.catalog.snapshots() == []
    assert not (env.root / "after-ran").exists()


def test_hooks_run_in_the_config_root_around_the_backup(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(
        jobs={
            "app": """\
        policy: standard
        source:
          paths: [data]
          before: [[sh, -c, "echo dumped > data/dump.sql"]]
          after: [[sh, -c, "rm data/dump.sql"]]
        snapshot: {target: primary}
        """
        }
    )
    run = env.run()
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert not (env.root / "data" / "dump.sql").exists()
    listing = restic(env, "ls", "latest").stdout
    assert str(env.root / "data" / "dump.sql") in listing


def test_failing_after_hook_fails_the_run_but_keeps_the_snapshot(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(
        jobs={
            "app": """\
        policy: standard
        source: {paths: [data], after: [["false"]]}
        snapshot: {target: primary}
        """
        }
    )
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert run.snapshot_id is not None
    assert f"(snapshot {run.snapshot_id} was written)" in (run.error or "")
    assert len(env.catalog.snapshots()) == 1


def test_excludes_are_applied(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(
        jobs={
            "app": """\
        policy: standard
        source: {paths: [data], exclude: ["*.txt"]}
        snapshot: {target: primary}
        """
        }
    )
    assert env.run().status is RunStatus.SUCCEEDED
    listing = restic(env, "ls", "latest").stdout
    assert "blob.bin" in listing
    assert "hello.txt" not in listing


def test_after_hooks_undo_before_hooks_that_succeeded_before_one_failed(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(
        jobs={
            "app": """\
        policy: standard
        source:
          paths: [data]
          before: [[touch, FROZEN], ["false"]]
          after: [[rm, FROZEN]]
        snapshot: {target: primary}
        """
        }
    )
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("before hook 2 (false) failed with exit code 1")
    assert not (env.root / "FROZEN").exists(), "the first before hook was never undone"
    assert env.catalog.snapshots() == []


def test_a_repository_on_a_mounted_filesystem_is_created(make_env) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    with tempfile.TemporaryDirectory(dir="/dev/shm") as mounted:  # tmpfs: a mount point
        env = make_env(drorch=DRORCH_YAML.replace("path: repos/primary", f"path: {mounted}/drorch"))
        run = env.run()
        assert run.status is RunStatus.SUCCEEDED, run.error


def test_two_jobs_starting_together_on_a_new_target_share_one_repository(make_env) -> None:  # type: ignore[no-untyped-def]
    import threading

    from tests.conftest import JOB_YAML

    env = make_env(jobs={"one": JOB_YAML, "two": JOB_YAML})
    results: dict[str, RunStatus] = {}

    def run(job: str) -> None:
        results[job] = env.run(job=job).status

    threads = [threading.Thread(target=run, args=(job,)) for job in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"one": RunStatus.SUCCEEDED, "two": RunStatus.SUCCEEDED}
    assert len(env.catalog.snapshots(target="primary")) == 2


def test_a_known_repository_costs_no_extra_restic_call(env: Env) -> None:
    assert env.run().status is RunStatus.SUCCEEDED
    second = env.run()
    calls = sorted(
        p.name.split("-", 1)[1]
        for p in Path(second.artifacts or "").iterdir()
        if not p.name.endswith("-version.json")
    )
    assert calls == ["backup.json"]


@pytest.mark.parametrize("fenced", [False, True], ids=["operator", "daemon"])
def test_a_snapshot_run_costs_two_catalog_transactions_on_two_connections(
    make_root: Callable[..., Path], catalog_url: str, restic_bin: str, fenced: bool
) -> None:
    """The daemon starts a hundred runs at a slot, all queueing for the catalog (on a server,
    each transaction and each connection checked out, pinged first, is a round trip): the
    lock is taken with the run's row (and, for the daemon's, its slot claim and the
    leadership epoch's check) and the repository's row is read with them, and the run ends
    with its snapshot and the lock's release. The first run (which creates the repository)
    is not counted. On a server, each statement is a round trip too."""
    root = make_root(drorch=DRORCH_YAML + f'catalog: "{catalog_url}"\n')
    config = load_config(root)
    env = Env(root, config, open_catalog(catalog_url, config.state_dir))
    env.run()
    if fenced:
        node_id = register_node(env.catalog, host="h", name="n1", pid=1, version="t")
        env.catalog.fence = Fence("n1", take_on(env.catalog, node="n1", node_id=node_id))
    begun: list[threading.Thread] = []
    committed: list[threading.Thread] = []
    checkouts: list[threading.Thread] = []
    event.listen(env.catalog.engine, "begin", lambda _: begun.append(threading.current_thread()))
    event.listen(
        env.catalog.engine, "commit", lambda _: committed.append(threading.current_thread())
    )
    event.listen(
        env.catalog.engine.pool,
        "checkout",
        lambda *_: checkouts.append(threading.current_thread()),
    )
    statements: list[threading.Thread] = []
    event.listen(
        env.catalog.engine,
        "before_cursor_execute",
        lambda *_: statements.append(threading.current_thread()),
    )
    try:
        run = env.run(slot=datetime.now(UTC) if fenced else None)
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert (run.epoch, run.node) == ((1, "n1") if fenced else (None, None))
        me = threading.current_thread()  # not the lease renewer's, which may wake meanwhile
        assert (begun.count(me), committed.count(me), checkouts.count(me)) == (2, 2, 2)
        # the lock, the run's row with its artifacts folder [and the epoch's check] (one
        # statement on both), [its slot's claim,] the repository's row; the run's end with
        # its snapshot and the lock's release: PostgreSQL does each "with" of the end in
        # the same statement, SQLite in one more each
        server = catalog_url.startswith("postgresql")
        expected = (5 if server else 7) + (1 if fenced else 0)
        assert statements.count(me) == expected
        [_, snapshot] = env.catalog.snapshots(job="app")
        assert (snapshot.snapshot_id, snapshot.run_id) == (run.snapshot_id, run.id)
        assert env.catalog.runs(job="app")[0] == run
        assert held_locks(env.catalog) == []
    finally:
        env.catalog.close()
