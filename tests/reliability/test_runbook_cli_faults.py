"""Runbooks through the CLI under faults and misuse: Ctrl-C mid-restore leaves a run to
resume; nobody approves their own run (four eyes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, as_json
from tests.e2e.test_runbook_cli import SLOW, runbook_history


def test_ctrl_c_leaves_a_run_to_resume(cli: Cli, make_root) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_root(runbooks={"slow": SLOW})
    child = subprocess.Popen(
        [sys.executable, "-m", "drorch", "--config", str(root), "runbook", "run", "slow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as on a terminal: a suite started in the background (`make test &`)
        # passes SIGINT down ignored, and a process so started rightly ignores it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert child.stdout is not None
    while "step 1/2 wait" not in child.stdout.readline():
        assert child.poll() is None
    time.sleep(1)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    [run] = runbook_history(cli, root)
    assert f"run {run['run']} interrupted at step wait" in err
    assert f"drorch runbook resume {run['run']}" in err
    assert run["status"] == "INTERRUPTED"


@pytest.mark.skipif(os.geteuid() != 0, reason="--as is for root only")
def test_four_eyes(cli: Cli, root: Path) -> None:
    destination = root / "restore" / "gated"
    done = cli(
        "runbook", "run", "gated", "-p", f"destination={destination}", "--as", "alice",
        root=root, check_rc=0,
    )  # fmt: skip
    run_id = as_json(cli("runbook", "history", "--json", root=root))[0]["run"]
    assert f"drorch runbook approve {run_id} approval" in done.stdout
    assert f"drorch runbook resume {run_id}" in done.stdout
    assert not destination.exists()
    refused = cli("runbook", "approve", str(run_id), "approval", "--as", "alice", root=root)
    assert refused.returncode == 2 and "four eyes" in refused.stderr
    early = cli("runbook", "resume", str(run_id), "--as", "carol", root=root, check_rc=2)
    assert "approve" in early.stderr
    cli("runbook", "approve", str(run_id), "approval", "--as", "bob", root=root, check_rc=0)
    assert not destination.exists()  # approving records; it does not go on
    cli("runbook", "resume", str(run_id), "--as", "alice", root=root, check_rc=0)
    status = as_json(cli("runbook", "status", str(run_id), "--json", root=root, check_rc=0))
    assert status["status"] == "SUCCEEDED"
    approval = status["steps"][0]
    assert approval["approved_by"].startswith("bob") and "root" in approval["approved_by"]
    assert status["actor"].startswith("alice")
    assert destination.is_dir()
