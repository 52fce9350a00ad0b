"""The metrics drorch computes, parsed back with prometheus-client's own parser."""

from __future__ import annotations

from datetime import datetime

import pytest

from drorch.catalog import Catalog, RunStatus
from drorch.config import Config
from drorch.metrics import collect, render
from drorch.metrics.families import compliance_families
from drorch.policy import JobCompliance, RuleResult, evaluate
from tests.unit.metrics.conftest import NOW, T, parse, value

FAMILIES = {
    "drorch_last_success_timestamp_seconds",
    "drorch_last_success_duration_seconds",
    "drorch_last_success_processed_bytes",
    "drorch_last_success_added_bytes",
    "drorch_job_compliant",
    "drorch_compliance_rule_ok",
    "drorch_rpo_age_seconds",
    "drorch_rpo_limit_seconds",
    "drorch_rto_projected_seconds",
    "drorch_rto_limit_seconds",
    "drorch_runs",
    "drorch_evidence_log_records",
    "drorch_evidence_checkpoint_timestamp_seconds",
    "drorch_evidence_checkpoint_tree_size",
    "drorch_outbox_pending",
    "drorch_outbox_given_up",
    "drorch_outbox_superseded",
    "drorch_outbox_oldest_pending_age_seconds",
    "drorch_node_heartbeat_timestamp_seconds",
    "drorch_node_status",
    "drorch_node_leader",
    "drorch_node_draining",
    "drorch_leader_epoch",
    "drorch_metrics_generated_timestamp_seconds",
}


def test_last_success_per_job_and_action(config: Config, filled: Catalog) -> None:
    samples = parse(render(collect(config, filled, NOW)))
    stamp = samples["drorch_last_success_timestamp_seconds"]
    assert stamp == {
        (("action", "snapshot"), ("drorch_job", "app")): T - 3 * 3600 + 90,
        (("action", "replicate:replica"), ("drorch_job", "app")): T - 31 * 60 + 90,
        (("action", "restore-test"), ("drorch_job", "app")): T - 2 * 3600 + 30,
    }  # the newer failed snapshot does not count; `gone` is no configured job
    took = samples["drorch_last_success_duration_seconds"]
    assert took[(("action", "snapshot"), ("drorch_job", "app"))] == 90
    assert took[(("action", "restore-test"), ("drorch_job", "app"))] == 30
    # Bytes only where the run recorded them: no NaN, no zero standing in for unknown.
    assert samples["drorch_last_success_processed_bytes"] == {
        (("action", "snapshot"), ("drorch_job", "app")): 1000
    }
    assert samples["drorch_last_success_added_bytes"] == {
        (("action", "snapshot"), ("drorch_job", "app")): 200
    }


def test_a_stale_copy_turns_its_rule_and_its_job_red(config: Config, filled: Catalog) -> None:
    samples = parse(render(collect(config, filled, NOW)))
    assert value(samples, "drorch_compliance_rule_ok", drorch_job="app", rule="rpo:primary") == 0
    assert value(samples, "drorch_compliance_rule_ok", drorch_job="app", rule="rpo:replica") == 1
    assert value(samples, "drorch_compliance_rule_ok", drorch_job="app", rule="rto") == 1
    assert samples["drorch_rpo_age_seconds"] == {
        (("drorch_job", "app"), ("target", "primary")): 3 * 3600,
        (("drorch_job", "app"), ("target", "replica")): 30 * 60,
    }  # idle never ran: no sample rather than NaN
    app, idle = (("drorch_job", "app"),), (("drorch_job", "idle"),)
    assert samples["drorch_rpo_limit_seconds"] == {app: 3600, idle: 3600}
    assert samples["drorch_rto_projected_seconds"] == {(("drorch_job", "app"),): 1200.5}
    assert samples["drorch_rto_limit_seconds"] == {app: 1800, idle: 1800}
    assert samples["drorch_job_compliant"] == {app: 0, idle: 0}


def test_every_rule_of_every_job_is_a_sample(config: Config, filled: Catalog) -> None:
    results = evaluate(config, filled, NOW)
    samples = parse(render(collect(config, filled, NOW)))
    assert samples["drorch_compliance_rule_ok"] == {
        (("drorch_job", job.job), ("rule", rule.rule)): float(rule.ok)
        for job in results
        for rule in job.rules
    }


