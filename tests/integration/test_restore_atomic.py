"""Atomic restores with the real restic: the destination appears complete or not at all.

restic writes into a hidden folder beside the destination, renamed into place on success;
a restic failure, a cancel or a KeyboardInterrupt removes it. A replaced destination is
moved aside, never deleted. Progress is measured while restic writes.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drorch.actions import RestoreOptions
from drorch.actions.restore import Restored, partial_folder, restore_into
from drorch.actions.restore_progress import RestoreProgress
from drorch.catalog import RunStatus
from drorch.errors import DestinationNotEmpty, Interrupted, ResticError, UsageError
from drorch.restic import ArtifactDir, Restic
from drorch.targets import open_target, restic_for
from tests.integration.conftest import Env
from tests.slow_restic import random_file, restic_processes, throttled_restic


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def beside(destination: Path) -> list[str]:
    """What the destination's folder holds: the destination, a kept folder, a partial one."""
    return sorted(p.name for p in destination.parent.iterdir())


@contextlib.contextmanager
def primary(env: Env, restic: Restic | None = None) -> Iterator[tuple[Restic, Any]]:
    restic = restic or restic_for(env.config)
    with open_target("primary", env.config).open_for_reading(env.catalog, restic) as repo:
        yield restic, repo


def restore(env: Env, destination: Path, *, restic: Restic | None = None, **kw: Any) -> Restored:
    [snapshot] = env.catalog.snapshots(job="app", target="primary")
    with primary(env, restic) as (restic, repo):
        return restore_into(restic, repo, snapshot, destination, tag="run-7", **kw)


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """Where restores go: a folder of their own, apart from the config root and its data."""
    folder = tmp_path / "restores"
    folder.mkdir()
    return folder


@pytest.fixture
def snapped(env: Env) -> Env:
    assert env.run().status is RunStatus.SUCCEEDED
    return env


def test_a_restore_lands_complete_and_nothing_else_remains(snapped: Env, place: Path) -> None:
    seen: list[RestoreProgress] = []
    destination = place / "out" / "app"
    restored = restore(snapped, destination, on_progress=seen.append, interval=0.05)
    data = snapped.root / "data"
    assert files_under(destination / data.relative_to("/")) == files_under(data)
    assert beside(destination) == ["app"]
    assert not partial_folder(destination, "run-7").exists()
    assert destination.stat().st_mode & 0o777 == 0o700
    [record] = snapped.catalog.snapshots()
    # what was measured on disk is what the catalog recorded at backup time
    assert (restored.bytes, restored.files) == (record.size, record.files)
    assert restored.folder == destination and restored.kept is None
    assert 0 < restored.seconds < 60
    assert seen[-1] == RestoreProgress(
        record.size or 0, record.size, record.files or 0, record.files, restored.seconds
    )
    assert seen[-1].fraction == 1.0


def test_an_empty_destination_is_replaced_and_a_leftover_partial_removed(
    snapped: Env, place: Path
) -> None:
    destination = place / "empty"
    destination.mkdir()
    leftover = partial_folder(destination, "run-7")
    (leftover / "locked").mkdir(parents=True)
    (leftover / "locked" / "stale.bin").write_bytes(b"from the attempt that died")
    (leftover / "locked").chmod(0o500)  # as restic restores a read-only folder
    restore(snapped, destination)
    assert "stale.bin" not in {p.name for p in destination.rglob("*")}
    assert beside(destination) == ["empty"]


def test_a_restic_failure_leaves_no_destination_and_no_partial_folder(
    snapped: Env, place: Path
) -> None:
    destination = place / "never"
    [snapshot] = snapped.catalog.snapshots()
    with primary(snapped) as (restic, repo), pytest.raises(ResticError, match="restore of"):
        restore_into(restic, repo, replace(snapshot, snapshot_id="0" * 64), destination, tag="t")
    assert beside(destination) == []


def test_a_damaged_repository_leaves_nothing_half_restored(snapped: Env, place: Path) -> None:
    """restic 0.14 creates every file (at full size) and fills what it can, then fails:
    all of that goes with the partial folder."""
    for pack in (snapped.root / "repos" / "primary" / "data").rglob("*"):
        if pack.is_file():
            pack.chmod(0o600)
            with pack.open("r+b") as handle:
                handle.seek(64)
                handle.write(b"\0" * 4096)
    destination = place / "never"
    with pytest.raises(ResticError, match=r"ciphertext verification failed|There were"):
        restore(snapped, destination)
    assert beside(destination) == []


@pytest.fixture
def slow(make_env: Callable[..., Env], tmp_path: Path) -> tuple[Env, Restic]:
    """A snapshot of 4 MiB of random data, and restic throttled to 1 MiB/s to restore it."""
    env = make_env()
    random_file(env.root / "data" / "big.bin", 4)
    assert env.run().status is RunStatus.SUCCEEDED
    binary, flag = throttled_restic(tmp_path / "bin")
    flag.touch()
    return env, replace(restic_for(env.config), binary=str(binary))


