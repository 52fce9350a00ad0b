"""Stale restic locks: a restic SIGKILLed (as the OOM killer would) leaves its lock behind,
naming this host and a pid that is gone. drorch removes such a lock before an exclusive
action and when a call fails on it, and goes on; a live process's lock, or another host's,
is never touched. All with the real restic and real locks."""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from drorch.catalog import RunStatus
from tests.conftest import POLICY_YAML
from tests.integration.conftest import Env
from tests.slow_restic import hold_lock, kill_leftovers, lock_files, random_file, stale_lock

pytestmark = pytest.mark.heavy


@pytest.fixture
def env(make_env) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    """A job with one snapshot on primary, and a retention so that it can be pruned."""
    env: Env = make_env(policies={"standard": POLICY_YAML + "retention: {daily: 7}\n"})
    assert env.run().status is RunStatus.SUCCEEDED
    random_file(env.root / "slow.bin", 8)  # what the lock holders back up or read
    yield env
    kill_leftovers(repo(env))


def repo(env: Env) -> Path:
    return env.config.targets["primary"].path


def password(env: Env) -> Path:
    return env.config.targets["primary"].password_file


def test_check_and_prune_remove_the_lock_of_a_killed_restic(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    lock, pid = stale_lock(repo(env), password(env), env.root / "slow.bin")
    caplog.set_level(logging.WARNING)
    check = env.run(action="check")
    assert check.status is RunStatus.SUCCEEDED, check.error
    assert lock_files(repo(env)) == []
    assert f"removed stale restic lock {lock[:8]} of pid {pid}" in caplog.text
    lock, pid = stale_lock(repo(env), password(env), env.root / "slow.bin")
    prune = env.run(action="prune")
    assert prune.status is RunStatus.SUCCEEDED, prune.error
    assert lock_files(repo(env)) == []


def test_a_backup_meeting_a_stale_exclusive_lock_removes_it_and_goes_on(env: Env) -> None:
    """A restic check killed mid-way leaves an exclusive lock, which makes every later call
    fail as "locked"; the failing call removes it and is tried once more."""
    stale_lock(repo(env), password(env), env.root / "slow.bin", exclusive=True)
    run = env.run()
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert lock_files(repo(env)) == []
    assert len(env.catalog.snapshots()) == 2


def test_the_lock_of_a_live_restic_is_never_removed(env: Env) -> None:
    holder = hold_lock(repo(env), password(env), env.root / "slow.bin")
    holder.send_signal(signal.SIGSTOP)  # alive, and keeping its lock as it is
    try:
        [lock] = lock_files(repo(env))
        check = env.run(action="check")
        assert check.status is RunStatus.FAILED
        assert f"repository is locked (PID {holder.pid} on " in (check.error or "")
        assert lock_files(repo(env)) == [lock]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.send_signal(signal.SIGCONT)
        holder.wait(10)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_the_lock_of_another_host_is_never_removed(env: Env) -> None:
    """Its pid means nothing here: only that host can tell whether the process is gone."""
    other_host = ["unshare", "--uts", "sh", "-c", 'hostname elsewhere && exec "$0" "$@"']
    if subprocess.run(["unshare", "--uts", "true"], check=False).returncode != 0:
        pytest.skip("unshare --uts is not allowed here (needs CAP_SYS_ADMIN)")
    lock, _ = stale_lock(repo(env), password(env), env.root / "slow.bin", prefix=other_host)
    check = env.run(action="check")
    assert check.status is RunStatus.FAILED
    assert "repository is locked (PID " in (check.error or "")
    assert " on elsewhere " in (check.error or "")
    assert lock_files(repo(env)) == [lock]
