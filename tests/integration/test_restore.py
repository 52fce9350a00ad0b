"""Restores with the real restic: byte-identical trees, and every refusal."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from drorch.actions import RestoreOptions
from drorch.actions.restore import check_destination, find_snapshot
from drorch.catalog import RunStatus
from drorch.errors import DestinationNotEmpty, UnknownSnapshot, UsageError
from tests.integration.conftest import Env


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_snapshot_then_restore_gives_a_byte_identical_tree(env: Env, tmp_path: Path) -> None:
    snap = env.run()
    assert snap.status is RunStatus.SUCCEEDED, snap.error
    (env.root / "data" / "hello.txt").write_text("changed after the snapshot\n")
    destination = tmp_path / "restored"
    run = env.run(action="restore", options=RestoreOptions(to=destination))
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.snapshot_id == snap.snapshot_id
    restored = destination / (env.root / "data").relative_to("/")
    original = files_under(env.root / "data")
    original["hello.txt"] = b"hello drorch\n"  # as it was at snapshot time
    assert files_under(restored) == original
    [record] = env.catalog.snapshots()
    canary = Path(record.canary_path or "")
    assert filecmp.cmp(canary, destination / canary.relative_to("/"), shallow=False)


def test_restore_by_id_prefix_and_include(env: Env, tmp_path: Path) -> None:
    first = env.run()
    (env.root / "data" / "later.txt").write_text("later\n")
    env.run()
    include = str(env.root / "data" / "sub")
    run = env.run(
        action="restore",
        options=RestoreOptions(
            to=tmp_path / "r", snapshot=(first.snapshot_id or "")[:8], includes=(include,)
        ),
    )
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.snapshot_id == first.snapshot_id
    restored = files_under(tmp_path / "r")
    assert sorted(restored) == [str((env.root / "data" / "sub" / "blob.bin").relative_to("/"))]


def test_unknown_snapshot_is_named(env: Env) -> None:
    env.run()
    with pytest.raises(
        UnknownSnapshot, match="no snapshot 'deadbeef' of job 'app' on target 'primary'"
    ):
        find_snapshot(env.catalog, "app", "primary", "deadbeef")
    with pytest.raises(UnknownSnapshot, match="job 'app' has no snapshots on target 'replica'"):
        find_snapshot(env.catalog, "app", "replica", "latest")


def test_destination_checks(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="refusing to restore into /: it is a system directory"):
        check_destination(Path("/"), force=True)
    with pytest.raises(UsageError, match="/etc: it is a system directory"):
        check_destination(Path("/etc/../etc"), force=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(DestinationNotEmpty, match=r"is not empty; .* --force .* moved aside"):
        check_destination(busy, force=False)
    assert check_destination(busy, force=True) == busy.resolve()
    assert check_destination(tmp_path / "new", force=False) == (tmp_path / "new").resolve()


def test_restore_from_an_offline_target_fails_clearly(env: Env, tmp_path: Path) -> None:
    import shutil

    env.run()
    shutil.rmtree(env.root / "repos" / "primary")
    run = env.run(action="restore", options=RestoreOptions(to=tmp_path / "r"))
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("target 'primary' is offline")
    assert not (tmp_path / "r").exists()


def test_a_destination_below_a_file_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"cannot be made: .*/file is a file"):
        check_destination(tmp_path / "file" / "sub", force=False)
