"""What job files say about other files: the targets and the policy they name exist, each
target holds one copy of a job, snapshots go to a disk target, every copy sits inside the
policy's residency, and a pinged action is one the job has.

The names are read from each job file's data, so that a job with a structural problem (an
unknown key, a bad schedule) still has its references checked: every problem at once. A
value the schema refused is left to that problem, never reported twice.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drorch.action_key import replicate_key
from drorch.config.model import NAME_PATTERN, DiskTarget, Job, Policy, Target
from drorch.config.yamlsource import Document, FieldPath, dotted
from drorch.errors import ConfigIssue


@dataclass(frozen=True)
class JobFile:
    """A job file as read: its data, the Job when it is valid, the fields already refused."""

    doc: Document
    job: Job | None
    refused: Collection[str] = ()


@dataclass(frozen=True)
class References:
    """The names a job file uses, each with where it is written."""

    policy: str | None
    snapshot: str | None
    replicate: tuple[tuple[FieldPath, str], ...]
    restore_from: tuple[tuple[FieldPath, str], ...]

    @classmethod
    def of(cls, file: JobFile) -> References:
        data = file.doc.data

        def name(path: FieldPath) -> str | None:
            value = _at(data, path)
            if not isinstance(value, str) or not re.fullmatch(NAME_PATTERN, value):
                return None
            return None if file.refused and dotted(path) in file.refused else value

        def names(paths: Iterable[FieldPath]) -> tuple[tuple[FieldPath, str], ...]:
            return tuple((path, ref) for path in paths if (ref := name(path)) is not None)

        return cls(
            policy=name(("policy",)),
            snapshot=name(("snapshot", "target")),
            replicate=names(("replicate", i, "to") for i in _indices(data, ("replicate",))),
            restore_from=names(
                ("restore_test", "from", i) for i in _indices(data, ("restore_test", "from"))
            ),
        )


def _indices(data: Any, path: FieldPath) -> range:
    value = _at(data, path)
    return range(len(value) if isinstance(value, list) else 0)


def _at(data: Any, path: FieldPath) -> Any:
    """The value at `path`, or None where the data has no such place."""
    for part in path:
        container: Any = data if isinstance(data, dict | list) else None
        try:
            data = container[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def known(names: Iterable[str]) -> str:
    listed = ", ".join(sorted(names))
    return f" (known: {listed})" if listed else " (none defined)"


def cross_check(
    targets: Mapping[str, Target] | None,
    jobs: Mapping[str, JobFile],
    policies: Mapping[str, Policy],
    invalid_policies: Collection[str],
) -> list[ConfigIssue]:
    """The problems of every job's references; `targets` is None when drorch.yaml is
    invalid, and then only policies are checked."""
    issues: list[ConfigIssue] = []
    for name, file in jobs.items():
        refs, doc = References.of(file), file.doc
        if targets is not None:
            issues.extend(_target_references(name, refs, doc, targets))
        if file.job is not None:
            issues.extend(_pinged_actions(name, file.job, doc))
        if refs.policy is None:
            continue
        if refs.policy not in policies and refs.policy not in invalid_policies:
            issues.append(
                doc.issue(("policy",), f"no policy named {refs.policy!r}{known(policies)}")
            )
        policy = policies.get(refs.policy)
        if policy is not None and targets is not None:
            issues.extend(_residency(doc, refs.policy, policy, refs, targets))
    return issues


def _target_references(
    name: str, refs: References, doc: Document, targets: Mapping[str, Target]
) -> list[ConfigIssue]:
    """Targets a job names must exist, hold a copy once, and snapshots go to disk."""
    issues: list[ConfigIssue] = []

    def missing(ref: str, path: FieldPath) -> bool:
        if ref in targets:
            return False
        issues.append(doc.issue(path, f"no target named {ref!r}{known(targets)}"))
        return True

    path: FieldPath = ("snapshot", "target")
    primary = refs.snapshot
    if primary is not None and not missing(primary, path):
        target = targets[primary]
        if not isinstance(target, DiskTarget):
            issues.append(
                doc.issue(
                    path,
                    f"target {primary!r} is {target.kind}; snapshots are written to a disk target",
                )
            )
    seen = {primary}
    for path, replica in refs.replicate:
        missing(replica, path)
        if replica in seen:
            issues.append(doc.issue(path, f"target {replica!r} already holds a copy of {name}"))
        seen.add(replica)
    for path, source in refs.restore_from:
        if not missing(source, path) and source not in seen:
            issues.append(doc.issue(path, f"target {source!r} holds no copy of {name}"))
    return issues


def _pinged_actions(name: str, job: Job, doc: Document) -> list[ConfigIssue]:
    actions = ["snapshot", *(replicate_key(r.to) for r in job.replicate)]
    actions += [a for a in ("restore-test", "prune", "check") if getattr(job, a.replace("-", "_"))]
    return [
        doc.issue(
            ("ping", "actions", i),
            f"{name} has no action {action!r} (its actions: {', '.join(actions)})",
        )
        for i, action in enumerate(job.ping.actions if job.ping else ())
        if action not in actions
    ]


def _residency(
    doc: Document,
    policy_name: str,
    policy: Policy,
    refs: References,
    targets: Mapping[str, Target],
) -> list[ConfigIssue]:
    uses = [(("snapshot", "target"), refs.snapshot), *refs.replicate]
    issues = []
    for path, ref in uses:
        target = targets.get(ref) if ref is not None else None
        if target is not None and target.jurisdiction not in policy.residency:
            issues.append(
                doc.issue(
                    path,
                    (
                        f"target {ref!r} is in jurisdiction {target.jurisdiction}, outside policy "
                        f"{policy_name!r} residency ({', '.join(policy.residency)})"
                    ),
                )
            )
    return issues
