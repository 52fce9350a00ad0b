"""A target on a really full filesystem (a small tmpfs): the run fails naming the cause.

restic 0.14 says "unable to create lock in backend" after a Go stack trace; the cause,
"no space left on device", is a line before it. Mounting needs root: as root (as in CI)
these tests run; elsewhere they are skipped, never under CI.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drorch.actions import ACTIONS, execute, request_for
from drorch.catalog import RunStatus
from tests.conftest import DRORCH_YAML
from tests.integration.conftest import Env

RETAIN_ONE = "rpo: 1h\nrto: 4h\nresidency: [ML]\nretention: {daily: 1}\n"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 20 MiB tmpfs mounted for the test, unmounted after it."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root so that the full-disk tests run: mount needs root")
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m,mode=0700", "tmpfs", str(mount_point)],
        check=True,
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        if os.path.ismount(mount_point):  # something still holds a file open in it
            subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill(folder: Path, *, leave: int = 0) -> None:
    """Write a file in folder until only `leave` bytes (or nothing) are free on its filesystem."""
    chunk = bytes(1 << 20)
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while (room := os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize - leave) > 0:
            os.write(fd, chunk[: min(len(chunk), room)])
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


@pytest.fixture
def env_on(make_env: Callable[..., Env], small_disk: Path) -> Env:
    """A config root whose primary target lives on the small disk."""
    drorch = DRORCH_YAML.replace("path: repos/primary", f"path: {small_disk}/primary", 1)
    return make_env(drorch=drorch, policies={"standard": RETAIN_ONE})


def test_prune_on_a_full_target_fails_naming_the_full_disk(env_on: Env, small_disk: Path) -> None:
    for _ in range(2):
        assert env_on.run().status is RunStatus.SUCCEEDED
    fill(small_disk)

    run = env_on.run(action="prune")

    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "target full" in run.error, run.error
    assert "no space left on device" in run.error, run.error
    assert str(small_disk / "primary") in run.error  # which disk
    # Nothing was forgotten: the catalog still lists both snapshots.
    assert len(env_on.catalog.snapshots(target="primary")) == 2
    listed = subprocess.run(
        [sys.executable, "-m", "drorch", "--config", str(env_on.root), "runs", "--json"],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    [shown] = [r for r in json.loads(listed.stdout) if r["action"] == "prune"]
    assert shown["status"] == "FAILED"
    assert "target full" in shown["error"] and "no space left on device" in shown["error"]


def test_a_snapshot_larger_than_the_free_space_fails_target_full(
    env_on: Env, small_disk: Path
) -> None:
    assert env_on.run().status is RunStatus.SUCCEEDED
    # Room above the target's min_free (1 MiB), so drorch's own check lets restic start,
    # but not for 8 MiB of data that does not compress or deduplicate.
    fill(small_disk, leave=3 * 1024**2)
    (env_on.root / "data" / "big.bin").write_bytes(os.urandom(8 * 1024**2))

    run = env_on.run()

    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "target full" in run.error and "no space left on device" in run.error, run.error
    assert len(env_on.catalog.snapshots(target="primary")) == 1


REPLICATED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
replicate: [{to: replica}]
"""

ON_REPLICA = """\
policy: standard
source: {paths: [data]}
snapshot: {target: replica}
"""


def test_a_full_target_leaves_the_others_working_and_works_again_once_freed(
    make_env: Callable[..., Env], small_disk: Path
) -> None:
    drorch = DRORCH_YAML.replace("path: repos/primary", f"path: {small_disk}/primary", 1)
    env = make_env(drorch=drorch, jobs={"app": REPLICATED, "other": ON_REPLICA})
    assert env.run().status is RunStatus.SUCCEEDED
    fill(small_disk, leave=3 * 1024**2)
    (env.root / "data" / "big.bin").write_bytes(os.urandom(8 * 1024**2))

    full = env.run()

    assert full.status is RunStatus.FAILED
    assert "target full" in (full.error or ""), full.error
    # replica, on another filesystem, goes on: another job's snapshot, app's replication
    assert env.run(job="other").status is RunStatus.SUCCEEDED
    copied = execute(env.config, env.catalog, request_for("app", "replicate:replica"), ACTIONS)
    assert copied.status is RunStatus.SUCCEEDED, copied.error
    assert len(env.catalog.snapshots(target="replica")) == 2
    (small_disk / "filler").unlink()  # the operator frees space
    again = env.run()
    assert again.status is RunStatus.SUCCEEDED, again.error
    assert len(env.catalog.snapshots(target="primary")) == 2
    spec = env.config.targets["primary"]
    checked = subprocess.run(
        ["restic", "--repo", str(spec.path), "check", "--read-data"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(spec.password_file)},
    )
    assert checked.returncode == 0, (checked.stdout, checked.stderr)
