"""The daemon signalled mid-backup: SIGTERM cancels the run and restic releases its lock;
SIGKILL takes restic with it, and the restarted daemon marks the run INTERRUPTED and backs
up again. A real daemon under a fake systemd, with the real restic."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from drorch.catalog import RunStatus
from tests.e2e.daemon_harness import DaemonProcess, runs_of, wait_for
from tests.e2e.test_daemon import (
    EVERY_2S,
    big_file,
    restic_children,
)


def restic_env(root: Path) -> dict[str, str]:
    return {**os.environ, "RESTIC_PASSWORD_FILE": str(root / "keys" / "primary.pass")}


def restic_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["restic", "--repo", str(root / "repos" / "primary"), "check"],
        capture_output=True,
        text=True,
        env=restic_env(root),
        check=False,
    )


def restic_locks(root: Path) -> list[Path]:
    """The primary repository's restic lock files: named by their 64-hex id. restic writes
    a lock as ID-tmp-N first and renames it; a restic killed in between leaves only that,
    which is no lock (drorch leaves it alone), so waiting for "a file" races the rename."""
    folder = root / "repos" / "primary" / "locks"
    return [p for p in folder.glob("*") if re.fullmatch(r"[0-9a-f]{64}", p.name)]


@pytest.mark.heavy
def test_sigterm_during_a_backup_cancels_it_and_leaves_no_lock(make_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_root(jobs={"app": EVERY_2S})
    big_file(root, 600)
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        wait_for(lambda: restic_children(root), 30, "restic backing up")
        wait_for(lambda: restic_locks(root), 10, "restic's lock")
        started = time.monotonic()
        assert daemon.stop(timeout=60) == 0
        assert time.monotonic() - started < 30
    finally:
        daemon.close()
    [run] = [r for r in runs_of(root) if r.status is not RunStatus.SUCCEEDED] or runs_of(root)
    assert run.status is RunStatus.CANCELED, (run.status, run.error)
    assert restic_children(root) == []
    assert list((root / "repos" / "primary" / "locks").iterdir()) == []
    assert restic_check(root).returncode == 0


@pytest.mark.heavy
def test_sigkill_then_restart_interrupts_the_run_and_backs_up_again(
    make_root,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    root = make_root(jobs={"app": EVERY_2S})
    big_file(root, 600)
    first = DaemonProcess(root, tmp_path)
    try:
        first.wait_ready()
        wait_for(lambda: restic_children(root), 30, "restic backing up")
        wait_for(lambda: restic_locks(root), 10, "restic's lock")
        first.signal(signal.SIGKILL)
        first.proc.wait(10)
        # systemd's KillMode=mixed would SIGKILL the rest of the cgroup: restic too.
        for proc in restic_children(root):
            proc.kill()
            proc.wait(10)
    finally:
        first.close()
    assert restic_locks(root), "no stale lock to recover"
    (root / "data" / "big.bin").unlink()  # so the next backup is quick
    second = DaemonProcess(root, tmp_path)
    try:
        second.wait_ready()
        wait_for(
            lambda: any(r.status is RunStatus.SUCCEEDED for r in runs_of(root)),
            60,
            "a successful backup after the restart",
        )
        assert second.stop() == 0
    finally:
        second.close()
    runs = runs_of(root)
    assert runs[0].status is RunStatus.INTERRUPTED
    assert "ended without finishing it" in (runs[0].error or "")
    assert any(r.status is RunStatus.SUCCEEDED for r in runs[1:])
    assert "removed stale restic lock" in second.output()
    assert restic_check(root).returncode == 0
