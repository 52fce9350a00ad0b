"""The checkpoint an auditor kept, and whether a bundle's checkpoint extends exactly it.

An auditor (or a second site, or a cron job that mails it out) keeps a signed checkpoint
line: from `drorch evidence checkpoint` or from a bundle's checkpoints.jsonl. This is the
witness of Certificate Transparency: whoever holds the signing key can sign a checkpoint
over a rewritten history, but cannot make it consistent with one kept before. A later
bundle is trusted only when its checkpoint is exactly the kept one (same size and root)
or carries a consistency proof from exactly that size and root (RFC 6962 section 2.1.2;
`verify` checks the proof itself). A checkpoint kept before a key rotation is signed by
the old key; it anchors a bundle signed after the rotation all the same, through the chain
of keys the bundle carries (bundle_keys.py).
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
from drorch.evidence.keychain import KeyChain
from drorch.evidence.manifest import CHECKPOINTS, PROOFS
from drorch.evidence.signing import signature_valid


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


def read_checkpoint(path: Path, keys: Ed25519PublicKey | KeyChain, *, whose: str) -> KeptCheckpoint:
    """The checkpoint in path: one checkpoint line (`drorch evidence checkpoint` prints
    it), one JSON object (its --json), or a checkpoints.jsonl, whose last line is the
    newest. Its signature must verify with the key, or with the key of the chain it names
    (whose: "the key you trust", ...); which key of a chain should sign a checkpoint of its
    size is `signer_finding`'s to say."""
    mark = checkpoint_in(path)
    chain = keys if isinstance(keys, KeyChain) else KeyChain.single(keys)
    ours = ", ".join(kid for _, kid, _ in chain.links)
    if not chain.holds(mark["key_id"]):
        raise UsageError(
            f"{path} holds checkpoint {mark['tree_size']} signed by key {mark['key_id']}, "
            f"not by {whose} ({ours})"
        )
    key = Ed25519PublicKey.from_public_bytes(chain.raw_keys[mark["key_id"]])
    if not signature_valid(key, mark["signature"], unsigned(mark)):
        raise UsageError(
            f"{path}: the signature of checkpoint {mark['tree_size']} does not verify with "
            f"{whose} ({mark['key_id']}): the line was changed after it was signed"
        )
    return KeptCheckpoint(
        tree_size=mark["tree_size"],
        root_hash=mark["root_hash"],
        at=mark["at"],
        key_id=mark["key_id"],
        line=parsed_canonical(mark),
    )


def checkpoint_in(path: Path) -> dict[str, Any]:
    """The checkpoint line in path, parsed and of the right form (its signature unchecked):
    UsageError when the file does not hold one."""
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
    assert isinstance(mark, dict)
    return mark


def signer_finding(kept: KeptCheckpoint, chain: KeyChain) -> Finding | None:
    """Whether the kept checkpoint is signed by the key the bundle's chain has sign a
    checkpoint of its size (the key of the record after it): a kept checkpoint signed
    before a rotation, by the old key, anchors a bundle signed after it; one signed by
    another key of the chain means the bundle's rotations are not the history it saw."""
    signer = chain.id_for(kept.tree_size + 1)
    if kept.key_id == signer:
        return None
    return Finding(
        None,
        INCONSISTENT,
        f"the checkpoint you kept, {kept}, is signed by key {kept.key_id}, but by this "
        f"bundle's key rotations key {signer} signs checkpoint {kept.tree_size}: the keys' "
        "history it carries is not the one your checkpoint was signed in",
        CHECKPOINTS,
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
