"""Policy compliance: is every job within its policy right now, and since when not?

Evaluated from the catalog alone (no restic calls): `evaluate` reads the facts of every job
in a few aggregate queries and applies the rules of drorch.policy.rules to them.
"""

from __future__ import annotations

from datetime import datetime

from drorch.action_key import REPLICATE, ActionKey
from drorch.catalog import Catalog
from drorch.catalog.facts import JobFacts, read_facts
from drorch.config import Config
from drorch.policy.rules import JobCompliance, RuleResult, copies_of, evaluate_job, rpo
from drorch.policy.vaulting import as_placed

__all__ = ["JobCompliance", "RuleResult", "evaluate", "rpo_at_risk"]


def evaluate(
    config: Config, catalog: Catalog, now: datetime, *, jobs: list[str] | None = None
) -> list[JobCompliance]:
    """The compliance of every job (or of `jobs`), sorted by name, at `now` (UTC-aware)."""
    names = sorted(jobs if jobs is not None else config.jobs)
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


def rpo_at_risk(config: Config, catalog: Catalog, job: str, action: str, at: datetime) -> bool:
    """Whether the copy `action` writes (a snapshot its primary, a replication its target)
    will be past the job's RPO at `at` (when its next slot would run it) unless it runs
    sooner. Actions that write no copy never are."""
    spec = config.jobs[job]
    key = ActionKey.parse(action)
    target = {"snapshot": spec.snapshot.target, REPLICATE: key.target}.get(key.verb)
    if target is None or target not in copies_of(spec):
        return False
    facts = read_facts(catalog, {job}).get(job, JobFacts())
    results = rpo(spec, config.policy_of(spec), facts, at)
    return any(r.rule == f"rpo:{target}" and not r.ok for r in results)
