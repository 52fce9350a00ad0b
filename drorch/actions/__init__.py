"""Actions: one module each, one public run_<action>(context), dispatched from a registry."""

from drorch.actions.check import run_check
from drorch.actions.lifecycle import Action, Request, execute
from drorch.actions.prune import run_prune
from drorch.actions.restore import RestoreOptions, run_restore
from drorch.actions.snapshot import run_snapshot

ACTIONS: dict[str, Action] = {
    "snapshot": run_snapshot,
    "restore": run_restore,
    "prune": run_prune,
    "check": run_check,
}

# Actions an operator may start with `drorch run JOB ACTION` (restore has its own command).
RUNNABLE = ("snapshot", "prune", "check")

__all__ = ["ACTIONS", "RUNNABLE", "Request", "RestoreOptions", "execute"]
