"""Restore tests with the real restic: pass, and every way they must fail."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update

from drorch.actions import RestoreTestOptions, request_for
from drorch.actions.verification import PendingListing, verify_restored
from drorch.catalog import RunStatus, models
from drorch.errors import Interrupted
from drorch.restic import ArtifactDir, Repo, Restic
from drorch.targets import open_target
from drorch.targets.locks import restic_for
from tests.integration.conftest import Env

TESTED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
replicate: [{to: replica}]
restore_test:
  from: [primary, replica]
  verify: [restic, canary, listing, {command: [sh, -c, "test -s {restore_dir}%s"]}]
"""


def job(check_path: str = "/") -> str:
    return TESTED % check_path


def restore_test(env: Env, **options: object):  # type: ignore[no-untyped-def]
    from drorch.actions import ACTIONS, execute

    return execute(
        env.config,
        env.catalog,
        request_for(
            "app",
            "restore-test",
            options=RestoreTestOptions(**options),  # type: ignore[arg-type]
        ),
        ACTIONS,
    )


def evidence(run) -> dict:  # type: ignore[no-untyped-def]
    assert run.details is not None
    return run.details["evidence"]  # type: ignore[no-any-return]


def test_a_good_copy_passes_every_check(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": job("/")})
    snap = env.run()
    run = restore_test(env)
    assert run.status is RunStatus.SUCCEEDED, run.error
    record = evidence(run)
    assert record["result"] == "pass"
    assert [(c["name"], c["passed"]) for c in record["checks"]] == [
        ("restic", True),
        ("canary", True),
        ("listing", True),
        ("command sh", True),
    ]
    assert record["snapshot"]["id"] == snap.snapshot_id
    assert record["target"] == {"name": "primary", "site": "dc1", "jurisdiction": "ML"}
    assert record["rto"]["target_s"] == 4 * 3600 and record["rto"]["within"] is True
    assert record["throughput_bytes_per_s"] > 0
    assert {"restore", "verify", "cleanup"} <= set(record["durations_s"])
    assert record["versions"]["restic"].startswith("0.")
    assert any(name.endswith("-restore.json") for name in record["artifacts"])
    assert list((env.config.state_dir / "scratch").iterdir()) == []
    # the result is signed evidence: the log holds exactly what the run assembled
    from drorch.evidence.log import EvidenceLog

    assert run.details is not None and run.details["evidence_seq"] == 1
    evidence_log = EvidenceLog(env.catalog, env.config.settings.evidence_key)
    assert evidence_log.self_check() is None
    from drorch.catalog import evidence as table

    entry = table.record(env.catalog, 1)
    assert entry is not None and entry.kind == "restore-test"
    assert entry.data["checks"] == record["checks"]
    assert entry.data["result"] == "pass" and entry.data["job"] == "app"


def test_rotation_goes_through_the_copies(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": job()})
    env.run()
    from drorch.actions import ACTIONS, execute

    execute(env.config, env.catalog, request_for("app", "replicate:replica"), ACTIONS)
    targets = [restore_test(env).target for _ in range(3)]
    assert targets == ["primary", "replica", "primary"]
    assert restore_test(env, from_target="replica").target == "replica"


def test_a_missing_canary_fails(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": job()})
    env.run()
    with env.catalog.session() as session, session.begin():
        session.execute(update(models.Snapshot).values(canary_path="/nowhere/canary.bin"))
    run = restore_test(env)
    assert run.status is RunStatus.FAILED
    [canary] = [c for c in evidence(run)["checks"] if c["name"] == "canary"]
    assert canary == {
        "name": "canary",
        "passed": False,
        "detail": "canary missing from the restore: No such file or directory",
    }


def test_a_failing_command_check_fails(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": job("/no/such/file")})
    env.run()
    run = restore_test(env)
    assert run.status is RunStatus.FAILED
    [command] = [c for c in evidence(run)["checks"] if c["name"] == "command sh"]
    assert command["passed"] is False and command["detail"].startswith("exit 1")
    assert [c["name"] for c in evidence(run)["checks"] if c["passed"]] == [
        "restic",
        "canary",
        "listing",
    ]


def test_too_little_scratch_space_fails_before_restoring(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": job()})
    env.run()
    with env.catalog.session() as session, session.begin():
        session.execute(update(models.Snapshot).values(size=2**60))
    run = restore_test(env)
    assert run.status is RunStatus.FAILED
    assert "scratch space too small" in (run.error or "")
    assert "the snapshot needs " in (run.error or "")
    assert not any(name.endswith("-restore.json") for name in evidence(run)["artifacts"])


def test_random_choice_records_its_seed(make_env: Callable[..., Env]) -> None:
    env = make_env(
        jobs={
            "app": job().replace(
                "  from: [primary, replica]\n", "  from: [primary]\n  snapshot: random\n"
            )
        }
    )
    env.run()
    env.run()
    run = restore_test(env)
    assert run.status is RunStatus.SUCCEEDED, run.error
    seed = evidence(run)["selection"]["seed"]
    assert isinstance(seed, int)
    import random

    chosen = random.Random(seed).choice(env.catalog.snapshots(target="primary"))
    assert chosen.snapshot_id == run.snapshot_id


def test_remove_tree_copes_with_read_only_folders() -> None:
    """As the unprivileged service user would: root deletes anything, so the removal runs
    in a child that has become nobody (uid 65534), on a tree that nobody owns."""
    import os
    import shutil
    import tempfile

    from drorch.actions.restore_test import remove_tree

    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        restored = base / "restored"
        tree = restored / "a" / "b"
        tree.mkdir(parents=True)
        (tree / "file").write_text("x")
        for path in (base, restored, restored / "a", tree, tree / "file"):  # its scratch root too
            os.chown(path, 65534, 65534)
        (restored / "a").chmod(0o500)  # as restored from a snapshot of read-only folders
        tree.chmod(0o500)
        pid = os.fork()
        if pid == 0:  # the child: drop to nobody, remove, report by exit code
            try:
                os.setgid(65534)
                os.setuid(65534)
                os._exit(0 if remove_tree(restored) else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert not restored.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_remove_tree_removes_every_kind_of_entry_and_follows_no_symlink(tmp_path: Path) -> None:
    from drorch.actions.restore_test import remove_tree

    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "folder" / "kept.txt").write_text("not the tree's", encoding="utf-8")
    (outside / "kept.txt").write_text("not the tree's", encoding="utf-8")
    restored = tmp_path / "restored"
    for number in range(50):
        folder = restored / f"d{number % 5}" / f"s{number % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{number}").write_bytes(b"x" * number)
    (restored / "empty" / "deeper").mkdir(parents=True)
    (restored / "to-folder").symlink_to(outside / "folder")
    (restored / "d0" / "to-file").symlink_to(outside / "kept.txt")
    (restored / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(restored / "d1" / "fifo")
    assert remove_tree(restored)
    assert not restored.exists() and not restored.is_symlink()
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == [
        "folder",
        "folder/kept.txt",
        "kept.txt",
    ]
    assert remove_tree(restored)  # nothing there: nothing to do


def test_only_the_checks_the_job_asks_for_are_run(make_env: Callable[..., Env]) -> None:
    env = make_env(
        jobs={
            "app": job().replace(
                'verify: [restic, canary, listing, {command: [sh, -c, "test -s {restore_dir}/"]}]',
                "verify: [restic, canary]",
            )
        }
    )
    env.run()
    run = restore_test(env)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert [c["name"] for c in evidence(run)["checks"]] == ["restic", "canary"]
    assert not any(name.endswith("-ls.json") for name in evidence(run)["artifacts"])


def listing_setup(
    env: Env, tmp_path: Path, *, password_file: Path | None = None
) -> tuple[Restic, Repo]:
    """restic as a run has it (artifacts in tmp_path/artifacts), and the primary's repo,
    its password read from `password_file` when given."""
    restic = restic_for(env.config, artifacts=ArtifactDir(tmp_path / "artifacts"))
    repo = open_target("primary", env.config).repo  # type: ignore[attr-defined]
    return restic, repo if password_file is None else replace(repo, password_file=password_file)


def ends_by_itself(call: Callable[[], None], fifo: Path) -> bool:
    """Whether `call` returns without restic being fed its password through `fifo`.

    Not a timing assertion: a call that stops restic returns within restic's grace (30 s,
    then SIGKILL); one that does not would wait for ever, so after twice that the test
    gives restic a (wrong) password, lets it fail, and reports the hang as a failure."""
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(60)
    if not worker.is_alive():
        return True
    fifo.write_text("not the password\n", encoding="utf-8")
    worker.join()
    return False


def test_a_listing_started_before_the_restore_judges_the_restored_tree(
    make_env: Callable[..., Env], tmp_path: Path
) -> None:
    """The listing check through PendingListing is as strict as through restic ls after
    the restore: the tree restored from one snapshot fails against another's listing."""
    env = make_env(jobs={"app": job()})
    first = env.run()
    (env.root / "data" / "more.txt").write_text("one more file\n", encoding="utf-8")
    second = env.run()
    assert first.snapshot_id and second.snapshot_id
    restic, repo = listing_setup(env, tmp_path)
    [restored_from] = [s for s in env.catalog.snapshots() if s.snapshot_id == first.snapshot_id]
    verdicts = {}
    for listed in (first.snapshot_id, second.snapshot_id):
        pending = PendingListing(restic, repo, listed)
        folder = tmp_path / f"restored-{listed[:8]}"
        restic.restore(repo, first.snapshot_id, folder)
        try:
            [check] = verify_restored(
                restic, repo, restored_from, folder, ("listing",), listing=pending
            )
        finally:
            pending.close()
        verdicts[listed] = check
    assert verdicts[first.snapshot_id].passed, verdicts[first.snapshot_id].detail
    other = verdicts[second.snapshot_id]
    assert not other.passed
    found = re.fullmatch(
        r"(\d+) files, (\d+) bytes restored; the snapshot lists (\d+) files, (\d+) bytes",
        other.detail,
    )
    assert found, other.detail
    files, size, listed_files, listed_size = map(int, found.groups())
    assert (listed_files, listed_size) == (files + 1, size + len("one more file\n"))


def stuck_listing(
    make_env: Callable[..., Env], tmp_path: Path, cancel: threading.Event | None = None
) -> tuple[PendingListing, Path]:
    """A PendingListing whose restic ls waits for its password from a FIFO nobody writes:
    still running whenever the test looks, whatever the machine's speed."""
    env = make_env(jobs={"app": job()})
    snap = env.run()
    assert snap.snapshot_id
    fifo = tmp_path / "password.fifo"
    os.mkfifo(fifo)
    restic, repo = listing_setup(env, tmp_path, password_file=fifo)
    return PendingListing(replace(restic, cancel=cancel), repo, snap.snapshot_id), fifo


def test_closing_a_listing_stops_its_restic(make_env: Callable[..., Env], tmp_path: Path) -> None:
    """A restore that failed leaves its listing running: close() stops restic ls (SIGINT)
    and returns once it is gone."""
    pending, fifo = stuck_listing(make_env, tmp_path)
    assert ends_by_itself(pending.close, fifo), "close() waited for ls instead of stopping it"
    [artifact] = (tmp_path / "artifacts").glob("*-ls.json")
    assert json.loads(artifact.read_text(encoding="utf-8"))["canceled"] is True
    with pytest.raises(Interrupted, match="canceled"):
        pending.wait()


def test_the_runs_cancel_reaches_a_pending_listing(
    make_env: Callable[..., Env], tmp_path: Path
) -> None:
    cancel = threading.Event()
    pending, fifo = stuck_listing(make_env, tmp_path, cancel)
    cancel.set()  # as the daemon does when it stops, or an operator cancels the run
    raised: list[BaseException] = []

    def wait() -> None:
        try:
            pending.wait()
        except BaseException as exc:  # looked at below
            raised.append(exc)

    assert ends_by_itself(wait, fifo), "wait() did not pass the run's cancel on to ls"
    pending.close()
    [error] = raised
    with pytest.raises(Interrupted, match="canceled"):
        raise error
