"""The schema of runbooks/NAME.yaml: typed params, preconditions and ordered steps.

A step's `kind` picks its `with:` model (a discriminated union). What the models cannot
know alone (a job or target exists, a `{param}` is declared, a `{steps.NAME.FIELD}` names
an earlier step's output) is checked by drorch.config.runbook_refs against the config.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from drorch.config.model import Duration, Frozen, Name, RootPath

ParamType = Literal["job", "snapshot", "as_of", "target", "path", "string"]
SNAPSHOT_PATTERN = r"^(latest|[0-9a-f]{4,64})$"
REFERENCE = re.compile(r"\{([A-Za-z0-9][A-Za-z0-9_.-]*)\}")

# What each kind of step gives later steps as {steps.NAME.FIELD}.
STEP_OUTPUTS: dict[str, tuple[str, ...]] = {
    "restore": (
        "snapshot",
        "snapshot_time",
        "dir",
        "bytes",
        "files",
        "seconds",
        "job",
        "target",
        "kept",
    ),
    "verify": ("passed",),
    "check": ("passed",),
    "command": ("exit_code",),
    "confirm": (),
    "approve": (),
    "notify": (),
    "cleanup": (),
    "note": (),
}


def references(value: str) -> list[str]:
    """The `{...}` references a value holds, in order: `destination`, `steps.restore.dir`."""
    return REFERENCE.findall(value)


def snapshot_problem(value: str) -> str | None:
    if re.match(SNAPSHOT_PATTERN, value):
        return None
    return f"a snapshot is 'latest' or a hex id or prefix, not {value!r}"


def as_of_problem(value: str) -> str | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"an as-of time is ISO 8601, such as 2024-03-10T02:00:00Z, not {value!r}"
    if moment.tzinfo is None:
        return f"an as-of time names its time zone (Z or +01:00), not {value!r}"
    return None


def path_problem(value: str, roots: tuple[Path, ...]) -> str | None:
    """Why `value` is no destination: relative, with `..`, or outside the allowed roots."""
    path = PurePosixPath(value)
    if ".." in path.parts:
        return f"{value!r} contains '..'; give the folder itself"
    if not path.is_absolute():
        return f"{value!r} is not an absolute path"
    if not roots:
        return "no allowed_roots are named (in the runbook or drorch.yaml)"
    if not any(path != PurePosixPath(r) and path.is_relative_to(r) for r in roots):
        return f"{value} is not under the allowed roots ({', '.join(map(str, roots))})"
    return None


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from exc
    return value


class RunbookParam(Frozen):
    type: ParamType = Field(description="job, snapshot, as_of, target, path or string.")
    description: str = Field("", description="What the parameter means, for the operator.")
    required: bool = Field(False, description="The operator must give it.")
    default: str | None = Field(None, description="Value when not given, checked by type.")
    pattern: Annotated[str, AfterValidator(_pattern)] | None = Field(
        None, description="A string parameter's values match this regular expression."
    )

    @model_validator(mode="after")
    def _consistent(self) -> RunbookParam:
        if self.pattern is not None and self.type != "string":
            raise ValueError(f"only a string parameter has a pattern, not a {self.type}")
        problem = self.default_problem()
        if problem:
            raise ValueError(f"default: {problem}")
        return self

    def default_problem(self) -> str | None:
        """What is wrong with the default that the type alone can tell."""
        value = self.default
        if value is None:
            return None
        if self.type == "snapshot":
            return snapshot_problem(value)
        if self.type == "as_of":
            return as_of_problem(value)
        if self.type == "string" and self.pattern and not re.fullmatch(self.pattern, value):
            return f"{value!r} does not match the pattern {self.pattern!r}"
        return None


class Precondition(Frozen):
    """Exactly one of: a target is online, room for a restore, a job is idle."""

    target_online: str | None = Field(None, description="This target can be reached.")
    free_space_for: FreeSpaceFor | None = Field(None, description="Room for a restore.")
    job_idle: str | None = Field(None, description="No run of this job is running or due.")

    @model_validator(mode="after")
    def _one(self) -> Precondition:
        given = [k for k in ("target_online", "free_space_for", "job_idle") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a precondition is one of target_online, free_space_for, job_idle")
        return self


class FreeSpaceFor(Frozen):
    job: str = Field(description="The job whose restore needs room.")
    at: str = Field(description="The folder where the room is needed.")


Precondition.model_rebuild()


class RestoreWith(Frozen):
    job: str = Field(description="The job restored.")
    snapshot: str | None = Field(None, description="Snapshot id or prefix, or latest.")
    as_of: str | None = Field(None, description="The newest snapshot not after this time.")
    from_: str = Field(alias="from", description="The target holding the copy: disk or tape.")
    to: str = Field(description="The destination folder.")
    include: tuple[str, ...] = Field((), description="Only these paths of the snapshot.")
    overwrite: str = Field(
        "no",
        pattern=r"^(yes|no|\{[A-Za-z0-9][A-Za-z0-9_.-]*\})$",
        description="yes: a non-empty destination is replaced (its contents kept beside it); "
        "no, the default: it is refused. A {param} may decide.",
    )

    @model_validator(mode="after")
    def _which(self) -> RestoreWith:
        if (self.snapshot is None) == (self.as_of is None):
            raise ValueError("a restore names either snapshot or as_of")
        return self


class VerifyWith(Frozen):
    job: str = Field(description="The job whose restore is verified.")
    dir: str = Field(description="The restored folder.")
    checks: tuple[Literal["restic", "canary", "listing", "commands"], ...] = Field(
        ("restic", "canary", "listing", "commands"),
        min_length=1,
        description="The checks run: restic's own verify of the restore, the canary, the "
        "listing, and the job's restore_test command checks.",
    )


class CheckWith(Frozen):
    target: str = Field(description="The target whose repository restic checks.")


class CommandWith(Frozen):
    argv: tuple[str, ...] = Field(min_length=1, description="The program and its arguments.")
    timeout: Duration = Field("10m", validate_default=True, description="Longest it may run.")

    @model_validator(mode="after")
    def _literal(self) -> CommandWith:
        for value in self.argv:
            if references(value):
                raise ValueError(
                    f"{value!r}: argv comes from the runbook itself, never from a parameter"
                )
        return self


class ConfirmWith(Frozen):
    word: str = Field(min_length=1, description="The word the operator types to go on.")


class ApproveWith(Frozen):
    role: str | None = Field(None, description="Who may approve, for the operator.")
    who: tuple[str, ...] = Field((), description="User names that may approve; any other user.")


class NotifyWith(Frozen):
    message: str = Field(min_length=1, description="The text sent.")
    event: Name = Field("runbook", description="The event name the webhooks receive.")


class CleanupWith(Frozen):
    dir: str = Field(description="A folder an earlier restore step of the run made.")


class NoteWith(Frozen):
    text: str = Field(min_length=1, description="Text shown to the operator.")


class _Step(Frozen):
    name: Name = Field(description="Unique in the runbook; later steps use {steps.NAME.FIELD}.")
    description: str = Field("", description="What the step does, for the operator.")
    each_job: str | None = Field(
        None,
        description="Repeat for every job of this site (or * for all), shortest RTO first; "
        "consecutive steps that say so are repeated together, and {job} names the job.",
    )


class RestoreStep(_Step):
    kind: Literal["restore"]
    with_: RestoreWith = Field(alias="with")


class VerifyStep(_Step):
    kind: Literal["verify"]
    with_: VerifyWith = Field(alias="with")


class CheckStep(_Step):
    kind: Literal["check"]
    with_: CheckWith = Field(alias="with")


class CommandStep(_Step):
    kind: Literal["command"]
    with_: CommandWith = Field(alias="with")


class ConfirmStep(_Step):
    kind: Literal["confirm"]
    with_: ConfirmWith = Field(alias="with")


class ApproveStep(_Step):
    kind: Literal["approve"]
    with_: ApproveWith = Field(ApproveWith(), alias="with")


class NotifyStep(_Step):
    kind: Literal["notify"]
    with_: NotifyWith = Field(alias="with")


class CleanupStep(_Step):
    kind: Literal["cleanup"]
    with_: CleanupWith = Field(alias="with")


class NoteStep(_Step):
    kind: Literal["note"]
    with_: NoteWith = Field(alias="with")


Step = Annotated[
    RestoreStep
    | VerifyStep
    | CheckStep
    | CommandStep
    | ConfirmStep
    | ApproveStep
    | NotifyStep
    | CleanupStep
    | NoteStep,
    Field(discriminator="kind"),
]


class Runbook(Frozen):
    title: str = Field(min_length=1, description="The runbook's name for people.")
    description: str = Field(description="When and why to use it, for the operator.")
    drill: bool = Field(
        False, description="A recovery drill: restores to scratch, verifies, cleans up."
    )
    allowed_roots: tuple[RootPath, ...] = Field(
        (), description="Folders a path parameter may lie under; else drorch.yaml's."
    )
    params: dict[Name, RunbookParam] = Field({}, description="Parameters the operator gives.")
    preconditions: tuple[Precondition, ...] = Field((), description="Checked before step one.")
    steps: tuple[Step, ...] = Field(min_length=1, description="Steps, in order.")
