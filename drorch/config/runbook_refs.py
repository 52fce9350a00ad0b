"""What a runbook says about the rest of the config root: the jobs and targets it names
exist, every `{param}` is declared with the type its field takes, every
`{steps.NAME.FIELD}` names an earlier step and an output of that step's kind, literal
destinations lie under the allowed roots. Each problem names file, line and field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drorch.config.references import JobFile, known
from drorch.config.runbooks import (
    STEP_OUTPUTS,
    Runbook,
    as_of_problem,
    path_problem,
    references,
    snapshot_problem,
)
from drorch.config.yamlsource import Document, FieldPath
from drorch.errors import ConfigIssue

# The type of value each `with:` field takes, by step kind: a `{param}` must have it.
FIELD_TYPES: dict[str, dict[str, str]] = {
    "restore": {
        "job": "job",
        "snapshot": "snapshot",
        "as_of": "as_of",
        "from": "target",
        "to": "path",
    },
    "verify": {"job": "job", "dir": "path"},
    "check": {"target": "target"},
}


@dataclass(frozen=True)
class _Scope:
    """What one value of a runbook may name."""

    runbook: Runbook
    doc: Document
    jobs: Collection[str]
    targets: Collection[str] | None  # None: drorch.yaml is invalid, targets unchecked
    roots: tuple[Path, ...]
    earlier: Mapping[str, str]  # step name -> kind, the steps before this one
    names: Collection[str]  # every step's name
    bound: Mapping[str, str] = field(default_factory=dict)  # {job} in an each_job step
    sites: Collection[str] | None = None  # the targets' sites; None: unchecked
    root: Path | None = None  # a relative path is relative to the config root

    def absolute(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() or self.root is None else self.root / path

    def value(self, path: FieldPath, value: str, wanted: str | None) -> list[ConfigIssue]:
        refs = references(value)
        problems = [p for ref in refs if (p := self._reference(ref, value, wanted))]
        if not refs and wanted is not None:
            problems += [p] if (p := self._literal(value, wanted)) else []
        return [self.doc.issue(path, problem) for problem in problems]

    def _reference(self, ref: str, value: str, wanted: str | None) -> str | None:
        if ref.startswith("steps."):
            name, _, field = ref.removeprefix("steps.").rpartition(".")
            if name not in self.earlier:
                if name in self.names:
                    return f"{{{ref}}}: step {name!r} comes later; a step uses earlier outputs"
                return f"{{{ref}}}: no earlier step named {name!r}{known(self.earlier)}"
            kind = self.earlier[name]
            if field not in STEP_OUTPUTS[kind]:
                outputs = ", ".join(STEP_OUTPUTS[kind]) or "none"
                return f"{{{ref}}}: a {kind} step has no output {field!r} (outputs: {outputs})"
            return None
        if ref in self.bound:
            if wanted is not None and value == f"{{{ref}}}" and self.bound[ref] != wanted:
                return f"{{{ref}}} is a {self.bound[ref]}; this field takes a {wanted}"
            return None
        params = self.runbook.params
        if ref not in params:
            listed = ", ".join(sorted(params)) or "none declared"
            return f"{{{ref}}} is not a parameter of this runbook (params: {listed})"
        type_ = params[ref].type
        if wanted is not None and value == f"{{{ref}}}" and type_ != wanted:
            return f"{{{ref}}} is a {type_} parameter; this field takes a {wanted}"
        return None

    def _literal(self, value: str, wanted: str) -> str | None:
        if wanted == "job" and value not in self.jobs:
            return f"no job named {value!r}{known(self.jobs)}"
        if wanted == "target" and self.targets is not None and value not in self.targets:
            return f"no target named {value!r}{known(self.targets)}"
        if wanted == "path":
            plain = ".." not in Path(value).parts  # `..` is refused as written
            return path_problem(str(self.absolute(value)) if plain else value, self.roots)
        if wanted == "snapshot":
            return snapshot_problem(value)
        if wanted == "as_of":
            return as_of_problem(value)
        return None


def _each_job(scope: _Scope, at: FieldPath, value: str) -> list[ConfigIssue]:
    """`*`, a parameter, or the site of a target."""
    if value == "*" or references(value):
        return scope.value(at, value, None)
    if scope.sites is None:
        return []
    sites = sorted(scope.sites)
    if value not in sites:
        return [scope.doc.issue(at, f"no target is at site {value!r} (sites: {', '.join(sites)})")]
    return []


def _restored_dir(scope: _Scope, at: FieldPath, value: str) -> list[ConfigIssue]:
    """A verify or cleanup step works on a folder an earlier restore step made (a bad
    reference is told once, by the check of every value)."""
    if scope.value(at, value, None):
        return []
    refs = references(value)
    ok = (
        value.startswith("{")
        and len(refs) == 1
        and value == f"{{{refs[0]}}}"
        and refs[0].startswith("steps.")
        and refs[0].endswith(".dir")
        and scope.earlier.get(refs[0].removeprefix("steps.").removesuffix(".dir")) == "restore"
    )
    if ok:
        return []
    return [
        scope.doc.issue(
            at, f"{value!r}: name the folder an earlier restore step made, as {{steps.NAME.dir}}"
        )
    ]


def check_runbooks(
    runbooks: Mapping[str, tuple[Runbook, Document]],
    jobs: Collection[str],
    targets: Collection[str] | None,
    roots: tuple[Path, ...],
    sites: Collection[str] | None = None,
    root: Path | None = None,
) -> list[ConfigIssue]:
    """The problems of every valid runbook's references; `roots` are drorch.yaml's
    allowed_roots, used when a runbook names none of its own; `sites` those of the
    targets, that an each_job step may name; `root` the config root, against which a
    relative path is read."""
    issues: list[ConfigIssue] = []
    for runbook, doc in runbooks.values():
        own = runbook.allowed_roots or roots
        issues.extend(_check(runbook, doc, jobs, targets, own, sites, root))
    return issues


def check_drills(
    jobs: Mapping[str, JobFile],
    runbooks: Mapping[str, tuple[Runbook, Document]],
    invalid: Collection[str],
) -> list[ConfigIssue]:
    """A job's `drill:` names a runbook that is a drill, gives only parameters it declares,
    and never waits for an approval nobody is there to give."""
    issues: list[ConfigIssue] = []
    for file in jobs.values():
        spec = file.job.drill if file.job is not None else None
        if spec is None or spec.runbook in invalid:
            continue
        doc = file.doc
        if spec.runbook not in runbooks:
            issues.append(
                doc.issue(
                    ("drill", "runbook"), f"no runbook named {spec.runbook!r}{known(runbooks)}"
                )
            )
            continue
        runbook = runbooks[spec.runbook][0]
        if not runbook.drill:
            issues.append(
                doc.issue(
                    ("drill", "runbook"),
                    f"runbook {spec.runbook!r} is not a drill (drill: true): a job schedules "
                    "only drills",
                )
            )
        for key in spec.params:
            if key not in runbook.params:
                declared = ", ".join(runbook.params) or "none"
                issues.append(
                    doc.issue(
                        ("drill", "params", key),
                        f"runbook {spec.runbook!r} has no parameter {key!r} (params: {declared})",
                    )
                )
        if any(step.kind == "approve" for step in runbook.steps):
            issues.append(
                doc.issue(
                    ("drill", "runbook"),
                    f"runbook {spec.runbook!r} waits for an approval; a scheduled drill runs "
                    "unattended",
                )
            )
    return issues


def _check(
    runbook: Runbook,
    doc: Document,
    jobs: Collection[str],
    targets: Collection[str] | None,
    roots: tuple[Path, ...],
    sites: Collection[str] | None,
    root: Path | None,
) -> list[ConfigIssue]:
    names = [step.name for step in runbook.steps]
    scope = _Scope(runbook, doc, jobs, targets, roots, {}, names, root=root)
    issues: list[ConfigIssue] = []
    for name, param in runbook.params.items():
        if param.type == "path" and not roots:
            issues.append(
                doc.issue(
                    ("params", name, "type"),
                    "a path parameter needs allowed_roots, in this runbook or in drorch.yaml",
                )
            )
        elif param.default is not None and param.type in ("job", "target", "path"):
            issues += scope.value(("params", name, "default"), param.default, param.type)
    for i, condition in enumerate(runbook.preconditions):
        at: FieldPath = ("preconditions", i)
        if condition.target_online is not None:
            issues += scope.value((*at, "target_online"), condition.target_online, "target")
        if condition.job_idle is not None:
            issues += scope.value((*at, "job_idle"), condition.job_idle, "job")
        if condition.free_space_for is not None:
            room = condition.free_space_for
            issues += scope.value((*at, "free_space_for", "job"), room.job, "job")
            issues += scope.value((*at, "free_space_for", "at"), room.at, "path")
    earlier: dict[str, str] = {}
    for i, step in enumerate(runbook.steps):
        if step.name in earlier or names.index(step.name) != i:
            first = names.index(step.name)
            issues.append(
                doc.issue(("steps", i, "name"), f"{step.name!r} already names steps[{first}]")
            )
        bound = {"job": "job"} if step.each_job is not None else {}
        scope = _Scope(runbook, doc, jobs, targets, roots, dict(earlier), names, bound, sites, root)
        if step.each_job is not None:
            issues += _each_job(scope, ("steps", i, "each_job"), step.each_job)
        if step.kind in ("verify", "cleanup"):
            issues += _restored_dir(scope, ("steps", i, "with", "dir"), step.with_.dir)
        wanted = FIELD_TYPES.get(step.kind, {})
        for key, value in step.with_.model_dump(by_alias=True).items():
            at = ("steps", i, "with", key)
            if isinstance(value, str):
                issues += scope.value(at, value, wanted.get(key))
            elif isinstance(value, tuple | list) and key != "argv":
                for j, item in enumerate(value):
                    if isinstance(item, str):
                        issues += scope.value((*at, j), item, None)
        earlier.setdefault(step.name, step.kind)
    return issues
