"""SIGKILL mid-runbook restore step, of the `drorch runbook run` process and of its restic
child, with the real restic: no run (nor step) left RUNNING once a command looks, nothing
half restored at the destination, no stale restic lock, and `drorch runbook resume` brings
the data back byte for byte.

"The restore step is restoring" is seen, never slept for: restic restoring from the
repository, holding its lock, and a file in the hidden scratch folder it writes into
beside the destination."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import wait_for
from tests.reliability.test_kill import Slow, restore_runbook_ready, slow
from tests.slow_restic import gone, lock_files, restic_processes

__all__ = ["slow"]  # the fixture, shared with test_kill

pytestmark = pytest.mark.heavy


def scratch_folders(destination: Path) -> list[Path]:
    """The hidden folders restic restores into beside the destination."""
    return sorted(destination.parent.glob(f".{destination.name}.drorch-partial-*"))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def kill_mid_restore(slow: Slow, destination: Path, victim: str) -> tuple[int, str, int]:
    """`drorch runbook run restore` into `destination`; SIGKILL `victim` (drorch or its
    restic) once restic writes into its scratch folder. drorch's pid, stderr, exit code."""
    drorch = slow.drorch("runbook", "run", "restore", "--param", f"destination={destination}")
    try:
        slow.restic_started()
        wait_for(
            lambda: any(any(f.iterdir()) for f in scratch_folders(destination)),
            30,
            "restic writing into its scratch folder",
        )
        restic = [proc.pid for proc in restic_processes(slow.repo)]  # the restoring one
        assert restic, "no restic restoring"
        for pid in [drorch.pid] if victim == "drorch" else restic:
            psutil.Process(pid).send_signal(signal.SIGKILL)
        _, err = drorch.communicate(timeout=60)
    finally:
        if drorch.poll() is None:
            drorch.kill()
            drorch.communicate(timeout=30)
    wait_for(lambda: all(gone(pid) for pid in restic), 10, f"restic {restic} to end")
    return drorch.pid, err, drorch.returncode


@pytest.fixture
def prepared(cli: Cli, slow: Slow, tmp_path: Path) -> Slow:
    restore_runbook_ready(cli, slow, tmp_path)
    return slow


@pytest.mark.parametrize(
    ("victim", "then"), [("drorch", "resume"), ("restic", "resume"), ("drorch", "abort")]
)
def test_sigkill_mid_runbook_restore_step_then_resume_or_abort(
    cli: Cli, prepared: Slow, tmp_path: Path, victim: str, then: str
) -> None:
    slow, destination = prepared, tmp_path / "to"
    pid, err, code = kill_mid_restore(slow, destination, victim)
    assert not destination.exists()  # nothing half restored where the data goes
    [run] = as_json(cli("runbook", "history", "--json", root=slow.root, check_rc=0))
    if victim == "drorch":
        assert code == -signal.SIGKILL
        assert run["status"] == "INTERRUPTED", run
        assert f"(pid {pid}) ended without finishing it" in run["error"]
        # restic's scratch folder, hidden, stays until the run is resumed or aborted
        assert [p.name for p in scratch_folders(destination)] == [
            f".to.drorch-partial-run-{run['run']}"
        ]
    else:
        assert code == 1, err
        assert run["status"] == "FAILED", run
        assert "restic was killed by SIGKILL" in run["error"], run
        assert scratch_folders(destination) == []  # drorch, alive, removed it
    assert [s["status"] for s in run["steps"]] == [run["status"]], run["steps"]
    assert lock_files(slow.repo) == []  # the dead restic's lock is gone once drorch looked
    slow.unthrottle()
    if then == "abort":
        cli("runbook", "abort", str(run["run"]), root=slow.root, check_rc=0)
        [aborted] = as_json(cli("runbook", "history", "--json", root=slow.root, check_rc=0))
        assert aborted["status"] == "CANCELED"
        assert not destination.exists()
        assert scratch_folders(destination) == []  # never resumed: nothing left behind
        return
    resumed = as_json(cli("runbook", "resume", str(run["run"]), "--json", root=slow.root))
    assert resumed["status"] == "SUCCEEDED", resumed
    assert [s["attempts"] for s in resumed["steps"]] == [2]
    data = slow.root / "data"
    assert tree(destination / data.relative_to("/")) == tree(data)
    assert scratch_folders(destination) == []
    assert lock_files(slow.repo) == []
