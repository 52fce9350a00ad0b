"""Actions: one module each, one public run_<action>(context), dispatched from a registry.

An action's module is imported when the action is first looked up: `drorch run JOB
snapshot` does not load the restore, replication or tape code (start-up time is part of
every run's cost)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from drorch.action_key import REPLICATE, ActionKey
from drorch.actions.lifecycle import Action, Request, execute
from drorch.config import Config
from drorch.targets import Capability, targets_of

if TYPE_CHECKING:
    from drorch.actions.replicate import ReplicateOptions
    from drorch.actions.restore import RestoreOptions
    from drorch.actions.restore_test import RestoreTestOptions


class _Registry(Mapping[str, Action]):
    """Action name -> its run function, each imported on first lookup."""

    def __init__(self, where: Mapping[str, tuple[str, str]]) -> None:
        self._where = dict(where)

    def __getitem__(self, name: str) -> Action:
        module, function = self._where[name]
        action: Action = getattr(importlib.import_module(module), function)
        return action

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


ACTIONS: Mapping[str, Action] = _Registry(
    {
        "snapshot": ("drorch.actions.snapshot", "run_snapshot"),
        "restore": ("drorch.actions.restore", "run_restore"),
        "prune": ("drorch.actions.prune", "run_prune"),
        "check": ("drorch.actions.check", "run_check"),
        REPLICATE: ("drorch.actions.replicate", "run_replicate"),
        "restore-test": ("drorch.actions.restore_test", "run_restore_test"),
    }
)

_OPTIONS = {
    "ReplicateOptions": "drorch.actions.replicate",
    "RestoreOptions": "drorch.actions.restore",
    "RestoreTestOptions": "drorch.actions.restore_test",
}


def __getattr__(name: str) -> Any:  # the options classes, from their action's module
    if name in _OPTIONS:
        return getattr(importlib.import_module(_OPTIONS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Actions an operator may start with `drorch run JOB ACTION` (restore has its own command).
RUNNABLE = ("snapshot", REPLICATE, "restore-test", "prune", "check")


def request_for(job: str, action: str, **kwargs: Any) -> Request:
    """The request for a scheduled action key: "replicate:replica" carries its destination."""
    key = ActionKey.parse(action)
    if key.verb == REPLICATE and key.target:
        from drorch.actions.replicate import ReplicateOptions

        kwargs["options"] = ReplicateOptions(to=key.target)
    return Request(job=job, action=action, **kwargs)


def can_run(config: Config) -> Callable[[str, str], bool]:
    """Whether this drorch can run a job's action key: a replication only to a target that
    receives copies."""
    targets = targets_of(config)

    def check(job: str, action: str) -> bool:
        key = ActionKey.parse(action)
        if key.verb == "drill":  # the daemon runs it through the runbook engine
            return True
        if key.verb not in ACTIONS:
            return False
        to = key.target
        return to is None or (to in targets and targets[to].can(Capability.RECEIVE))

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
