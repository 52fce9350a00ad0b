"""The values an operator gives a runbook, checked against its params and the config
before anything runs: every problem is a UsageError naming the runbook and parameter."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from drorch.actions.restore import SYSTEM_DIRS
from drorch.config import Config
from drorch.config.runbooks import (
    Runbook,
    RunbookParam,
    as_of_problem,
    path_problem,
    snapshot_problem,
)
from drorch.errors import UsageError


def allowed_roots(config: Config, runbook: Runbook) -> tuple[Path, ...]:
    return runbook.allowed_roots or config.settings.allowed_roots


def resolve_params(
    config: Config, name: str, runbook: Runbook, given: Mapping[str, str]
) -> dict[str, str]:
    """Every declared parameter's value: given, else its default; UsageError listing every
    problem (unknown, missing, or refused by its type)."""
    problems = [
        f"{key!r} is not a parameter of this runbook ({_declared(runbook)})"
        for key in given
        if key not in runbook.params
    ]
    values: dict[str, str] = {}
    for key, param in runbook.params.items():
        value = given.get(key, param.default)
        if value is None:
            if param.required:
                problems.append(f"{key} is required: {param.description or param.type}")
            continue
        if param.type == "path" and not Path(value).is_absolute() and ".." not in value:
            value = str(config.root / value)  # like every path of the config root
        problem = value_problem(config, runbook, param, value)
        if problem:
            problems.append(f"{key}: {problem}")
        values[key] = value
    if problems:
        raise UsageError(f"runbook {name}: " + "; ".join(problems))
    return values


def value_problem(config: Config, runbook: Runbook, param: RunbookParam, value: str) -> str | None:
    """Why `value` cannot be this parameter's, or None."""
    if param.type == "job" and value not in config.jobs:
        return f"no job named {value!r} (jobs: {', '.join(sorted(config.jobs)) or 'none'})"
    if param.type == "target" and value not in config.targets:
        return f"no target named {value!r} (targets: {', '.join(sorted(config.targets))})"
    if param.type == "snapshot":
        return snapshot_problem(value)
    if param.type == "as_of":
        return as_of_problem(value)
    if param.type == "path":
        return destination_problem(value, allowed_roots(config, runbook))
    if param.type == "string" and param.pattern and not re.fullmatch(param.pattern, value):
        return f"{value!r} does not match the pattern {param.pattern!r}"
    return None


def destination_problem(value: str, roots: tuple[Path, ...]) -> str | None:
    """Why `value` is no place to restore into: `..`, relative, a system folder, outside
    the allowed roots — as written, and once its symbolic links are resolved."""
    problem = path_problem(value, roots)
    if problem:
        return problem
    real = Path(os.path.realpath(value))
    if real in SYSTEM_DIRS:
        return f"{value} is a system folder"
    resolved_roots = tuple(Path(os.path.realpath(r)) for r in roots)
    if str(real) != value and path_problem(str(real), resolved_roots):
        return f"{value} leads to {real}, outside the allowed roots"
    return None


def _declared(runbook: Runbook) -> str:
    return "params: " + (", ".join(runbook.params) or "none")
