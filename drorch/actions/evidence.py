"""Append what an action proved to the evidence log, signed with the config's key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drorch.actions.context import RunContext


def record_evidence(ctx: RunContext, kind: str, fields: Mapping[str, Any]) -> int:
    """Append one record; its seq. Raises EvidenceError / EvidenceKeyError when it cannot."""
    from drorch.evidence.log import EvidenceLog

    log = EvidenceLog(ctx.catalog, ctx.config.settings.evidence_key)
    return log.append(kind, fields).seq
