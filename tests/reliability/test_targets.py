"""A target's disk gone, unmounted, replaced, or too full to start: the run fails naming
the target, and drorch never makes a new empty repository where the old one was."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from drorch.catalog import RunStatus
from tests.conftest import DRORCH_YAML
from tests.integration.conftest import Env
from tests.integration.test_replicate import REPLICATED, replicate
from tests.integration.test_replicate import restic as restic_on
from tests.integration.test_snapshot import restic


def test_offline_target_is_never_recreated(env: Env) -> None:
    assert env.run().status is RunStatus.SUCCEEDED
    repo = env.root / "repos" / "primary"
    shutil.rmtree(repo)  # the disk is gone (unmounted)
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert run.error is not None and run.error.startswith("target 'primary' is offline")
    assert "will not create a new empty repository" in run.error
    assert not repo.exists()


def test_no_repository_on_an_unmounted_mount_point(make_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mount_point = tmp_path / "mnt" / "backup1"  # /tmp is not a mount point here
    mount_point.mkdir(parents=True)
    yaml = DRORCH_YAML.replace("path: repos/primary", f"path: {mount_point}/drorch")
    env = make_env(drorch=yaml)
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("target 'primary' is offline: neither ")
    assert list(mount_point.iterdir()) == []
    allowed = make_env(
        drorch=yaml.replace(
            "min_free: 1MiB}", "min_free: 1MiB,\n            require_mount: false}", 1
        )
    )
    assert allowed.run().status is RunStatus.SUCCEEDED
    assert (mount_point / "drorch" / "config").is_file()


def test_another_repository_at_the_same_path_is_refused(env: Env) -> None:
    first = env.run()
    assert first.status is RunStatus.SUCCEEDED
    repo = env.root / "repos" / "primary"
    repo.rename(env.root / "repos" / "the-real-one")
    assert restic(env, "init").returncode == 0  # another disk, same password, same place
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert "which the catalog knows; refusing to use another repository" in (run.error or "")
    assert json.loads(restic(env, "snapshots", "--json").stdout) == []
    assert len(env.catalog.snapshots()) == 1


def test_full_target_fails_before_writing(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(drorch=DRORCH_YAML.replace("min_free: 1MiB}", "min_free: 1000000TiB}", 1))
    run = env.run()
    assert run.status is RunStatus.FAILED
    assert run.error is not None and run.error.startswith("target full: 'primary' has ")
    assert not (env.root / "repos" / "primary").exists()


def test_offline_destination_fails_and_is_never_recreated(make_env: Callable[..., Env]) -> None:
    env = make_env(jobs={"app": REPLICATED})
    env.run()
    assert replicate(env).status is RunStatus.SUCCEEDED
    shutil.rmtree(env.root / "repos" / "replica")
    env.run()
    run = replicate(env)
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("target 'replica' is offline")
    assert not (env.root / "repos" / "replica").exists()
    assert len(json.loads(restic_on(env, "primary", "snapshots", "--json").stdout)) == 2
