"""--dry-run: everything a run would resolve (the parameters, the preconditions, the
snapshot `latest` or an as-of time means, its size, the copy, the destination and its free
space) and what each step would do; nothing is written, not even a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drorch.catalog import Catalog
from drorch.config import Config
from drorch.config.runbooks import STEP_OUTPUTS
from drorch.errors import DrorchError
from drorch.runbooks.engine import context, inputs_of, runbook_file
from drorch.runbooks.expand import expand
from drorch.runbooks.operator import Operator
from drorch.runbooks.params import resolve_params
from drorch.runbooks.preconditions import Finding, check_preconditions
from drorch.runbooks.steps import kind_of


@dataclass(frozen=True)
class PlannedStep:
    position: int
    name: str
    kind: str
    description: str
    does: str  # what it would do, or why it cannot
    refused: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "would": self.does,
            "refused": self.refused,
        }


@dataclass(frozen=True)
class Plan:
    runbook: str
    title: str
    params: Mapping[str, str]
    preconditions: tuple[Finding, ...]
    steps: tuple[PlannedStep, ...]

    @property
    def ok(self) -> bool:
        return all(f.holds for f in self.preconditions) and not any(s.refused for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "runbook": self.runbook,
            "title": self.title,
            "dry_run": True,
            "ok": self.ok,
            "params": dict(self.params),
            "preconditions": [f.as_dict() for f in self.preconditions],
            "steps": [s.as_dict() for s in self.steps],
        }

    def lines(self) -> list[str]:
        out = [f"dry run of {self.runbook}: {self.title} (nothing is changed)"]
        if self.params:
            out.append("parameters:")
            out += [f"  {k} = {v}" for k, v in self.params.items()]
        if self.preconditions:
            out.append("preconditions:")
            out += [
                f"  [{'ok' if f.holds else 'FAIL'}] {f.condition}: {f.detail}"
                for f in self.preconditions
            ]
        out.append("steps:")
        for s in self.steps:
            mark = "REFUSED: " if s.refused else ""
            out.append(f"  {s.position + 1}. {s.name} ({s.kind}): {mark}{s.does}")
        out.append("the run would start" if self.ok else "the run would be refused")
        return out


def dry_run(
    config: Config, catalog: Catalog, name: str, given: Mapping[str, str], operator: Operator
) -> Plan:
    runbook_file(config, name)
    runbook = config.runbooks[name]
    params = resolve_params(config, name, runbook, given)
    findings = tuple(check_preconditions(config, catalog, runbook, params))
    done: dict[str, Any] = {}
    planned = []
    for instance in expand(config, runbook, params):
        kind = instance.step.kind
        # later steps see what earlier ones would give, named, not invented
        done[instance.name] = {
            field: f"<{field} of step {instance.name}>" for field in STEP_OUTPUTS[kind]
        }
        ctx = context(config, catalog, runbook, None, instance, operator, done)
        try:
            does, refused = kind_of(kind).plan(ctx, inputs_of(instance, params, done)), False
        except DrorchError as exc:
            does, refused = str(exc), True
        planned.append(
            PlannedStep(
                instance.position, instance.name, kind, instance.step.description, does, refused
            )
        )
    return Plan(name, runbook.title, params, findings, tuple(planned))
