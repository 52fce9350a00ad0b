"""Handler of `drorch compliance` (re-exported by commands): every job against its policy."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from drorch.catalog import utc_now
from drorch.catalog.rule_states import State, states
from drorch.cli.opening import open_command_catalog
from drorch.cli.render import GREEN, RED, duration, iso_utc, print_json, print_table
from drorch.config import load_config, resolve_root
from drorch.errors import EXIT_VIOLATION
from drorch.policy import JobCompliance, RuleResult, evaluate

_SECONDS = {"rpo", "verified_rpo", "rto", "restore_test"}


def _json(result: JobCompliance) -> dict[str, Any]:
    return {
        "job": result.job,
        "ok": result.ok,
        "rules": [
            {
                "rule": r.rule,
                "ok": r.ok,
                "value": r.value,
                "limit": r.limit,
                "since": iso_utc(r.since),
                "detail": r.detail,
            }
            for r in result.rules
        ],
    }


def _shown(rule: RuleResult, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    if rule.rule.partition(":")[0] in _SECONDS and isinstance(value, int | float):
        return duration(float(value))
    return str(value)


def with_seen_since(
    results: list[JobCompliance], seen: dict[tuple[str, str], State]
) -> list[JobCompliance]:
    """Where the catalog cannot date a violation (a job that never ran), the time the
    daemon first saw it violated, if it did."""

    def dated(job: str, rule: RuleResult) -> RuleResult:
        ok, since = seen.get((job, rule.rule), (True, None))
        if rule.ok or rule.since is not None or ok or since is None:
            return rule
        return replace(rule, since=since)

    return [replace(r, rules=[dated(r.job, rule) for rule in r.rules]) for r in results]


def cmd_compliance(args: argparse.Namespace) -> int:
    config = load_config(resolve_root(args.config), check_secrets=False)
    if args.job:
        config.job(args.job)  # an unknown job is a usage error naming the known ones
    catalog = open_command_catalog(config)
    try:
        results = evaluate(config, catalog, utc_now(), jobs=[args.job] if args.job else None)
        results = with_seen_since(results, states(catalog, args.job))
    finally:
        catalog.close()
    if args.json:
        print_json([_json(r) for r in results])
    else:
        rows = [
            [
                r.job,
                rule.rule,
                "ok" if rule.ok else "VIOLATED",
                _shown(rule, rule.value),
                _shown(rule, rule.limit),
                iso_utc(rule.since),
                rule.detail,
            ]
            for r in results
            for rule in r.rules
        ]
        print_table(
            ["job", "rule", "state", "value", "limit", "since", "detail"],
            rows,
            empty="no jobs",
            colors={"VIOLATED": RED, "ok": GREEN},
        )
    return EXIT_VIOLATION if any(not r.ok for r in results) else 0
