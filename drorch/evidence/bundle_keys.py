"""A bundle's keys: the chain that leads from the auditor's trusted key to the key that
signs the bundle, across `drorch keys rotate`.

A rotation is a `key-rotation` record signed by the old key that names the new one
(keychain.py). A bundle carries every rotation record of its checkpoint's tree: those
inside its range in records.jsonl, the others (before its range, or after it up to the
checkpoint) in keys.jsonl, one line each, canonical JSON:

    {"inclusion": {<as a line of proofs.jsonl>}, "record": "<the record's exact line>"}

An auditor who trusts any key of the chain walks it: record seq is signed by
chain.id_for(seq), checkpoint N by chain.id_for(N + 1), the manifest and public_key.pem
are the current key's. Every key after the trusted one is vouched for by the key before
it; every key before it, by the trusted key's signatures over the tree that holds the
rotation records (checkpoints and `prev` links).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.evidence.canonical import canonical_bytes, is_canonical
from drorch.evidence.examine import Facts, examine
from drorch.evidence.findings import INSERTED, MODIFIED, REORDERED, WRONG_KEY, Finding
from drorch.evidence.keychain import ROTATION, KeyChain, KeyChainBroken, chain_of
from drorch.evidence.manifest import KEYS, RECORDS
from drorch.evidence.merkle import leaf_hash, verify_inclusion
from drorch.evidence.proofs import inclusion_problem
from drorch.evidence.signing import key_id


@dataclass(frozen=True)
class KeyRecord:
    """One line of keys.jsonl, its form checked."""

    line: int  # its line number in keys.jsonl
    record: bytes  # the rotation record's exact line
    proof: dict[str, Any]  # its inclusion proof against the bundle's checkpoint


def keys_line(record: str, proof_line: bytes) -> bytes:
    """A line of keys.jsonl: the rotation record's stored line and its inclusion proof."""
    return canonical_bytes({"inclusion": json.loads(proof_line), "record": record})


def read_key_records(lines: Sequence[bytes | None]) -> list[KeyRecord] | Finding:
    """keys.jsonl's lines, or the first that is not a record line and its proof."""
    found = []
    for number, line in enumerate(lines, 1):
        entry = is_canonical(line) if line is not None else None
        if (
            not isinstance(entry, dict)
            or set(entry) != {"inclusion", "record"}
            or not isinstance(entry["record"], str)
            or inclusion_problem(entry["inclusion"]) is not None
        ):
            return Finding(
                None,
                MODIFIED,
                "a line is not one canonical JSON object of a rotation record and its "
                "inclusion proof",
                KEYS,
                number,
            )
        found.append(KeyRecord(number, entry["record"].encode("utf-8"), entry["inclusion"]))
    return found


def bundle_chain(lines: Sequence[bytes | None], trusted: Ed25519PublicKey) -> KeyChain | Finding:
    """The chain the bundle's rotation records make (records.jsonl's lines and
    keys.jsonl's records), which must hold the trusted key; without rotations, the trusted
    key alone. Records are not checked here: the chain only says which key must have
    signed what, and every record and proof is then checked against it."""
    trusted_id = key_id(trusted)
    try:
        chain = chain_of(lines, first=trusted)
    except KeyChainBroken as exc:
        return Finding(exc.seq, MODIFIED, f"{exc.reason}: the chain of keys is broken", None)
    if chain.holds(trusted_id):
        return chain
    return Finding(
        None,
        WRONG_KEY,
        f"the bundle is signed by key {chain.current_id}; no rotation in it leads from your "
        f"key {trusted_id}",
    )


def walk(chain: KeyChain, trusted_id: str) -> str:
    """The chain as verified: `keys: A (trusted) → B at record 12 → C at record 40`, each
    key after the first with the seq of the rotation record that hands over to it."""
    return "keys: " + " → ".join(
        kid
        + (" (trusted)" if kid == trusted_id else "")
        + (f" at record {first - 1}" if first > 1 else "")
        for first, kid, _ in chain.links
    )


def key_record_finding(
    entries: Sequence[KeyRecord],
    chain: KeyChain,
    checkpoint: dict[str, Any],
    span: tuple[int, int] | None,
) -> Finding | None:
    """The first line of keys.jsonl that is not a rotation record of the checkpoint's tree
    outside the records' span (first, last seq), in seq order, signed by the chain's key
    for its seq, with an inclusion proof leading to the checkpoint's root."""
    size, root = checkpoint["tree_size"], bytes.fromhex(checkpoint["root_hash"])
    examined = examine([entry.record for entry in entries], chain.raw_keys)
    last = 0
    for entry, facts in zip(entries, examined, strict=True):

        def bad(what: str, detail: str, seq: int | None) -> Finding:
            return Finding(seq, what, detail, KEYS, entry.line)  # noqa: B023

        if not isinstance(facts, Facts):
            return bad(MODIFIED, f"its rotation record is not a record: {facts}", None)
        seq = facts.seq
        if facts.kind != ROTATION:
            return bad(INSERTED, f"it is a {facts.kind} record, not a key rotation", seq)
        if span is not None and span[0] <= seq <= span[1]:
            return bad(INSERTED, f"a second copy of record {seq}, which {RECORDS} holds", seq)
        if seq > size:
            return bad(INSERTED, f"the bundle's checkpoint covers records up to {size}", seq)
        if seq <= last:
            return bad(REORDERED, f"it follows record {last}", seq)
        last = seq
        signer = chain.id_for(seq)
        if facts.key_id != signer:
            return bad(
                WRONG_KEY, f"key {facts.key_id}, the chain of keys has key {signer} sign it", seq
            )
        if not facts.hash_ok:
            return bad(MODIFIED, "its content does not match its hash", seq)
        if not facts.signature_ok:
            return bad(MODIFIED, f"its signature does not verify with key {signer}", seq)
        proof, leaf = entry.proof, leaf_hash(entry.record)
        if (proof["seq"], proof["tree_size"], proof["leaf_hash"]) != (seq, size, leaf.hex()):
            return bad(MODIFIED, f"its inclusion proof is not for it in checkpoint {size}", seq)
        path = [bytes.fromhex(node) for node in proof["path"]]
        if not verify_inclusion(seq - 1, size, leaf, path, root):
            return bad(
                MODIFIED, f"its inclusion proof does not lead to the root of checkpoint {size}", seq
            )
    return None
