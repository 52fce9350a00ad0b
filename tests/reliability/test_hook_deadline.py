"""Hooks share the action's timeout: a hanging hook ends at the run's deadline, not at its
own (10 min by default), and the message names the deadline that fired. Real processes,
the real restic, `drorch run` as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from drorch.catalog import RunStatus, open_catalog

HANG_GUARD = 60  # seconds; the hook alone would sleep 1000 s, its own timeout is 10 min


@pytest.fixture
def leftovers(tmp_path: Path) -> Iterator[None]:
    """Kill what a failing run may leave behind: the hooks run in a session of their own,
    so a drorch killed by the hang guard would orphan them. Only processes in tmp_path."""
    yield
    for proc in psutil.process_iter(["cwd"]):
        if str(proc.info["cwd"] or "").startswith(str(tmp_path)):
            proc.kill()


def drorch_run(root: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "drorch", "--config", str(root), "run", "app"],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"drorch run still running after {HANG_GUARD}s: the hook outlived the run")


HANGING = """\
policy: standard
source:
  paths: [data]
  before: [[touch, FROZEN], [sleep, "1000"]]
  after: [[rm, FROZEN]]
snapshot: {target: primary, timeout: 3s}
"""


def test_a_hanging_before_hook_ends_at_the_action_timeout(make_root, leftovers: None) -> None:  # type: ignore[no-untyped-def]
    root = make_root()
    # a first snapshot creates the repository, so that the 3 s are the hooks' alone
    assert drorch_run(root).returncode == 0
    (root / "jobs" / "app.yaml").write_text(HANGING, encoding="utf-8")
    done = drorch_run(root)
    assert done.returncode == 1, (done.stdout, done.stderr)
    message = (
        "before hook 2 (sleep 1000) stopped at the run's deadline: 3s (snapshot timeout of job app)"
    )
    assert message in done.stderr
    catalog = open_catalog(None, root / "state")
    try:
        [first, run] = sorted(catalog.runs(), key=lambda r: r.id)
        assert run.status is RunStatus.FAILED
        assert run.error == message
        assert [s.run_id for s in catalog.snapshots()] == [first.id]
    finally:
        catalog.close()
    # the after hook undoes what the first before hook did, even past the deadline
    assert not (root / "FROZEN").exists()
