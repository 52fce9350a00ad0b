"""Actions: one module each, one public run_<action>(context), dispatched from a registry."""

from drorch.actions.lifecycle import Action, Request, execute
from drorch.actions.restore import RestoreOptions, run_restore
from drorch.actions.snapshot import run_snapshot

ACTIONS: dict[str, Action] = {
    "snapshot": run_snapshot,
    "restore": run_restore,
}

# Actions an operator may start with `drorch run JOB ACTION` (restore has its own command).
RUNNABLE = ("snapshot",)

__all__ = ["ACTIONS", "RUNNABLE", "Request", "RestoreOptions", "execute"]
