"""Actions: one module each, one public run_<action>(context), dispatched from a registry."""

from collections.abc import Callable
from typing import Any

from drorch.actions.check import run_check
from drorch.actions.lifecycle import Action, Request, execute
from drorch.actions.prune import run_prune
from drorch.actions.replicate import ReplicateOptions, run_replicate
from drorch.actions.restore import RestoreOptions, run_restore
from drorch.actions.restore_test import RestoreTestOptions, run_restore_test
from drorch.actions.snapshot import run_snapshot
from drorch.config import Config
from drorch.targets import Capability, targets_of

ACTIONS: dict[str, Action] = {
    "snapshot": run_snapshot,
    "restore": run_restore,
    "prune": run_prune,
    "check": run_check,
    "replicate": run_replicate,
    "restore-test": run_restore_test,
}

# Actions an operator may start with `drorch run JOB ACTION` (restore has its own command).
RUNNABLE = ("snapshot", "replicate", "restore-test", "prune", "check")


def request_for(job: str, action: str, **kwargs: Any) -> Request:
    """The request for a scheduled action key: "replicate:replica" carries its destination."""
    base, _, to = action.partition(":")
    if base == "replicate" and to:
        kwargs["options"] = ReplicateOptions(to=to)
    return Request(job=job, action=action, **kwargs)


def can_run(config: Config) -> Callable[[str, str], bool]:
    """Whether this drorch can run a job's action key: a replication only to a target that
    receives copies."""
    targets = targets_of(config)

    def check(job: str, action: str) -> bool:
        base, _, to = action.partition(":")
        if base == "drill":  # the daemon runs it through the runbook engine
            return True
        if base not in ACTIONS:
            return False
        return not to or (to in targets and targets[to].can(Capability.RECEIVE))

    return check


__all__ = [
    "ACTIONS",
    "RUNNABLE",
    "ReplicateOptions",
    "Request",
    "RestoreOptions",
    "RestoreTestOptions",
    "can_run",
    "execute",
    "request_for",
]
