"""A job's scheduled drill: its `drill:` runbook run unattended by the scheduler, once at
a time (a catalog lock: several daemons may share the catalog)."""

from __future__ import annotations

import threading

from drorch.catalog import Catalog
from drorch.config import Config
from drorch.errors import UsageError
from drorch.locks import job_lock_name, resource_lock
from drorch.runbooks.engine import start
from drorch.runbooks.operator import Operator
from drorch.runbooks.views import RunView

DRILL = "drill"  # the action key a job's drill is scheduled under


def run_drill(
    config: Config,
    catalog: Catalog,
    job: str,
    *,
    actor: str = "scheduler",
    cancel: threading.Event | None = None,
) -> RunView:
    """Run `job`'s drill; its parameters are the job's `drill.params`, and `job` is the
    job unless they say otherwise. --yes holds: a confirm step goes on; validation made
    sure no approval is waited for."""
    spec = config.job(job).drill
    if spec is None:
        raise UsageError(f"job {job} has no drill: add drill: {{runbook: NAME}} to jobs/{job}.yaml")
    runbook = config.runbooks[spec.runbook]
    params = dict(spec.params)
    if "job" in runbook.params and runbook.params["job"].type == "job":
        params.setdefault("job", job)
    with resource_lock(catalog, job_lock_name(job, DRILL), purpose=f"drill of {job}"):
        return start(
            config, catalog, spec.runbook, params, Operator(actor, yes=True, cancel=cancel)
        )