def test_runs_by_action_and_status_zeros_included(config: Config, filled: Catalog) -> None:
    runs = parse(render(collect(config, filled, NOW)))["drorch_runs"]
    assert len(runs) == 3 * len(RunStatus)
    counted = {k: v for k, v in runs.items() if v}
    assert counted == {
        (("action", "snapshot"), ("status", "SUCCEEDED")): 2,  # `gone` counts: the catalog's
        (("action", "snapshot"), ("status", "FAILED")): 1,
        (("action", "replicate:replica"), ("status", "SUCCEEDED")): 1,
        (("action", "restore-test"), ("status", "SUCCEEDED")): 1,
    }
    assert runs[(("action", "restore-test"), ("status", "INTERRUPTED"))] == 0


def test_evidence_outbox_and_daemon(config: Config, filled: Catalog) -> None:
    samples = parse(render(collect(config, filled, NOW)))
    assert value(samples, "drorch_evidence_log_records") == 3
    assert value(samples, "drorch_evidence_checkpoint_tree_size") == 3
    assert value(samples, "drorch_evidence_checkpoint_timestamp_seconds") == T
    assert value(samples, "drorch_outbox_pending") == 2
    assert value(samples, "drorch_outbox_given_up") == 1  # the superseded ping is not lost
    assert value(samples, "drorch_outbox_superseded") == 1
    assert value(samples, "drorch_outbox_oldest_pending_age_seconds") == 2 * 3600
    assert samples["drorch_node_heartbeat_timestamp_seconds"] == {
        (("host", "a"), ("node", "a")): T - 5,  # the newest of the node's daemons
        (("host", "b"), ("node", "b")): T - 2 * 3600,
        (("host", "c"), ("node", "c")): T - 60,
    }
    up = {
        (("node", name), ("status", status)): float(status == shown)
        for name, shown in (("a", "up"), ("b", "stopped"), ("c", "silent"))
        for status in ("up", "silent", "stopped")
    }
    assert samples["drorch_node_status"] == up
    assert samples["drorch_node_leader"] == {
        (("node", "a"),): 1,
        (("node", "b"),): 0,
        (("node", "c"),): 0,
    }
    assert samples["drorch_node_draining"] == {
        (("node", "a"),): 0,
        (("node", "b"),): 0,
        (("node", "c"),): 1,
    }
    assert value(samples, "drorch_leader_epoch") == 1
    assert value(samples, "drorch_metrics_generated_timestamp_seconds") == T


def test_an_empty_catalog_still_emits_every_family(config: Config, catalog: Catalog) -> None:
    samples = parse(render(collect(config, catalog, NOW)))
    assert set(samples) == FAMILIES
    assert samples["drorch_job_compliant"] == {
        (("drorch_job", "app"),): 0,
        (("drorch_job", "idle"),): 0,
    }
    assert samples["drorch_rpo_age_seconds"] == {}
    assert samples["drorch_runs"] == {}
    assert value(samples, "drorch_evidence_log_records") == 0
    assert samples["drorch_evidence_checkpoint_timestamp_seconds"] == {}
    assert value(samples, "drorch_outbox_pending") == 0
    assert value(samples, "drorch_outbox_oldest_pending_age_seconds") == 0
    assert samples["drorch_node_heartbeat_timestamp_seconds"] == {}
    assert samples["drorch_node_leader"] == {}
    assert value(samples, "drorch_leader_epoch") == 0


def test_the_compliance_given_is_used_as_is(config: Config, filled: Catalog) -> None:
    given = [JobCompliance("app", True, [RuleResult("rpo:primary", True, 12, 3600)])]
    samples = parse(render(collect(config, filled, NOW, given)))
    assert samples["drorch_job_compliant"] == {(("drorch_job", "app"),): 1}
    assert samples["drorch_compliance_rule_ok"] == {
        (("drorch_job", "app"), ("rule", "rpo:primary")): 1
    }
    assert samples["drorch_rpo_age_seconds"] == {(("drorch_job", "app"), ("target", "primary")): 12}


def test_unknown_values_have_no_sample() -> None:
    never = JobCompliance(
        "new",
        False,
        [RuleResult("rpo:primary", False, None, 900), RuleResult("rto", False, None, 600)],
    )
    samples = parse(render(compliance_families([never])))
    assert samples["drorch_rpo_age_seconds"] == {}
    assert samples["drorch_rto_projected_seconds"] == {}
    assert samples["drorch_rpo_limit_seconds"] == {(("drorch_job", "new"),): 900}
    assert samples["drorch_rto_limit_seconds"] == {(("drorch_job", "new"),): 600}


def test_a_naive_time_is_refused(config: Config, catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="UTC-aware"):
        collect(config, catalog, datetime(2026, 3, 1, 12, 0), [])  # noqa: DTZ001
