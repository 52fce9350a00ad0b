"""Running a runbook: its steps in order, each attempt recorded, until one fails, waits
for an approval, or the last is done; then the run is sealed as evidence.

    view = start(config, catalog, "restore-job", {"destination": "/srv/r/p"}, operator)
    view = resume(config, catalog, view.id, operator)       # after a failure or an approval
    approve(config, catalog, run_id, "approve", other)      # four eyes: never who started it
    abort(config, catalog, run_id, operator, "wrong snapshot")

Nothing is written before the parameters, the preconditions and every step that needs no
earlier step's output have been checked: bad input is refused with nothing recorded.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from drorch.actions.restore import discard_partial
from drorch.catalog import Catalog, RunStatus, utc_now
from drorch.catalog.models import StepStatus
from drorch.catalog.runbooks import (
    approve_step,
    end_open_steps,
    finish_step,
    start_step,
    steps_of,
)
from drorch.catalog.store import RUNBOOK
from drorch.config import Config
from drorch.config.runbooks import REFERENCE, Runbook
from drorch.config.units import format_duration
from drorch.errors import CatalogError, DrorchError, Interrupted, UsageError
from drorch.locks import this_process
from drorch.runbooks import evidence
from drorch.runbooks.expand import Instance, expand
from drorch.runbooks.operator import Operator
from drorch.runbooks.params import resolve_params
from drorch.runbooks.preconditions import check_preconditions
from drorch.runbooks.steps import Outcome, StepContext, kind_of
from drorch.runbooks.values import fill
from drorch.runbooks.views import RunView, view

log = logging.getLogger(__name__)

RESUMABLE = (RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.WAITING)


class PreconditionFailed(DrorchError):
    """A runbook's precondition does not hold: nothing was started."""


def runbook_file(config: Config, name: str) -> Path:
    if name not in config.runbooks:
        known = ", ".join(sorted(config.runbooks)) or "none"
        raise UsageError(
            f"no runbook named {name!r} in {config.root / 'runbooks'} (runbooks: {known})"
        )
    for suffix in (".yaml", ".yml"):
        path = config.root / "runbooks" / f"{name}{suffix}"
        if path.is_file():
            return path
    raise UsageError(f"runbook {name!r}: its file is gone from {config.root / 'runbooks'}")


def step_with(instance: Instance) -> dict[str, Any]:
    """The step's `with:` as JSON values (a duration as written: 10m)."""
    raw = instance.step.with_.model_dump(by_alias=True)
    return {k: format_duration(v) if isinstance(v, timedelta) else v for k, v in raw.items()}


def inputs_of(instance: Instance, params: Mapping[str, str], done: Mapping[str, Any]) -> Any:
    return fill(step_with(instance), instance.params(params), instance.outputs(done))


def needs_earlier(instance: Instance) -> bool:
    """Whether the step's `with:` uses an earlier step's output (it can be checked only
    once that step is done)."""
    raw = step_with(instance)
    return any(
        ref.startswith("steps.") for value in _strings(raw) for ref in REFERENCE.findall(value)
    )


def context(
    config: Config,
    catalog: Catalog,
    runbook: Runbook,
    run_id: int | None,
    instance: Instance,
    operator: Operator,
    done: Mapping[str, Any],
) -> StepContext:
    return StepContext(
        config, catalog, runbook, run_id, instance.step.name, operator, instance.outputs(done)
    )


