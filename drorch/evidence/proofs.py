"""The proof lines of a bundle: an inclusion proof per record (proofs.jsonl, keys.jsonl)
and the consistency proof from an earlier checkpoint, written and checked for form here;
merkle.py checks what they prove."""

from __future__ import annotations

from typing import Any

from drorch.evidence.envelope import HEX64

INCLUSION_KEYS = frozenset({"type", "seq", "tree_size", "leaf_hash", "path"})
CONSISTENCY_KEYS = frozenset({"type", "from_size", "from_root", "to_size", "to_root", "path"})


def inclusion_line(seq: int, tree_size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """A line of proofs.jsonl: the audit path of record seq (leaf seq - 1) in the tree, as
    canonical JSON (written out directly: verify builds 100,000 of these to compare)."""
    nodes = ",".join(f'"{node.hex()}"' for node in path)
    return (
        f'{{"leaf_hash":"{leaf.hex()}","path":[{nodes}],"seq":{seq},'
        f'"tree_size":{tree_size},"type":"inclusion"}}'
    ).encode("ascii")


def inclusion_problem(proof: Any) -> str | None:
    if not isinstance(proof, dict) or set(proof) != INCLUSION_KEYS:
        return "not an inclusion proof"
    good = (
        proof["type"] == "inclusion"
        and is_count(proof["seq"], 1)
        and is_count(proof["tree_size"], 1)
        and is_hex(proof["leaf_hash"])
        and isinstance(proof["path"], list)
        and all(is_hex(node) for node in proof["path"])
    )
    return None if good else "a malformed inclusion proof"


def consistency_problem(proof: Any) -> str | None:
    good = (
        isinstance(proof, dict)
        and set(proof) == CONSISTENCY_KEYS
        and proof["type"] == "consistency"
        and is_count(proof["from_size"], 1)
        and is_count(proof["to_size"], 1)
        and is_hex(proof["from_root"])
        and is_hex(proof["to_root"])
        and isinstance(proof["path"], list)
        and all(is_hex(node) for node in proof["path"])
    )
    return None if good else "a malformed consistency proof"


def is_count(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def is_hex(value: Any) -> bool:
    return isinstance(value, str) and bool(HEX64.fullmatch(value))
