"""Filling a step's `with:` in: `{param}` from the run's parameters, `{steps.NAME.FIELD}`
from what an earlier step gave. Validation (drorch.config.runbook_refs) proved every
reference names something; here a missing value is a bug, said plainly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drorch.config.runbooks import REFERENCE
from drorch.errors import UsageError

LITERAL_FIELDS = frozenset({"argv"})  # never filled from a parameter


def fill(
    value: Any,
    params: Mapping[str, str],
    outputs: Mapping[str, Mapping[str, Any]],
) -> Any:
    """`value` with its references replaced; lists and mappings filled item by item."""
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole:  # a value that is only a reference keeps the output's type
            return _lookup(whole.group(1), params, outputs)
        return REFERENCE.sub(lambda m: str(_lookup(m.group(1), params, outputs)), value)
    if isinstance(value, list | tuple):
        return [fill(item, params, outputs) for item in value]
    if isinstance(value, Mapping):
        return {
            key: item if key in LITERAL_FIELDS else fill(item, params, outputs)
            for key, item in value.items()
        }
    return value


def _lookup(ref: str, params: Mapping[str, str], outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    if ref.startswith("steps."):
        name, _, field = ref.removeprefix("steps.").rpartition(".")
        if name not in outputs or field not in outputs[name]:
            raise UsageError(f"{{{ref}}}: step {name!r} has given no {field!r}")
        return outputs[name][field]
    if ref not in params:
        raise UsageError(f"{{{ref}}}: the run has no value for parameter {ref!r}")
    return params[ref]