def start(
    config: Config, catalog: Catalog, name: str, given: Mapping[str, str], operator: Operator
) -> RunView:
    path = runbook_file(config, name)
    runbook = config.runbooks[name]
    params = resolve_params(config, name, runbook, given)
    instances = expand(config, runbook, params)
    failing = [f for f in check_preconditions(config, catalog, runbook, params) if not f.holds]
    if failing:
        raise PreconditionFailed(
            f"runbook {name}: precondition not met: "
            + "; ".join(f"{f.condition}: {f.detail}" for f in failing)
        )
    for instance in instances:  # refuse what can be refused before anything is written
        if not needs_earlier(instance):
            ctx = context(config, catalog, runbook, None, instance, operator, {})
            try:
                kind_of(instance.step.kind).plan(ctx, inputs_of(instance, params, {}))
            except DrorchError as exc:
                raise type(exc)(f"runbook {name}, step {instance.name}: {exc}") from exc
    text = path.read_bytes()
    run = catalog.create_run(
        job=None,
        action=RUNBOOK,
        target=None,
        host=socket.gethostname(),
        pid=os.getpid(),
        process=this_process().process,
        actor=operator.recorded,
        artifacts_root=config.state_dir / "runs",
        details={
            "runbook": name,
            "title": runbook.title,
            "sha256": evidence.file_digest(text),
            "params": params,
            "steps": [[i.name, i.step.kind] for i in instances],
            "drill": runbook.drill,
            "started_by": operator.name,  # the person, for four eyes (actor may say --as)
        },
    )
    folder = config.state_dir / "runs" / str(run.id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / "runbook.yaml").write_bytes(text)  # the procedure exactly as it was run
    operator.say(f"run {run.id}: {runbook.title} ({len(instances)} steps)")
    return _proceed(config, catalog, runbook, run.id, instances, operator)


def resume(config: Config, catalog: Catalog, run_id: int, operator: Operator) -> RunView:
    current = view(catalog, run_id)
    if current.status not in RESUMABLE:
        raise UsageError(
            f"run {run_id} is {current.status.value}; only a failed, interrupted or waiting "
            "run goes on"
        )
    name = current.runbook
    runbook, instances = _same_runbook(config, current)
    step = current.current
    if (
        step is not None
        and step.status is StepStatus.WAITING
        and current.status is RunStatus.WAITING
    ):  # a WAITING step of a run found dead goes back to waiting when resumed
        raise UsageError(
            f"run {run_id} waits at step {step.name} for an approval: "
            f"drorch runbook approve {run_id} {step.name} (by somebody other than "
            f"{current.run.actor})"
        )
    # The process that takes the run over, and since when: a run is found dead by its
    # pid, which must not be held against the run's first start (recovery.py).
    claimed = {**current.details, "claimed_at": utc_now().isoformat()}
    catalog.transition(
        run_id,
        RunStatus.RUNNING,
        only_from=(current.status,),
        pid=os.getpid(),
        process=this_process().process,
        host=socket.gethostname(),
        details=claimed,
    )
    end_open_steps(
        catalog, run_id, StepStatus.INTERRUPTED, "its process ended without finishing it"
    )
    operator.say(f"run {run_id}: {runbook.title}, going on at step {step.name if step else '-'}")
    log.info("runbook %s run %d resumed by %s", name, run_id, operator.recorded)
    return _proceed(config, catalog, runbook, run_id, instances, operator)


def approve(
    config: Config, catalog: Catalog, run_id: int, step_name: str, operator: Operator
) -> RunView:
    current = view(catalog, run_id)
    step = current.step(step_name)
    if current.status is not RunStatus.WAITING or step.status is not StepStatus.WAITING:
        raise UsageError(
            f"step {step_name} of run {run_id} does not wait for an approval "
            f"(the run is {current.status.value}, the step "
            f"{step.status.value if step.status else 'not started'})"
        )
    started_by = current.run.actor
    if operator.name == current.details.get("started_by", started_by):
        raise UsageError(
            f"four eyes: {started_by} started run {run_id}; a different person approves "
            f"step {step_name}"
        )
    ran = {person(a.actor) for s in current.steps for a in s.history}
    if operator.name in ran:
        raise UsageError(
            f"four eyes: {operator.name} has run steps of run {run_id}; somebody who has "
            f"not approves step {step_name}"
        )
    _runbook, instances = _same_runbook(config, current)
    allowed = instances[step.position].step.with_.who  # type: ignore[union-attr]
    if allowed and operator.name not in allowed:
        raise UsageError(
            f"step {step_name} of run {run_id} is approved by {', '.join(allowed)}, "
            f"not {operator.name}"
        )
    assert step.latest is not None
    approve_step(catalog, step.latest.id, by=operator.recorded)
    log.info("runbook run %d: step %s approved by %s", run_id, step_name, operator.recorded)
    return view(catalog, run_id)


