"""Which key signs which part of the evidence log: key rotation that keeps it verifiable.

`drorch keys rotate` appends a `key-rotation` record, signed by the old key, naming the new
one (its public key and id); every later record is signed by the new key, and so is the
checkpoint covering the rotation record: a checkpoint is signed by the key that signs the
record after it. The log thus carries its own chain of keys, each vouched for by the one
before, and a verifier that trusts any key of the chain can walk it:

    chain = chain_of(lines)            # from the log's own rotation records
    chain.id_for(seq)                  # the key that must have signed record seq
    chain.id_for(tree_size + 1)        # the key that must have signed that checkpoint

The rotation records are found without parsing every line: canonical JSON writes the kind
as exactly `"kind":"key-rotation"`.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.errors import UsageError
from drorch.evidence.signing import key_id, parse_public_key, raw_public

ROTATION = "key-rotation"
_MARK = b'"kind":"key-rotation"'
FIELDS = ("old_key_id", "old_public_key", "new_key_id", "new_public_key")


@dataclass(frozen=True)
class KeyChain:
    """The keys of a log in order, each with the first seq it signs."""

    links: tuple[tuple[int, str, Ed25519PublicKey], ...]  # (first seq, key id, key)

    @classmethod
    def single(cls, key: Ed25519PublicKey) -> KeyChain:
        return cls(((1, key_id(key), key),))

    def _index(self, seq: int) -> int:
        return max(0, bisect.bisect_right([first for first, _, _ in self.links], seq) - 1)

    def id_for(self, seq: int) -> str:
        """The id of the key that signs record `seq` (and checkpoint `seq - 1`)."""
        return self.links[self._index(seq)][1]

    def key_for(self, seq: int) -> Ed25519PublicKey:
        return self.links[self._index(seq)][2]

    @property
    def current_id(self) -> str:
        return self.links[-1][1]

    @property
    def raw_keys(self) -> dict[str, bytes]:
        """Every key of the chain by id, as the record examiner takes them."""
        return {kid: raw_public(key) for _, kid, key in self.links}

    def holds(self, kid: str) -> bool:
        return any(link_id == kid for _, link_id, _ in self.links)


def rotations_in(lines: Iterable[bytes | None]) -> list[tuple[int, Mapping[str, Any]]]:
    """The rotation records among the lines (seq, parsed record), in seq order; a line
    that does not parse is the record examiner's to report."""
    found: list[tuple[int, Mapping[str, Any]]] = []
    for line in lines:
        if line is None or _MARK not in line:
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            continue
        seq = record.get("seq") if isinstance(record, dict) else None
        if isinstance(seq, int) and record.get("kind") == ROTATION:
            found.append((seq, record))
    return sorted(found, key=lambda item: item[0])


class KeyChainBroken(Exception):
    """A rotation record that does not continue the chain."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq, self.reason = seq, reason


def chain_of(lines: Sequence[bytes | None], *, first: Ed25519PublicKey) -> KeyChain:
    """The chain the lines' rotation records make (KeyChainBroken where they make none).
    Without rotations the log has one key: `first` (the caller's)."""
    rotations = rotations_in(lines)
    if not rotations:
        return KeyChain.single(first)
    links: list[tuple[int, str, Ed25519PublicKey]] = []
    for seq, record in rotations:
        try:
            old, new = _key(record, "old"), _key(record, "new")
        except ValueError as exc:
            raise KeyChainBroken(seq, f"this key-rotation record {exc}") from exc
        if not links:
            links.append((1, key_id(old), old))
        elif links[-1][1] != key_id(old):
            raise KeyChainBroken(
                seq,
                f"this key-rotation record rotates away from key {key_id(old)}, but key "
                f"{links[-1][1]} signs the records before it",
            )
        links.append((seq + 1, key_id(new), new))
    return KeyChain(tuple(links))


def rotation_fields(old: Ed25519PublicKey, new: Ed25519PublicKey, reason: str) -> dict[str, Any]:
    from drorch.evidence.signing import public_pem

    return {
        "old_key_id": key_id(old),
        "old_public_key": public_pem(old).decode("ascii"),
        "new_key_id": key_id(new),
        "new_public_key": public_pem(new).decode("ascii"),
        "reason": reason,
    }


def _key(record: Mapping[str, Any], which: str) -> Ed25519PublicKey:
    pem, kid = record.get(f"{which}_public_key"), record.get(f"{which}_key_id")
    if not isinstance(pem, str) or not isinstance(kid, str):
        raise ValueError(f"lacks its {which} key")
    try:
        key = parse_public_key(pem.encode("ascii"), f"its {which}_public_key")
    except (UsageError, UnicodeEncodeError) as exc:
        raise ValueError(f"has an unreadable {which} key: {exc}") from exc
    if key_id(key) != kid:
        raise ValueError(f"names {which} key {kid}, but its public key is {key_id(key)}")
    return key
