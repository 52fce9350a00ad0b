"""Hooks within the run's deadline: real processes, the deadline's clock controlled."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from drorch.actions.context import Deadline
from drorch.actions.hooks import run_hooks
from drorch.config.model import HookSpec
from drorch.errors import HookFailed

SOURCE = "snapshot timeout of job app"


def spent_when(marker: Path, seconds: float) -> Deadline:
    """A 4 s deadline whose clock says `seconds` have passed once `marker` exists: a hook
    that touches it stands for one that took that long."""
    return Deadline.after(
        timedelta(seconds=4), SOURCE, clock=lambda: seconds if marker.exists() else 0.0
    )


def test_a_hook_gets_what_remains_of_the_run_not_a_fresh_timeout(tmp_path: Path) -> None:
    deadline = spent_when(tmp_path / "spent", 3.8)
    ran: list[HookSpec] = []
    hooks = [HookSpec(command=("touch", "spent")), HookSpec(command=("sleep", "2"))]
    with pytest.raises(HookFailed) as caught:
        run_hooks(hooks, when="before", cwd=tmp_path, deadline=deadline, succeeded=ran)
    # 0.2 s were left for a 2 s hook (a fresh 4 s, or its own 10 min, would let it finish)
    assert str(caught.value) == (
        "before hook 2 (sleep 2) stopped at the run's deadline: 4s (snapshot timeout of job app)"
    )
    assert ran == hooks[:1]


def test_no_hook_starts_once_the_deadline_passed(tmp_path: Path) -> None:
    deadline = spent_when(tmp_path / "spent", 4.5)
    hooks = [HookSpec(command=("touch", "spent")), HookSpec(command=("touch", "second"))]
    with pytest.raises(HookFailed) as caught:
        run_hooks(hooks, when="before", cwd=tmp_path, deadline=deadline)
    assert str(caught.value) == (
        "before hook 2 (touch second) not started: the run's deadline passed: "
        "4s (snapshot timeout of job app)"
    )
    assert not (tmp_path / "second").exists()


def test_a_hook_own_timeout_still_caps_it_and_is_named(tmp_path: Path) -> None:
    deadline = Deadline.after(timedelta(hours=1), SOURCE)
    hook = HookSpec(command=("sleep", "30"), timeout=timedelta(seconds=1))
    with pytest.raises(HookFailed) as caught:
        run_hooks([hook], when="before", cwd=tmp_path, deadline=deadline)
    assert str(caught.value) == "before hook 1 (sleep 30) timed out after its own timeout of 1s"


def test_without_a_deadline_hooks_run_within_their_own_timeout(tmp_path: Path) -> None:
    # `after` hooks: they undo the `before` hooks, so the run's deadline does not skip them
    ran: list[HookSpec] = []
    hooks = [HookSpec(command=("touch", "thawed"))]
    run_hooks(hooks, when="after", cwd=tmp_path, succeeded=ran)
    assert ran == hooks
    assert (tmp_path / "thawed").exists()


def test_the_deadline_counts_from_its_start() -> None:
    now = [100.0]
    deadline = Deadline.after(timedelta(seconds=8), SOURCE, clock=lambda: now[0])
    assert deadline.remaining() == 8
    now[0] = 105.5
    assert deadline.remaining() == 2.5
    now[0] = 109
    assert deadline.remaining() == 0
    assert str(deadline) == "8s (snapshot timeout of job app)"
