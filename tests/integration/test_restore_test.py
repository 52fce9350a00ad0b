"""Restore tests with the real restic: pass, and every way they must fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import update

from drorch.actions import RestoreTestOptions, request_for
from drorch.catalog import RunStatus, models
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
    assert "restore" in record["durations_s"] and "verify" in record["durations_s"]
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


def test_flipped_bytes_in_a_pack_fail_with_restics_reason(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": job()})
    env.run()
    packs = sorted(
        (env.root / "repos" / "primary" / "data").rglob("*"),
        key=lambda p: p.is_file() and p.stat().st_size,
        reverse=True,
    )
    pack = packs[0]
    data = bytearray(pack.read_bytes())
    for offset in range(100, 200):
        data[offset] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(data))
    run = restore_test(env)
    assert run.status is RunStatus.FAILED
    record = evidence(run)
    assert record["result"] == "fail"
    [restic_check] = [c for c in record["checks"] if c["name"] == "restic"]
    assert restic_check["passed"] is False
    assert "restore of snapshot" in restic_check["detail"]
    assert run.error is not None and run.error.startswith("restic: ")


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
