"""Runbooks under faults and misuse: Ctrl-C mid-restore leaves a run to resume and no half
restored folder; whoever ran steps of a run cannot approve it; a parameter with `..` or
outside the allowed roots is refused before anything is written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drorch.catalog import RunStatus
from drorch.catalog.models import StepStatus
from drorch.errors import DestinationNotEmpty, UsageError
from drorch.runbooks import approve, history, resume, start
from tests.integration.conftest import Env
from tests.integration.test_runbooks import GATED, RESTORE, operator_named


def test_who_ran_steps_of_a_run_does_not_approve_it(runbook_env: Callable[..., Env]) -> None:
    env = runbook_env(gated=GATED)
    failed = start(
        env.config, env.catalog, "gated", {"destination": str(env.root / "restore/g")},
        operator_named(),
    )  # fmt: skip
    (env.root / "marker").write_text("")
    resume(env.config, env.catalog, failed.id, operator_named("bob"))  # bob runs the gate again
    with pytest.raises(UsageError, match="four eyes: bob has run steps of run"):
        approve(env.config, env.catalog, failed.id, "approve", operator_named("bob"))
    approve(env.config, env.catalog, failed.id, "approve", operator_named("carol"))


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ({"destination": "/"}, "not under the allowed roots"),
        ({"destination": "/etc"}, "not under the allowed roots"),
        ({"destination": "RESTORE/../../x"}, "contains '..'"),
        ({"destination": "RESTORE/x", "snapshot": "beef"}, "no snapshot 'beef'"),
        ({"destination": "RESTORE/x", "snapshot": "nothex!"}, "a hex id"),
        ({"destination": "RESTORE/full"}, "is not empty"),
        ({"destination": "RESTORE/x", "extra": "1"}, "'extra' is not a parameter"),
        ({}, "destination is required"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    runbook_env: Callable[..., Env], given: dict[str, str], refusal: str
) -> None:
    env = runbook_env(restore=RESTORE)
    (env.root / "restore" / "full").mkdir()
    (env.root / "restore" / "full" / "keep.txt").write_text("mine")
    params = {k: v.replace("RESTORE", str(env.root / "restore")) for k, v in given.items()}
    runs = len(env.catalog.runs())
    with pytest.raises((UsageError, DestinationNotEmpty), match=refusal):
        start(env.config, env.catalog, "restore", params, operator_named())
    assert len(env.catalog.runs()) == runs
    assert (env.root / "restore" / "full" / "keep.txt").read_text() == "mine"
    assert not (env.root / "restore" / "x").exists()


def test_ctrl_c_during_a_restore_leaves_a_resumable_run_and_no_folder(
    runbook_env: Callable[..., Env],
) -> None:
    env = runbook_env(restore=RESTORE)
    destination = env.root / "restore" / "app"

    def interrupt(_step: str, _progress: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        start(
            env.config, env.catalog, "restore", {"destination": str(destination)},
            operator_named(on_progress=interrupt),
        )  # fmt: skip
    assert not destination.exists()
    assert list((env.root / "restore").iterdir()) == []
    [run] = history(env.catalog)
    assert run.status is RunStatus.INTERRUPTED
    assert run.step("restore").status is StepStatus.INTERRUPTED
    done = resume(env.config, env.catalog, run.id, operator_named())
    assert done.status is RunStatus.SUCCEEDED and destination.is_dir()
