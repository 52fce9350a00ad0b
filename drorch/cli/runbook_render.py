"""Runbooks and their runs as an operator reads them, and as --json gives them. Pure: text
and dicts in, lines out; the handlers in runbook_commands print them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drorch.catalog import RunStatus
from drorch.cli.render import duration, local
from drorch.config.runbooks import Runbook, RunbookParam
from drorch.runbooks import RunView


def param_dict(param: RunbookParam) -> dict[str, Any]:
    return {
        "type": param.type,
        "required": param.required,
        "default": param.default,
        "pattern": param.pattern,
        "description": param.description,
    }


def step_with(step: Any) -> dict[str, Any]:
    """The `with:` values a step was written with (not the defaults it did not name)."""
    return dict(step.with_.model_dump(mode="json", by_alias=True, exclude_unset=True))


def precondition_text(condition: Any) -> str:
    given = condition.model_dump(mode="json", exclude_none=True)
    return "; ".join(
        f"{key}: " + (", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict)
                     else str(value))
        for key, value in given.items()
    )  # fmt: skip


def runbook_dict(name: str, runbook: Runbook, roots: tuple[Path, ...]) -> dict[str, Any]:
    return {
        "name": name,
        "title": runbook.title,
        "description": runbook.description,
        "drill": runbook.drill,
        "allowed_roots": [str(r) for r in roots],
        "params": {n: param_dict(p) for n, p in runbook.params.items()},
        "preconditions": [precondition_text(c) for c in runbook.preconditions],
        "steps": [
            {
                "position": i,
                "name": s.name,
                "kind": s.kind,
                "description": s.description,
                "each_job": s.each_job,
                "with": step_with(s),
            }
            for i, s in enumerate(runbook.steps)
        ],
    }


def show_lines(name: str, runbook: Runbook, roots: tuple[Path, ...]) -> list[str]:
    """`drorch runbook show NAME`: everything an operator needs before running it."""
    out = [f"{name}: {runbook.title}" + (" (a recovery drill)" if runbook.drill else "")]
    out += ["", *_wrapped(runbook.description, "  "), ""]
    out.append("allowed roots: " + (", ".join(map(str, roots)) or "none named"))
    out.append("parameters:" if runbook.params else "parameters: none")
    for pname, p in runbook.params.items():
        facts = [p.type, "required" if p.required else "optional"]
        if p.default is not None:
            facts.append(f"default {p.default}")
        if p.pattern is not None:
            facts.append(f"pattern {p.pattern}")
        out.append(
            f"  {pname} ({', '.join(facts)})" + (f": {p.description}" if p.description else "")
        )
    out.append("preconditions:" if runbook.preconditions else "preconditions: none")
    out += [f"  - {precondition_text(c)}" for c in runbook.preconditions]
    out.append("steps:")
    for i, s in enumerate(runbook.steps, 1):
        each = f", for each job of {s.each_job}" if s.each_job else ""
        out.append(
            f"  {i}. {s.name} ({s.kind}{each})" + (f": {s.description}" if s.description else "")
        )
        out += [f"       {k}: {_value(v)}" for k, v in step_with(s).items()]
    return out


def list_rows(runbooks: dict[str, Runbook]) -> list[list[Any]]:
    return [
        [name, rb.title, len(rb.steps), ", ".join(_param_label(n, p) for n, p in rb.params.items())]
        for name, rb in sorted(runbooks.items())
    ]


def history_rows(runs: list[RunView]) -> list[list[Any]]:
    return [
        [
            v.id,
            v.runbook,
            v.status.value,
            v.run.actor,
            local(v.run.started_at),
            duration(v.run.duration),
            v.current.name if v.current and not v.status.finished else "-",
        ]
        for v in runs
    ]


def status_lines(run: RunView) -> list[str]:
    """`drorch runbook status RUN`: the run, then each step's latest attempt."""
    out = [
        f"run {run.id}: {run.runbook} ({run.details.get('title', '')}) {run.status.value}",
        f"  started by {run.run.actor} at {local(run.run.started_at)}, "
        f"took {duration(run.run.duration)}",
    ]
    out += [f"  {k} = {v}" for k, v in run.params.items()]
    if run.run.error:
        out.append(f"  error: {run.run.error}")
    for s in run.steps:
        latest = s.latest
        state = s.status.value if s.status else "NOT STARTED"
        line = f"  {s.position + 1}. {s.name} ({s.kind}) {state}"
        if s.attempts > 1:
            line += f", {s.attempts} attempts"
        if latest is not None:
            line += f", by {latest.actor}"
            if latest.approved_by:
                line += f", approved by {latest.approved_by}"
            text = latest.error or latest.summary
            if text:
                line += f": {text}"
        out.append(line)
    return out


def outcome_lines(run: RunView) -> tuple[list[str], list[str]]:
    """How a run/resume ended: (lines for the operator, lines for stderr)."""
    step = run.current
    where = step.name if step else "-"
    resume = f"drorch runbook resume {run.id}"
    took = f"in {duration(run.run.duration)}"
    if run.status is RunStatus.SUCCEEDED:
        return [f"run {run.id}: {run.runbook} SUCCEEDED {took}"], []
    if run.status is RunStatus.WAITING:
        return [
            f"run {run.id}: {run.runbook} waits at step {where} for an approval by somebody "
            f"other than {run.run.actor}: they run `drorch runbook approve {run.id} {where}`, "
            f"then anyone goes on with `{resume}`"
        ], []
    if run.status is RunStatus.CANCELED:
        return [], [f"drorch: run {run.id}: {run.runbook} CANCELED: {run.run.error or '-'}"]
    reason = (step.latest.error if step and step.latest else None) or run.run.error or "-"
    return [], [
        f"drorch: error: run {run.id}: {run.runbook} {run.status.value} at step {where}: {reason}",
        f"drorch: once the cause is fixed, go on with: {resume}",
    ]


def _param_label(name: str, param: RunbookParam) -> str:
    return name if param.required else f"[{name}]"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def _wrapped(text: str, indent: str, width: int = 88) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent) or [indent]
