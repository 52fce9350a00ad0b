"""The compliance rules: pure functions from a job, its policy and its catalog facts
to results. No I/O here; `evaluate` in drorch.policy reads the facts and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drorch.action_key import replicate_key
from drorch.catalog import RunStatus, SnapshotStatus
from drorch.catalog.facts import RESTORE_TEST, Incomplete, JobFacts
from drorch.config.model import Job, Policy, Target
from drorch.config.schedule import next_fire

NEVER_RAN = "never ran"


@dataclass(frozen=True)
class RuleResult:
    rule: str
    ok: bool
    value: Any = None
    limit: Any = None
    since: datetime | None = None  # when it became violated, as far as the catalog tells
    detail: str = ""


@dataclass(frozen=True)
class JobCompliance:
    job: str
    ok: bool
    rules: list[RuleResult]


def _s(delta: timedelta) -> int:
    return int(delta.total_seconds())


def _age(now: datetime, at: datetime) -> tuple[timedelta, str]:
    """How old what is dated `at` is at `now`, never negative, and a note when it is dated
    after `now`: the clock was set back (or another node's runs ahead), and what the
    catalog holds is then as new as can be, not younger than new."""
    if at <= now:
        return now - at, ""
    ahead = f"; it is dated {_s(at - now)}s ahead of this host's clock (was the clock set back?)"
    return timedelta(0), ahead


def copies_of(job: Job) -> list[str]:
    """The targets the job keeps copies on: its snapshot target, then replicate targets."""
    names = [job.snapshot.target]
    names += [r.to for r in job.replicate if r.to not in names]
    return names


def rpo(job: Job, policy: Policy, facts: JobFacts, now: datetime) -> list[RuleResult]:
    """Per copy: the age of the newest COMPLETE snapshot on it against the policy's RPO.
    Newer snapshots that are not complete (PARTIAL, ORPHANED) never count; the detail
    names them."""
    results = []
    for i, target in enumerate(copies_of(job)):
        newest = facts.newest_on.get(target)
        incomplete = facts.incomplete.get(target, [])
        name = f"rpo:{target}"
        if newest is None:
            action = "snapshot" if i == 0 else replicate_key(target)
            if incomplete:
                detail = f"no complete snapshot on {target}; {_incomplete(incomplete)}"
            elif action not in facts.last_finished:
                detail = NEVER_RAN
            else:
                detail = f"no snapshot on {target}"
            results.append(RuleResult(name, False, None, _s(policy.rpo), None, detail))
            continue
        age, ahead = _age(now, newest)
        ok = age <= policy.rpo
        detail = f"newest snapshot on {target} is {_s(age)}s old"
        if incomplete:
            detail = (
                f"newest complete snapshot on {target} is {_s(age)}s old; "
                f"{_incomplete(incomplete, newer=True)}"
            )
        detail += ahead
        results.append(
            RuleResult(
                name, ok, _s(age), _s(policy.rpo), None if ok else newest + policy.rpo, detail
            )
        )
    return results


def _named(ids: Sequence[int], others: Sequence[str] = (), most: int = 3) -> str:
    """' (run 12)', ' (runs 12, 13, 14 and 2 more)', ' (snapshot 1a2b3c4d)'"""
    names = [f"run {i}" for i in ids] + [f"snapshot {o}" for o in others]
    if not names:
        return ""
    if not others and len(ids) > 1:
        names = [f"runs {ids[0]}", *map(str, ids[1:])]
    shown = ", ".join(names[:most])
    return f" ({shown}{f' and {len(names) - most} more' if len(names) > most else ''})"


def _incomplete(snapshots: list[Incomplete], *, newer: bool = False) -> str:
    """'1 newer snapshot is PARTIAL (run 12)', '2 snapshots are PARTIAL (runs 3, 4)',
    '2 newer snapshots are not complete: 1 PARTIAL (run 12), 1 ORPHANED (run 14)'"""
    parts = []
    for status in SnapshotStatus:
        of = [x for x in snapshots if x.status is status]
        if of:
            ids = [x.run_id for x in of if x.run_id is not None]
            others = [x.snapshot_id[:8] for x in of if x.run_id is None]
            parts.append((len(of), f"{status.value}{_named(ids, others)}"))
    what = ("newer " if newer else "") + ("snapshot is" if len(snapshots) == 1 else "snapshots are")
    if len(parts) == 1:
        return f"{len(snapshots)} {what} {parts[0][1]}"
    listed = ", ".join(f"{n} {text}" for n, text in parts)
    return f"{len(snapshots)} {what} not complete: {listed}"


def verified_rpo(job: Job, policy: Policy, facts: JobFacts, now: datetime) -> RuleResult:
    """Age of the newest COMPLETE snapshot a restore test passed on. Tests run every
    `restore_test_every`, so the limit is the RPO plus that cadence. A test of a PARTIAL
    snapshot proves the restore (restore_test, rto), not the RPO: files are missing."""
    limit = policy.rpo + (policy.restore_test_every or timedelta(0))
    at = facts.verified_snapshot_at
    if at is None:
        if RESTORE_TEST not in facts.last_finished:
            detail = NEVER_RAN
        elif RESTORE_TEST in facts.last_success:
            detail = "no restore test passed on a complete snapshot"
        else:
            detail = "no restore test passed"
        return RuleResult("verified_rpo", False, None, _s(limit), None, detail)
    age, ahead = _age(now, at)
    ok = age <= limit
    return RuleResult(
        "verified_rpo",
        ok,
        _s(age),
        _s(limit),
        None if ok else at + limit,
        f"newest restore-tested snapshot is from {at:%Y-%m-%dT%H:%M:%SZ}{ahead}",
    )


def rto(policy: Policy, facts: JobFacts) -> RuleResult:
    """The projected full-restore time of the latest passed restore test against the RTO."""
    limit = _s(policy.rto)
    test = facts.last_success.get(RESTORE_TEST)
    if test is None:
        detail = NEVER_RAN if RESTORE_TEST not in facts.last_finished else "no restore test passed"
        return RuleResult("rto", False, None, limit, None, detail)
    evidence = (test.details or {}).get("evidence") or {}
    projected = (evidence.get("rto") or {}).get("projected_s")
    if projected is None:
        return RuleResult(
            "rto", False, None, limit, test.at, f"restore test run {test.id} has no projection"
        )
    ok = float(projected) <= limit
    return RuleResult(
        "rto",
        ok,
        projected,
        limit,
        None if ok else test.at,
        f"projected by restore test run {test.id}",
    )


def restore_test(policy: Policy, facts: JobFacts, now: datetime) -> RuleResult:
    """A passed restore test inside the policy's `restore_test_every`."""
    every = policy.restore_test_every
    if every is None:
        return RuleResult("restore_test", True, None, None, None, "the policy sets no cadence")
    test = facts.last_success.get(RESTORE_TEST)
    if test is None:
        detail = NEVER_RAN if RESTORE_TEST not in facts.last_finished else "no restore test passed"
        return RuleResult("restore_test", False, None, _s(every), None, detail)
    age, ahead = _age(now, test.at)
    ok = age <= every
    return RuleResult(
        "restore_test",
        ok,
        _s(age),
        _s(every),
        None if ok else test.at + every,
        f"last passed restore test: run {test.id}{ahead}",
    )


def copies(job: Job, policy: Policy, facts: JobFacts, targets: Mapping[str, Target]) -> RuleResult:
    """3-2-1-1-0 over the targets holding at least one COMPLETE snapshot of the job."""
    rule = policy.copies
    limit: dict[str, Any] = {"min": rule.min, "media": rule.media, "offsite": rule.offsite}
    limit |= {"offline": rule.offline, "failed": 0}
    if not facts.held_on:
        return RuleResult("copies", False, None, limit, None, NEVER_RAN)
    primary = targets.get(job.snapshot.target)
    held = [targets[t] for t in sorted(facts.newest_on) if t in targets]
    verifications = [facts.failures.get(a) for a in (RESTORE_TEST, "check")]
    failed = [f for f in verifications if f is not None]
    value: dict[str, Any] = {
        "min": len(facts.newest_on),
        "media": len({t.media for t in held}),
        "offsite": sum(1 for t in held if primary is None or t.site != primary.site),
        "offline": sum(1 for t in held if t.offline),
        "failed": sum(f.count for f in failed),
    }
    short = [k for k in limit if (value[k] > limit[k] if k == "failed" else value[k] < limit[k])]
    if rule.media_classes:
        held_classes = sorted({t.media for t in held})
        limit["media_classes"], value["media_classes"] = list(rule.media_classes), held_classes
        missing = [c for c in rule.media_classes if c not in held_classes]
        if missing:
            short.append("media_classes (no copy on " + ", ".join(missing) + ")")
    detail = "holders: " + (", ".join(sorted(facts.newest_on)) or "none")
    if short:
        detail = "short of " + ", ".join(short) + "; " + detail
    uncounted = sorted(set(facts.held_on) - set(facts.newest_on))
    if uncounted:
        detail += f"; not counted: {', '.join(uncounted)} (only snapshots that are not complete)"
    since = min((f.first_at for f in failed), default=None) if short == ["failed"] else None
    return RuleResult("copies", not short, value, limit, since, detail)


def residency(policy: Policy, facts: JobFacts, targets: Mapping[str, Target]) -> RuleResult:
    """Every target holding a copy, complete or not, is in one of the policy's
    jurisdictions."""
    allowed = list(policy.residency)
    if not facts.held_on:
        return RuleResult("residency", False, None, allowed, None, NEVER_RAN)
    places = {
        name: (targets[name].jurisdiction if name in targets else None)
        for name in sorted(facts.held_on)
    }
    outside = [f"{n} ({j or 'unknown'})" for n, j in places.items() if j not in allowed]
    value = sorted({j for j in places.values() if j is not None})
    detail = ("outside: " + ", ".join(outside)) if outside else "every copy inside"
    return RuleResult("residency", not outside, value, allowed, None, detail)


def check(job: Job, facts: JobFacts, now: datetime, grace: timedelta) -> RuleResult:
    """The newest integrity check passed, and the next scheduled one is not overdue."""
    schedule = job.check.schedule if job.check else None
    if schedule is None:
        return RuleResult("check", True, None, None, None, "no check scheduled")
    last = facts.last_finished.get("check")
    if last is None:
        return RuleResult("check", False, None, str(schedule), None, NEVER_RAN)
    if last.status is not RunStatus.SUCCEEDED:
        failure = facts.failures.get("check")
        return RuleResult(
            "check",
            False,
            str(last.status),
            str(schedule),
            failure.first_at if failure else last.at,
            f"check run {last.id} {last.status.lower()}",
        )
    due = next_fire(schedule, after=last.at, last=last.at)
    ok = now <= due + grace
    age, ahead = _age(now, last.at)
    return RuleResult(
        "check",
        ok,
        _s(age),
        str(schedule),
        None if ok else due + grace,
        f"last check passed (run {last.id}); next due {due:%Y-%m-%dT%H:%M:%SZ}{ahead}",
    )


def failed_runs(facts: JobFacts) -> RuleResult:
    """Failed, interrupted or PARTIAL runs, and slots missed while no daemon ran or the
    pool was full, since the last success of each action."""
    if not facts.ran:
        return RuleResult("failed_runs", False, None, 0, None, NEVER_RAN)
    actions = sorted(set(facts.failures) | set(facts.missed))
    count = sum(f.count for f in facts.failures.values())
    count += sum(m.count for m in facts.missed.values())
    firsts = [f.first_at for f in (*facts.failures.values(), *facts.missed.values())]
    parts = []
    for action in actions:
        failed, missed = facts.failures.get(action), facts.missed.get(action)
        said = []
        if failed and failed.count > len(failed.partial):
            said.append(f"{failed.count - len(failed.partial)} failed")
        if failed and failed.partial:
            said.append(f"{len(failed.partial)} PARTIAL{_named(failed.partial)}")
        said += [f"{missed.count} slots missed"] if missed else []
        parts.append(f"{action}: {' and '.join(said)} since last success")
    detail = "; ".join(parts) or "none"
    return RuleResult("failed_runs", count == 0, count, 0, min(firsts, default=None), detail)


def evaluate_job(
    name: str,
    job: Job,
    policy: Policy,
    facts: JobFacts,
    targets: Mapping[str, Target],
    now: datetime,
    grace: timedelta = timedelta(0),
) -> JobCompliance:
    results = [
        *rpo(job, policy, facts, now),
        verified_rpo(job, policy, facts, now),
        rto(policy, facts),
        restore_test(policy, facts, now),
        copies(job, policy, facts, targets),
        residency(policy, facts, targets),
        check(job, facts, now, grace),
        failed_runs(facts),
    ]
    return JobCompliance(name, all(r.ok for r in results), results)
