"""A runbook's steps as a run performs them: a group of consecutive steps that say
`each_job: SITE` is repeated for every job of that site (whose primary copy is there; `*`
for every job), in the order of their policies' RTO, shortest first, each job's steps
together: restore[a], verify[a], restore[b], verify[b]. Inside, `{job}` is that job and
`{steps.NAME.FIELD}` that job's own earlier step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from drorch.config import Config
from drorch.config.runbooks import Runbook, Step
from drorch.errors import UsageError
from drorch.runbooks.values import fill

EVERY = "*"


@dataclass(frozen=True)
class Instance:
    position: int
    name: str  # the step's name, or NAME[JOB] inside an each_job group
    step: Step
    job: str | None  # what {job} is

    def params(self, params: Mapping[str, str]) -> dict[str, str]:
        return {**params, "job": self.job} if self.job else dict(params)

    def outputs(self, done: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """Earlier outputs by step name; this job's own instance of a step comes first."""
        seen = {name.partition("[")[0]: out for name, out in done.items() if "[" not in name}
        if self.job:
            suffix = f"[{self.job}]"
            seen |= {n.removesuffix(suffix): o for n, o in done.items() if n.endswith(suffix)}
        return seen


def jobs_of_site(config: Config, site: str) -> list[str]:
    """The jobs whose primary copy is at `site`, shortest RTO first."""
    if site == EVERY:
        jobs = list(config.jobs)
    else:
        sites = {t.site for t in config.targets.values()}
        if site not in sites:
            raise UsageError(f"no target is at site {site!r} (sites: {', '.join(sorted(sites))})")
        jobs = [n for n, j in config.jobs.items() if config.target(j.snapshot.target).site == site]
    return sorted(jobs, key=lambda n: (config.policy_of(config.jobs[n]).rto, n))


def expand(config: Config, runbook: Runbook, params: Mapping[str, str]) -> list[Instance]:
    instances: list[Instance] = []
    for each, group in groupby(runbook.steps, key=lambda s: s.each_job):
        steps = list(group)
        if each is None:
            instances += [
                Instance(len(instances) + i, s.name, s, None) for i, s in enumerate(steps)
            ]
            continue
        site = str(fill(each, params, {}))
        jobs = jobs_of_site(config, site)
        if not jobs:  # a recovery that restores nothing must not pass
            raise UsageError(
                f"no job has its primary copy at site {site!r}: steps "
                f"{', '.join(s.name for s in steps)} would restore nothing"
            )
        for job in jobs:
            for step in steps:
                instances.append(Instance(len(instances), f"{step.name}[{job}]", step, job))
    return instances
