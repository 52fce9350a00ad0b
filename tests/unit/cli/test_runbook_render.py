"""The runbook commands' pure parts: --param parsing, --as, and how a run's end is told."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drorch.catalog import RunRecord, RunStatus
from drorch.catalog.models import StepStatus
from drorch.catalog.runbooks import StepRecord
from drorch.cli.runbook_commands import operator_name, parse_params
from drorch.cli.runbook_render import outcome_lines
from drorch.errors import UsageError
from drorch.runbooks import RunView, StepView

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_params_split_on_the_first_equals_sign() -> None:
    assert parse_params(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    assert parse_params(None) == {}


@pytest.mark.parametrize(
    ("given", "says"),
    [(["novalue"], "'novalue'"), (["=x"], "'=x'"), ([" =x"], "' =x'"), (["a=1", "a=2"], "a")],
)
def test_a_malformed_param_is_bad_usage_naming_it(given: list[str], says: str) -> None:
    with pytest.raises(UsageError, match=says) as caught:
        parse_params(given)
    assert caught.value.exit_code == 2


def test_as_is_for_root_only() -> None:
    """As another user for real: under root, the check runs in a child that setpriv makes
    nobody (uid 65534)."""
    if os.geteuid() != 0:
        with pytest.raises(UsageError, match="only root"):
            operator_name("bob")
        return
    code = (
        "from drorch.cli.runbook_commands import operator_name\n"
        "from drorch.errors import UsageError\n"
        "try:\n    operator_name('bob')\nexcept UsageError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr
    assert "--as bob: only root may act in another person's name" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="--as is for root only")
def test_as_names_root_as_the_one_who_gave_it() -> None:
    assert operator_name("bob") == ("bob", "root")


def _run(status: RunStatus, step: StepStatus, error: str | None = None) -> RunView:
    run = RunRecord(
        id=7, job=None, action="runbook", target=None, status=status, created_at=AT,
        started_at=AT, finished_at=AT + timedelta(seconds=3), host="h", pid=1, actor="alice",
        bytes_processed=None, bytes_added=None, files=None, snapshot_id=None, error=error,
        artifacts=None, details={"runbook": "restore", "steps": [["gate", "approve"]]},
    )  # fmt: skip
    latest = StepRecord(
        id=1, run_id=7, position=0, attempt=1, name="gate", kind="approve", status=step,
        actor="alice", started_at=AT, finished_at=None, inputs={}, outputs=None,
        summary=None, error=error, approved_by=None, approved_at=None,
    )  # fmt: skip
    return RunView(run, (StepView(0, "gate", "approve", latest, 1),))


def test_a_waiting_run_says_who_approves_and_how_to_go_on() -> None:
    [line], errors = outcome_lines(_run(RunStatus.WAITING, StepStatus.WAITING))
    assert errors == []
    assert "other than alice" in line
    assert "drorch runbook approve 7 gate" in line and "drorch runbook resume 7" in line


def test_a_failed_run_names_the_step_the_reason_and_resume() -> None:
    said, errors = outcome_lines(_run(RunStatus.FAILED, StepStatus.FAILED, "disk on fire"))
    assert said == []
    assert "FAILED at step gate: disk on fire" in errors[0]
    assert "drorch runbook resume 7" in errors[1]


def test_the_operator_is_the_uids_user_whatever_logname_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pwd

    monkeypatch.setenv("LOGNAME", "bob")
    monkeypatch.setenv("USER", "bob")
    assert operator_name(None) == (pwd.getpwuid(os.getuid()).pw_name, None)
