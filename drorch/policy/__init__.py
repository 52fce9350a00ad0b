"""Policy compliance: is every job within its policy right now, and since when not?

Evaluated from the catalog alone (no restic calls): `evaluate` reads the facts of every job
in a few aggregate queries and applies the rules of drorch.policy.rules to them.
"""

from __future__ import annotations

from datetime import datetime

from drorch.catalog import Catalog
from drorch.catalog.facts import JobFacts, read_facts
from drorch.config import Config
from drorch.gcpause import paused_gc
from drorch.policy.rules import JobCompliance, RuleResult, evaluate_job
from drorch.policy.vaulting import as_placed

__all__ = ["JobCompliance", "RuleResult", "evaluate"]


def evaluate(
    config: Config, catalog: Catalog, now: datetime, *, jobs: list[str] | None = None
) -> list[JobCompliance]:
    """The compliance of every job (or of `jobs`), sorted by name, at `now` (UTC-aware)."""
    names = sorted(jobs if jobs is not None else config.jobs)
    with paused_gc():  # 2,000 jobs' facts and rules: a third less CPU without collections
        facts = read_facts(catalog, set(names) if jobs is not None else None)
        grace = config.settings.daemon.misfire_grace
        targets = as_placed(config.targets, catalog)
        return [
            evaluate_job(
                name,
                config.jobs[name],
                config.policy_of(config.jobs[name]),
                facts.get(name, JobFacts()),
                targets,
                now,
                grace,
            )
            for name in names
        ]