def test_keyboard_interrupt_from_on_progress_leaves_nothing(
    slow: tuple[Env, Restic], place: Path
) -> None:
    env, restic = slow
    artifacts = place.parent / "artifacts"
    restic = replace(restic, artifacts=ArtifactDir(artifacts))
    seen: list[RestoreProgress] = []

    def on_progress(progress: RestoreProgress) -> None:
        seen.append(progress)
        if progress.files_done:  # restic has begun to write: the operator presses Ctrl-C
            raise KeyboardInterrupt

    destination = place / "never"
    with pytest.raises(KeyboardInterrupt):
        restore(env, destination, restic=restic, on_progress=on_progress, interval=0.1)
    assert seen[-1].files_done > 0
    [record] = [json.loads(p.read_text()) for p in artifacts.glob("*-restore.json")]
    assert record["canceled"] is True  # restic was stopped, not left to finish
    assert beside(destination) == []
    assert restic_processes(env.root / "repos" / "primary") == []
    assert not [t for t in threading.enumerate() if t.name.startswith("restore-progress:")]


def test_the_callers_cancel_stops_restic_and_leaves_nothing(
    slow: tuple[Env, Restic], place: Path
) -> None:
    """SIGTERM to `drorch restore`, or the daemon stopping, sets the Restic's cancel."""
    env, restic = slow
    cancel = threading.Event()
    restic = replace(restic, cancel=cancel)

    def on_progress(progress: RestoreProgress) -> None:
        if progress.files_done:
            cancel.set()

    destination = place / "never"
    with pytest.raises(Interrupted, match="canceled"):
        restore(env, destination, restic=restic, on_progress=on_progress, interval=0.1)
    assert beside(destination) == []


def test_progress_grows_while_restic_writes(slow: tuple[Env, Restic], place: Path) -> None:
    env, restic = slow
    seen: list[RestoreProgress] = []
    restored = restore(env, place / "out", restic=restic, on_progress=seen.append, interval=0.2)
    assert len(seen) >= 3
    assert [p.elapsed_s for p in seen] == sorted(p.elapsed_s for p in seen)
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)
    assert seen[0].bytes_done < restored.bytes == seen[-1].bytes_done
    assert seen[-1].bytes_total == restored.bytes


def test_a_non_empty_destination_is_refused_before_restic_runs(snapped: Env, place: Path) -> None:
    busy = place / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    absent = restic_for(snapped.config)
    with primary(snapped) as (_, repo), pytest.raises(DestinationNotEmpty, match="not empty"):
        [snapshot] = snapped.catalog.snapshots()
        # a restic that cannot run: reaching it would raise ResticNotFound instead
        restore_into(replace(absent, binary="/nonexistent/restic"), repo, snapshot, busy, tag="t")
    assert beside(busy) == ["busy"] and files_under(busy) == {"mine.txt": b"keep"}


def test_overwrite_moves_the_earlier_contents_aside(snapped: Env, place: Path) -> None:
    busy = place / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    restored = restore(snapped, busy, overwrite=True)
    assert restored.kept == place / "busy.before-run-7"
    assert files_under(restored.kept) == {"mine.txt": b"keep"}
    assert not (busy / "mine.txt").exists() and (busy / "mine.txt").parent == busy
    assert files_under(busy)  # the restore itself
    assert beside(busy) == ["busy", "busy.before-run-7"]
    # the same tag again would have to put the kept folder where one already is: refused
    (busy / "more.txt").write_text("x")
    with pytest.raises(UsageError, match=r"busy.before-run-7, which already exists"):
        restore(snapped, busy, overwrite=True)
    assert (busy / "more.txt").read_text() == "x"


def test_drorch_restore_force_replaces_and_keeps(snapped: Env, place: Path) -> None:
    busy = place / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    run = snapped.run(action="restore", options=RestoreOptions(to=busy, force=True))
    assert run.status is RunStatus.SUCCEEDED, run.error
    kept = place / f"busy.before-run-{run.id}"
    assert (kept / "mine.txt").read_text() == "keep"
    assert not (busy / "mine.txt").exists()
    assert (run.details or {})["kept"] == str(kept)
    assert f"its earlier contents are in {kept}" in (run.details or {})["summary"]


def test_a_tag_that_cannot_name_a_folder_is_refused(snapped: Env, place: Path) -> None:
    [snapshot] = snapped.catalog.snapshots()
    with primary(snapped) as (restic, repo):
        for tag in ("", "../up", "a/b", ".hidden"):
            with pytest.raises(UsageError, match="cannot name a folder"):
                restore_into(restic, repo, snapshot, place / "d", tag=tag)
    assert beside(place / "d") == []
