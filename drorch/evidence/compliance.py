"""Each job's compliance as its evidence records tell it: the rule transitions the daemon's
compliance watch signed (`policy-violation`, `policy-restored`), and from them every
known rule's state after the last record read.

    events = rule_events(records)            # the transitions, in the records' order
    states = job_rules(events)               # job -> its rules, violated ones first

Only transitions are recorded: a rule that was never violated has no record, and a rule
whose last transition is older than the records given is not known from them. Pure: the
report (drorch.evidence.report) renders what this reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The kinds drorch.catalog.rule_states gives its transitions (a unit test keeps them equal).
VIOLATION = "policy-violation"
RESTORED = "policy-restored"
KINDS = (VIOLATION, RESTORED)
NO_RULE = "(no rule)"


@dataclass(frozen=True)
class RuleEvent:
    """One transition: `rule` of `job` turned violated (ok False) or back to ok at `at`."""

    seq: int | None
    at: str | None  # when the watch recorded the transition (UTC, as in the record)
    job: str | None
    policy: str | None
    rule: str
    ok: bool
    value: Any  # what was measured (seconds, a count, a list, a mapping), as recorded
    limit: Any  # the policy's limit for it, as recorded
    since: str | None  # the rule's own reckoning of when it became violated, when it has one
    detail: str


@dataclass(frozen=True)
class JobRules:
    """A job's rules at the last record read: violated ones first (longest violated first),
    then the ok ones, each by its last transition."""

    job: str | None
    rules: tuple[RuleEvent, ...]

    @property
    def violated(self) -> tuple[RuleEvent, ...]:
        return tuple(r for r in self.rules if not r.ok)


def rule_events(records: Iterable[Mapping[str, Any]]) -> list[RuleEvent]:
    """The policy transitions among records (any kinds), in the order given."""
    return [_event(r) for r in records if r.get("kind") in KINDS]


def job_rules(
    events: Iterable[RuleEvent], *, up_to: int | None = None
) -> dict[str | None, JobRules]:
    """Every job's known rules after the last of events (with seq <= up_to, when given: the
    state at a checkpoint of that size)."""
    last: dict[tuple[str | None, str], RuleEvent] = {}
    for event in events:
        if up_to is not None and event.seq is not None and event.seq > up_to:
            continue
        last[(event.job, event.rule)] = event
    by_job: dict[str | None, list[RuleEvent]] = {}
    for (job, _), event in last.items():
        by_job.setdefault(job, []).append(event)
    return {
        job: JobRules(job, tuple(sorted(rules, key=_violated_first)))
        for job, rules in by_job.items()
    }


def _violated_first(event: RuleEvent) -> tuple[bool, bool, int, str]:
    """Violated before ok; among the violated, the earliest transition (lowest seq) first."""
    seq = 0 if event.ok or event.seq is None else event.seq
    return (event.ok, not event.ok and event.seq is None, seq, event.rule)


def _event(record: Mapping[str, Any]) -> RuleEvent:
    seq = record.get("seq")
    return RuleEvent(
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        at=_text(record.get("at")),
        job=_text(record.get("job")),
        policy=_text(record.get("policy")),
        rule=_text(record.get("rule")) or NO_RULE,
        ok=record.get("kind") == RESTORED,  # the signed kind says which way it turned
        value=record.get("value"),
        limit=record.get("limit"),
        since=_text(record.get("since")),
        detail=_text(record.get("detail")) or "",
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