def abort(
    config: Config, catalog: Catalog, run_id: int, operator: Operator, reason: str = ""
) -> RunView:
    current = view(catalog, run_id)
    if current.status not in RESUMABLE:
        raise UsageError(
            f"run {run_id} is {current.status.value}: "
            + (
                f"it runs in process {current.run.pid} on {current.run.host}; stop it there "
                "with Ctrl-C, then abort it"
                if current.status is RunStatus.RUNNING
                else "it has ended"
            )
        )
    why = f"aborted by {operator.recorded}" + (f": {reason}" if reason else "")
    # First the run, from the status seen: a resume that took it meanwhile wins.
    try:
        catalog.transition(run_id, RunStatus.CANCELED, only_from=(current.status,), error=why)
    except CatalogError as exc:
        raise UsageError(f"run {run_id} was not aborted: {exc}") from exc
    end_open_steps(catalog, run_id, StepStatus.CANCELED, why)
    _discard_half_restored(catalog, run_id)
    _seal(config, catalog, run_id, RunStatus.CANCELED, why, ended=True)
    return view(catalog, run_id)


def _discard_half_restored(catalog: Catalog, run_id: int) -> None:
    """The scratch folders of the run's restore steps: a process killed mid-restore could
    not remove its own, a resume would have, and an aborted run is never resumed."""
    for step in steps_of(catalog, run_id):
        to = (step.inputs or {}).get("to")
        restore = step.kind == "restore" and isinstance(to, str)
        if restore and discard_partial(Path(str(to)), f"run-{run_id}"):
            log.info("run %d: removed what its step %s left half restored", run_id, step.name)


def _same_runbook(config: Config, current: RunView) -> tuple[Runbook, list[Instance]]:
    """The runbook of a run that goes on, unchanged since the run started."""
    name = current.runbook
    path = runbook_file(config, name)
    if evidence.file_digest(path.read_bytes()) != current.details.get("sha256"):
        raise UsageError(
            f"runbook {name} changed since run {current.id} started; the run follows the "
            f"procedure it started with (kept in {current.run.artifacts}/runbook.yaml): "
            "abort it and start a new one"
        )
    runbook = config.runbooks[name]
    instances = expand(config, runbook, current.params)
    if [[i.name, i.step.kind] for i in instances] != current.details.get("steps"):
        raise UsageError(
            f"run {current.id}: the jobs the runbook repeats its steps for have changed "
            "since it started; abort it and start a new one"
        )
    return runbook, instances


def _proceed(
    config: Config,
    catalog: Catalog,
    runbook: Runbook,
    run_id: int,
    instances: list[Instance],
    operator: Operator,
) -> RunView:
    current = view(catalog, run_id)
    params = current.params
    done = {s.name: dict(s.latest.outputs or {}) for s in current.steps if s.done and s.latest}
    for instance in instances:
        if instance.name in done:
            continue
        outcome = _perform(config, catalog, runbook, run_id, instance, operator, params, done)
        if outcome.status is StepStatus.FAILED:
            error = f"step {instance.name} failed: {outcome.error}"
            _seal(config, catalog, run_id, RunStatus.FAILED, error, say=operator.say)
            return view(catalog, run_id)
        if outcome.status is StepStatus.WAITING:
            catalog.transition(run_id, RunStatus.WAITING)
            return view(catalog, run_id)
        if outcome.status is StepStatus.INTERRUPTED:  # canceled: the daemon stops
            catalog.transition(run_id, RunStatus.INTERRUPTED, error=outcome.error)
            return view(catalog, run_id)
        done[instance.name] = dict(outcome.outputs)
    _seal(config, catalog, run_id, RunStatus.SUCCEEDED, say=operator.say)
    return view(catalog, run_id)


