"""The runbook engine: operators run restores, recoveries and drills step by step.

    from drorch.runbooks import Operator, start, resume, approve, abort, dry_run
    view = start(config, catalog, "restore-job", {"destination": "/srv/r/p"}, Operator("ann"))

A runbook run is a run of no one job (action "runbook"); each attempt at each step is
recorded with who, when, what it was given and how it ended; the finished run is a signed
evidence record. See engine for the flow, steps/ for the kinds of step.
"""

from __future__ import annotations

from drorch.runbooks.engine import PreconditionFailed, abort, approve, resume, start
from drorch.runbooks.operator import Operator
from drorch.runbooks.plan import Plan, PlannedStep, dry_run
from drorch.runbooks.views import RunView, StepView, history, view

__all__ = [
    "Operator",
    "Plan",
    "PlannedStep",
    "PreconditionFailed",
    "RunView",
    "StepView",
    "abort",
    "approve",
    "dry_run",
    "history",
    "resume",
    "start",
    "view",
]
