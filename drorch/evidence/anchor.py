"""The checkpoint an auditor kept, and whether a bundle's checkpoint extends exactly it.

An auditor (or a second site, or a cron job that mails it out) keeps a signed checkpoint
line: from `drorch evidence checkpoint` or from a bundle's checkpoints.jsonl. This is the
witness of Certificate Transparency: whoever holds the signing key can sign a checkpoint
over a rewritten history, but cannot make it consistent with one kept before. A later
bundle is trusted only when its checkpoint is exactly the kept one (same size and root)
or carries a consistency proof from exactly that size and root (RFC 6962 section 2.1.2;
`verify` checks the proof itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.errors import UsageError
from drorch.evidence.canonical import parsed_canonical
from drorch.evidence.envelope import checkpoint_problem, unsigned
from drorch.evidence.findings import INCONSISTENT, TRUNCATED, UNPROVEN, Finding
from drorch.evidence.manifest import CHECKPOINTS, PROOFS
from drorch.evidence.signing import key_id, signature_valid


@dataclass(frozen=True)
class KeptCheckpoint:
    """A signed checkpoint someone kept, its signature verified."""

    tree_size: int
    root_hash: str
    at: str
    key_id: str
    line: bytes  # its canonical line, as in checkpoints.jsonl

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} (root {self.root_hash})"


def read_checkpoint(path: Path, key: Ed25519PublicKey, *, whose: str) -> KeptCheckpoint:
    """The checkpoint in path: one checkpoint line (`drorch evidence checkpoint` prints
    it), one JSON object (its --json), or a checkpoints.jsonl, whose last line is the
    newest. Its signature must verify with key (whose: "the key you trust", ...)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the checkpoint {path}: {exc.strerror}") from exc
    mark = _parsed(data)
    if mark is None or checkpoint_problem(mark) is not None:
        raise UsageError(
            f"{path} does not hold a drorch checkpoint line (keep the line `drorch evidence "
            "checkpoint` prints, or a bundle's checkpoints.jsonl)"
        )
    ours = key_id(key)
    if mark["key_id"] != ours:
        raise UsageError(
            f"{path} holds checkpoint {mark['tree_size']} signed by key {mark['key_id']}, "
            f"not by {whose} ({ours})"
        )
    if not signature_valid(key, mark["signature"], unsigned(mark)):
        raise UsageError(
            f"{path}: the signature of checkpoint {mark['tree_size']} does not verify with "
            f"{whose} ({ours}): the line was changed after it was signed"
        )
    return KeptCheckpoint(
        tree_size=mark["tree_size"],
        root_hash=mark["root_hash"],
        at=mark["at"],
        key_id=mark["key_id"],
        line=parsed_canonical(mark),
    )


def _parsed(data: bytes) -> Any:
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    for text in (data, lines[-1] if lines else b""):
        try:
            value = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(value, dict):
            return value
    return None


def anchor_finding(
    kept: KeptCheckpoint, checkpoint: Mapping[str, Any], proven_from: Mapping[str, Any] | None
) -> Finding | None:
    """Whether a verified bundle's checkpoint extends exactly the kept one. proven_from is
    the earlier checkpoint (tree_size, root_hash) the bundle's consistency proof was
    verified from, None when the bundle has none."""
    size, root = checkpoint["tree_size"], checkpoint["root_hash"]
    ours = f"this bundle's checkpoint {size} (root {root})"
    if kept.tree_size > size:
        return Finding(
            None,
            TRUNCATED,
            f"the checkpoint you kept covers {kept.tree_size} records (root "
            f"{kept.root_hash}), {ours} only {size}: the log was cut back since, or this "
            "bundle is older than your checkpoint",
            CHECKPOINTS,
        )
    if kept.tree_size == size:
        if kept.root_hash == root:
            return None
        return Finding(
            None,
            INCONSISTENT,
            f"you kept checkpoint {size} with root {kept.root_hash}, {ours} has another "
            "root: the log was rewritten and signed again since you kept it",
            CHECKPOINTS,
        )
    ask = (
        "ask for a bundle exported with `drorch evidence export --from-checkpoint` and "
        "your checkpoint line"
    )
    if proven_from is None:
        return Finding(
            None,
            UNPROVEN,
            f"the bundle holds no consistency proof from the checkpoint you kept, {kept}, "
            f"to {ours}: {ask}",
            PROOFS,
        )
    if proven_from["tree_size"] != kept.tree_size:
        return Finding(
            None,
            UNPROVEN,
            f"the bundle's consistency proof starts at checkpoint {proven_from['tree_size']}, "
            f"not at the one you kept, {kept}: {ask}",
            PROOFS,
        )
    if proven_from["root_hash"] != kept.root_hash:
        return Finding(
            None,
            INCONSISTENT,
            f"the bundle proves {ours} extends a checkpoint {kept.tree_size} with root "
            f"{proven_from['root_hash']}, but the checkpoint {kept.tree_size} you kept has "
            f"root {kept.root_hash}: records 1–{kept.tree_size} were rewritten and signed "
            "again since you kept it",
            PROOFS,
        )
    return None
