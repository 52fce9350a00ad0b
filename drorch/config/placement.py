"""Which nodes may run an action of a job: those that reach every target it uses.

A target may name the nodes that reach it (`nodes: [tape-host-1]`: its disk is mounted
there, its drive attached); one that names none is reached from every node. An action
uses the targets it reads or writes: a snapshot its target; a replication its source (the
snapshot target) and its destination; a restore test the copies it tests in turn; prune
and check every copy of the job. It may run on the nodes common to all of those that name
nodes; a set with no node in it is a configuration error (`validate` reports it).
"""

from __future__ import annotations

from collections.abc import Mapping

from drorch.action_key import REPLICATE, ActionKey, replicate_key
from drorch.config.model import Job, Target
from drorch.config.references import JobFile
from drorch.config.yamlsource import FieldPath
from drorch.errors import ConfigIssue


def targets_used(job: Job, action: str) -> list[str]:
    """The targets an action of `job` reads or writes, by name."""
    key = ActionKey.parse(action)
    copies = [job.snapshot.target, *(r.to for r in job.replicate)]
    if key.verb == "snapshot":
        return [job.snapshot.target]
    if key.verb == REPLICATE and key.target:
        return [job.snapshot.target, key.target]
    if key.verb == "restore-test":
        tested = job.restore_test.from_ if job.restore_test else ()
        return list(tested) or [job.snapshot.target]
    if key.verb in ("prune", "check"):
        return copies
    return []  # a drill: its runbook's steps say where they go


def allowed_nodes(targets: Mapping[str, Target], job: Job, action: str) -> frozenset[str] | None:
    """The nodes that may run `action` of `job`; None when any node may."""
    allowed: frozenset[str] | None = None
    for name in targets_used(job, action):
        target = targets.get(name)
        if target is None or not target.nodes:
            continue
        nodes = frozenset(target.nodes)
        allowed = nodes if allowed is None else allowed & nodes
    return allowed


def placement_issues(
    targets: Mapping[str, Target], files: Mapping[str, JobFile]
) -> list[ConfigIssue]:
    """Each action of a valid job that no node could run: its targets name nodes, and none
    is common to all of them."""
    if not any(target.nodes for target in targets.values()):
        return []  # any node may run anything (allowed_nodes is None): 2,000 jobs unwalked
    issues = []
    for file in files.values():
        job = file.job
        if job is None:
            continue
        actions: list[tuple[str, FieldPath]] = [("snapshot", ("snapshot", "target"))]
        actions += [
            (replicate_key(r.to), ("replicate", i, "to")) for i, r in enumerate(job.replicate)
        ]
        for verb, present in (
            ("restore-test", job.restore_test),
            ("prune", job.prune),
            ("check", job.check),
        ):
            if present is not None:
                actions.append((verb, (verb.replace("-", "_"),)))
        for action, path in actions:
            if allowed_nodes(targets, job, action) == frozenset():
                named = [
                    f"{name} (nodes: {', '.join(targets[name].nodes)})"
                    for name in targets_used(job, action)
                    if name in targets and targets[name].nodes
                ]
                issues.append(
                    file.doc.issue(
                        path,
                        f"no node reaches all of {', '.join(named)}: {action} could run nowhere",
                    )
                )
    return issues
