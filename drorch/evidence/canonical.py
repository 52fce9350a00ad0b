"""Canonical JSON: the one byte form of a value that is hashed, signed and exported.

Keys sorted, no whitespace (separators "," and ":"), UTF-8 with characters as themselves
(not \\u escapes), no NaN or infinity. Floats pass through only where a caller gave one;
integers stay integers. The same value always gives the same bytes, so an auditor can
recompute every hash with any JSON library that sorts keys.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from drorch.errors import EvidenceError


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON of value; EvidenceError naming the offending path otherwise."""
    _check(value, "$")
    return parsed_canonical(value)


def parsed_canonical(value: Any) -> bytes:
    """canonical_bytes for a value that came from json.loads or passed canonical_bytes
    before (text keys only, JSON types only): skips the walk that names offending paths."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EvidenceError(f"evidence holds text that is not valid Unicode: {exc}") from exc
    except ValueError as exc:  # NaN or infinity parsed from JSON
        raise EvidenceError(f"evidence cannot hold {exc}") from exc


def is_canonical(line: bytes) -> Any:
    """The parsed value when line is exactly canonical JSON, else None (a JSON `null`
    line is not canonical evidence either)."""
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    try:
        if parsed_canonical(value) != line:
            return None
    except EvidenceError:
        return None
    return value


def utc_iso(value: datetime) -> str:
    """An aware datetime as evidence writes times: 2026-11-28T15:32:35.123456Z."""
    if value.tzinfo is None:
        raise EvidenceError("naive datetime given to the evidence log; use UTC-aware times")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    """The inverse of utc_iso (also accepts whole seconds)."""
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC time ending in Z: {text!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EvidenceError(f"evidence cannot hold {value} (at {path})")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EvidenceError(f"evidence keys are text, not {key!r} (at {path})")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise EvidenceError(
        f"evidence holds JSON values only, not {type(value).__name__} (at {path}); "
        "write times with drorch.evidence.canonical.utc_iso"
    )
