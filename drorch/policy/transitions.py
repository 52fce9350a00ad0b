"""From evaluation results to rule-state transitions (kept by drorch.catalog.rule_states)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from drorch.catalog import Catalog
from drorch.catalog.rule_states import Observed, write
from drorch.evidence.canonical import utc_iso
from drorch.policy.rules import JobCompliance, RuleResult


def result_json(result: RuleResult) -> dict[str, Any]:
    return {
        "rule": result.rule,
        "ok": result.ok,
        "value": result.value,
        "limit": result.limit,
        "since": utc_iso(result.since) if result.since else None,
        "detail": result.detail,
    }


def find(
    catalog: Catalog,
    results: Sequence[JobCompliance],
    now: datetime,
    *,
    jobs: Sequence[str] | None = None,
) -> int:
    """Write the rule states that changed (`results` of all jobs, or of `jobs`); how many
    transitions this call found."""
    return write(
        catalog,
        (
            Observed(job.job, rule.rule, rule.ok, rule.since, result_json(rule))
            for job in results
            for rule in job.rules
        ),
        now,
        jobs=jobs,
    )
