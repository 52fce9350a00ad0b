"""What Prometheus is told: pure builders from the catalog's facts (drorch.catalog.metrics)
and the compliance results to metric families.

Every family is a gauge and is always emitted, with no samples when there is nothing to
say. A value that is not known (a copy never written, an RTO never projected) has no
sample rather than NaN: alert on the matching `drorch_compliance_rule_ok` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from drorch.catalog import RunStatus
from drorch.catalog.metrics import CatalogFacts, Evidence, Success
from drorch.catalog.nodes import NodeStatus, Overview
from drorch.catalog.outbox import Backlog
from drorch.policy import JobCompliance

Labels = tuple[str, ...]


@dataclass(frozen=True)
class Spec:
    """One metric family: its name, help text and label names."""

    name: str
    help: str
    labels: Labels = ()

    def family(self, samples: Iterable[tuple[Labels, float]]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(self.name, self.help, labels=self.labels)
        for values, value in samples:
            family.add_metric(values, value)
        return family


JA = ("drorch_job", "action")
LAST_SUCCESS = Spec(
    "drorch_last_success_timestamp_seconds", "When the newest successful run ended.", JA
)
LAST_DURATION = Spec(
    "drorch_last_success_duration_seconds", "How long the newest successful run took.", JA
)
LAST_PROCESSED = Spec(
    "drorch_last_success_processed_bytes", "Bytes the newest successful run read.", JA
)
LAST_ADDED = Spec(
    "drorch_last_success_added_bytes", "Bytes the newest successful run added to the target.", JA
)
JOB_COMPLIANT = Spec(
    "drorch_job_compliant", "1 when every rule of the job holds, else 0.", ("drorch_job",)
)
RULE_OK = Spec(
    "drorch_compliance_rule_ok", "1 when the rule holds, else 0.", ("drorch_job", "rule")
)
RPO_AGE = Spec(
    "drorch_rpo_age_seconds",
    "Age of the newest complete snapshot on the copy (PARTIAL and ORPHANED ones never count).",
    ("drorch_job", "target"),
)
RPO_LIMIT = Spec("drorch_rpo_limit_seconds", "The RPO of the job's policy.", ("drorch_job",))
RTO_PROJECTED = Spec(
    "drorch_rto_projected_seconds",
    "Full-restore time projected by the newest passed restore test.",
    ("drorch_job",),
)
RTO_LIMIT = Spec("drorch_rto_limit_seconds", "The RTO of the job's policy.", ("drorch_job",))
RUNS = Spec("drorch_runs", "Runs in the catalog, by action and status.", ("action", "status"))
EVIDENCE_RECORDS = Spec("drorch_evidence_log_records", "Records in the evidence log.")
CHECKPOINT_AT = Spec(
    "drorch_evidence_checkpoint_timestamp_seconds", "When the newest checkpoint was signed."
)
CHECKPOINT_SIZE = Spec(
    "drorch_evidence_checkpoint_tree_size", "Records the newest checkpoint covers."
)
OUTBOX_PENDING = Spec("drorch_outbox_pending", "Notifications waiting to be delivered.")
OUTBOX_GIVEN_UP = Spec("drorch_outbox_given_up", "Notifications given up on, never delivered.")
OUTBOX_SUPERSEDED = Spec(
    "drorch_outbox_superseded",
    "Pings not sent because a newer state of the same check was sent in their place.",
)
OUTBOX_OLDEST = Spec(
    "drorch_outbox_oldest_pending_age_seconds",
    "Age of the oldest notification waiting to be delivered; 0 when none waits.",
)
HEARTBEAT = Spec(
    "drorch_node_heartbeat_timestamp_seconds",
    "Newest heartbeat of the node's daemon.",
    ("node", "host"),
)
NODE_STATUS = Spec(
    "drorch_node_status",
    "1 for the node's status (up, silent, stopped), 0 for the others.",
    ("node", "status"),
)
NODE_LEADER = Spec("drorch_node_leader", "1 for the node that leads now, else 0.", ("node",))
NODE_DRAINING = Spec("drorch_node_draining", "1 when the node is drained, else 0.", ("node",))
LEADER_EPOCH = Spec(
    "drorch_leader_epoch", "The fencing epoch: raised by one at each change of leader."
)
GENERATED = Spec("drorch_metrics_generated_timestamp_seconds", "When these metrics were computed.")


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def success_families(successes: Sequence[Success]) -> list[Metric]:
    def each(value: Any) -> Iterable[tuple[Labels, float]]:
        return (((s.job, s.action), float(v)) for s in successes if (v := value(s)) is not None)

    return [
        LAST_SUCCESS.family(each(lambda s: s.at.timestamp())),
        LAST_DURATION.family(each(lambda s: s.duration_s)),
        LAST_PROCESSED.family(each(lambda s: s.bytes_processed)),
        LAST_ADDED.family(each(lambda s: s.bytes_added)),
    ]


def compliance_families(compliance: Sequence[JobCompliance]) -> list[Metric]:
    ok: list[tuple[Labels, float]] = []
    rpo_age: list[tuple[Labels, float]] = []
    rpo_limit: list[tuple[Labels, float]] = []
    rto: list[tuple[Labels, float]] = []
    rto_limit: list[tuple[Labels, float]] = []

    def add(to: list[tuple[Labels, float]], labels: Labels, value: Any) -> None:
        if (seconds := _seconds(value)) is not None:
            to.append((labels, seconds))

    for job in compliance:
        for rule in job.rules:
            ok.append(((job.job, rule.rule), float(rule.ok)))
            kind, _, target = rule.rule.partition(":")
            if kind == "rpo":
                add(rpo_age, (job.job, target), rule.value)
            elif kind == "rto":
                add(rto, (job.job,), rule.value)
                add(rto_limit, (job.job,), rule.limit)
        first_rpo = next((r for r in job.rules if r.rule.startswith("rpo:")), None)
        if first_rpo is not None:  # every copy has the policy's one RPO
            add(rpo_limit, (job.job,), first_rpo.limit)
    return [
        JOB_COMPLIANT.family(((j.job,), float(j.ok)) for j in compliance),
        RULE_OK.family(ok),
        RPO_AGE.family(rpo_age),
        RPO_LIMIT.family(rpo_limit),
        RTO_PROJECTED.family(rto),
        RTO_LIMIT.family(rto_limit),
    ]


def run_families(runs: Mapping[tuple[str, RunStatus], int]) -> list[Metric]:
    """Every status of every action seen, zero included, so a rate never loses its series."""
    actions = sorted({action for action, _ in runs})
    return [
        RUNS.family(((a, s.value), float(runs.get((a, s), 0))) for a in actions for s in RunStatus)
    ]


def evidence_families(evidence: Evidence) -> list[Metric]:
    at, size = evidence.checkpoint_at, evidence.checkpoint_size
    return [
        EVIDENCE_RECORDS.family([((), float(evidence.records))]),
        CHECKPOINT_AT.family([((), at.timestamp())] if at else []),
        CHECKPOINT_SIZE.family([((), float(size))] if size is not None else []),
    ]


def outbox_families(outbox: Backlog, now: datetime) -> list[Metric]:
    oldest = outbox.oldest_pending
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return [
        OUTBOX_PENDING.family([((), float(outbox.pending))]),
        OUTBOX_GIVEN_UP.family([((), float(outbox.gave_up))]),
        OUTBOX_SUPERSEDED.family([((), float(outbox.superseded))]),
        OUTBOX_OLDEST.family([((), age)]),
    ]


def daemon_families(nodes: Overview, now: datetime) -> list[Metric]:
    return [
        HEARTBEAT.family(((n.name, n.host), n.heartbeat_at.timestamp()) for n in nodes.nodes),
        NODE_STATUS.family(
            ((n.name, status.value), float(n.status is status))
            for n in nodes.nodes
            for status in NodeStatus
        ),
        NODE_LEADER.family(((n.name,), float(n.leader)) for n in nodes.nodes),
        NODE_DRAINING.family(((n.name,), float(n.draining)) for n in nodes.nodes),
        LEADER_EPOCH.family([((), float(nodes.epoch))]),
        GENERATED.family([((), now.timestamp())]),
    ]


def families(
    facts: CatalogFacts, compliance: Sequence[JobCompliance], now: datetime
) -> list[Metric]:
    """Every family drorch exports, from the catalog facts and the compliance at `now`."""
    if now.utcoffset() is None:
        raise ValueError("naive datetime given for the metrics' time; use UTC-aware times")
    return [
        *success_families(facts.successes),
        *compliance_families(compliance),
        *run_families(facts.runs),
        *evidence_families(facts.evidence),
        *outbox_families(facts.outbox, now),
        *daemon_families(facts.nodes, now),
    ]