def _perform(
    config: Config,
    catalog: Catalog,
    runbook: Runbook,
    run_id: int,
    instance: Instance,
    operator: Operator,
    params: Mapping[str, str],
    done: Mapping[str, Any],
) -> Outcome:
    total = len(view(catalog, run_id).steps)
    kind = instance.step.kind
    early: Outcome | None = None
    try:
        inputs = inputs_of(instance, params, done)
    except DrorchError as exc:
        inputs, early = {}, Outcome.failed(str(exc))
    record = start_step(
        catalog,
        run_id,
        position=instance.position,
        name=instance.name,
        kind=kind,
        actor=operator.recorded,
        inputs=inputs,
    )
    operator.say(f"step {instance.position + 1}/{total} {instance.name} ({kind})")
    ctx = context(config, catalog, runbook, run_id, instance, operator, done)
    try:
        outcome = early or kind_of(kind).run(ctx, inputs)
    except KeyboardInterrupt:
        finish_step(catalog, record.id, StepStatus.INTERRUPTED, error="interrupted (Ctrl-C)")
        catalog.transition(
            run_id, RunStatus.INTERRUPTED, error=f"interrupted at step {instance.name}"
        )
        raise
    except Interrupted as exc:  # the operator's cancel was set (the daemon stops)
        outcome = Outcome(StepStatus.INTERRUPTED, str(exc), {}, f"interrupted: {exc}")
    except DrorchError as exc:
        outcome = Outcome.failed(str(exc))
    except Exception as exc:
        log.exception(
            "step %s of runbook run %d failed with an internal error", instance.name, run_id
        )
        outcome = Outcome.failed(f"internal error: {type(exc).__name__}: {exc}")
    finish_step(
        catalog,
        record.id,
        outcome.status,
        outputs=outcome.outputs,
        summary=outcome.summary,
        error=outcome.error,
    )
    operator.say(f"  {outcome.status.value.lower()}: {outcome.summary}")
    return outcome


def _seal(
    config: Config,
    catalog: Catalog,
    run_id: int,
    status: RunStatus,
    error: str | None = None,
    *,
    say: Callable[[str], None] = lambda _text: None,
    ended: bool = False,
) -> None:
    """End the run with `status` (`ended`: it already has), its evidence record first. A
    run that would succeed but cannot be recorded has proved nothing: it ends FAILED, and
    resume seals it again; a record already written for this very outcome (its process
    died before the run ended) is not written twice."""
    now = utc_now()
    current = view(catalog, run_id)
    fields = evidence.record_of(config, current, status, error, finished_at=now)
    try:
        seq = evidence.sealed_before(catalog, fields) or evidence.append(config, catalog, fields)
    except DrorchError as exc:
        log.error("runbook run %d: no evidence record: %s", run_id, exc)
        seq = None
        error = "; ".join(filter(None, [error, f"not recorded as evidence: {exc}"]))
        if status is RunStatus.SUCCEEDED:
            status = RunStatus.FAILED
    details = {**current.details, "evidence_seq": seq}
    if ended:
        catalog.annotate(run_id, details=details, error=error)
    else:
        catalog.transition(run_id, status, error=error, details=details, finished_at=now)
    say_recovery(config, view(catalog, run_id), say)


def person(actor: str) -> str:
    """The person in a recorded actor: `bob (given with --as by root)` is bob."""
    return actor.split(" (given with --as by ", 1)[0]


def say_recovery(config: Config, run: RunView, say: Callable[[str], None]) -> None:
    """Each job restored: how long its restore took against its RTO."""
    rows = evidence.recovery_rows(config, run)
    if not rows:
        return
    say("recovery time against RTO:")
    for row in rows:
        rto = format_duration(timedelta(seconds=row["rto_s"])) if row["rto_s"] else "-"
        verdict = "within" if row["within"] else "OVER"
        say(
            f"  {row['job']}: restored in {row['restore_s']:.1f}s from {row['target']}, "
            f"back {row['recovered_after_s']:.1f}s after the run started; RTO {rto}: {verdict}"
        )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for key, item in value.items() if key != "argv" for s in _strings(item)]
    return []
