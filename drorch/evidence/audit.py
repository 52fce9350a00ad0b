"""The catalog's own check of its evidence log: every leaf, hash, signature, link and
checkpoint recomputed from the rows. Run by the daemon at start; names the first bad seq.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.catalog.evidence import CheckpointRecord, EvidenceRecord, LogView
from drorch.evidence.canonical import is_canonical, parse_utc
from drorch.evidence.envelope import GENESIS, checkpoint_problem
from drorch.evidence.examine import Examined, start_examining
from drorch.evidence.merkle import CompactTree, leaf_hash
from drorch.evidence.signing import key_id, signature_valid


@dataclass(frozen=True)
class Damage:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"evidence record {self.seq}: {self.reason}"


def find_damage(view: LogView, key: Ed25519PublicKey, *, signatures: bool = True) -> Damage | None:
    """The first record (by seq) that is not as it was appended, or None.

    Every record's body, columns, hash, signature and link is checked and every
    checkpoint's root recomputed and its columns compared with its signed body; the newest
    checkpoint's signature is verified (older ones only narrow down where a change is).
    signatures=False skips the records' signatures (~70 % of the cost): a changed record
    still shows as a hash or root that no longer matches the signed checkpoint."""
    ours = key_id(key)
    bodies = [row.body.encode("utf-8") for row in view.records]
    pending = start_examining(bodies, key, signatures=signatures)
    broken = {mark.tree_size: _checkpoint_problem(mark, ours) for mark in view.checkpoints}
    found = [
        Damage(size, f"checkpoint {size} {problem}")
        for size, problem in broken.items()
        if problem is not None
    ]
    if view.checkpoints:
        newest = view.checkpoints[-1]
        if not signature_valid(key, newest.signature, newest.body.encode("utf-8")):
            found.append(
                Damage(newest.tree_size, f"checkpoint {newest.tree_size}'s signature is invalid")
            )
        if newest.tree_size > len(view.records):
            found.append(
                Damage(
                    len(view.records) + 1,
                    f"is missing: checkpoint {newest.tree_size} covers records up to "
                    f"{newest.tree_size}, the log ends at {len(view.records)}: deleted",
                )
            )
    marks = {mark.tree_size: mark for mark in view.checkpoints if broken[mark.tree_size] is None}
    # The tree's root at each checkpoint's size, while the workers examine the records.
    tree, roots = CompactTree(), {}
    for body in bodies:
        tree.append(leaf_hash(body))
        if tree.size in marks:
            roots[tree.size] = tree.root().hex()
    prev, covered = GENESIS, 0
    for expected, (row, facts) in enumerate(zip(view.records, pending(), strict=True), 1):
        problem = _row_problem(row, facts, expected, ours, prev)
        if problem is not None:
            found.append(Damage(expected, problem))
            break
        assert not isinstance(facts, str)
        prev = facts.hash
        mark = marks.get(expected)
        if mark is not None:
            if mark.root_hash != roots[expected]:
                found.append(
                    Damage(
                        covered + 1,
                        f"records {covered + 1}–{expected} no longer match the root of "
                        f"checkpoint {expected}: one of them was changed",
                    )
                )
                break
            covered = expected
    else:
        if len(view.records) > covered:
            found.append(Damage(covered + 1, "no signed checkpoint covers it: inserted"))
    return min(found, key=lambda damage: damage.seq) if found else None


def _row_problem(
    row: EvidenceRecord, facts: Examined, expected: int, ours: str, prev: str
) -> str | None:
    if row.seq != expected:
        return f"is missing (the next record is {row.seq}): deleted"
    if isinstance(facts, str):
        return f"its body is not what was signed ({facts}): changed"
    columns = {
        "seq": (row.seq, facts.seq),
        "id": (row.id, facts.id),
        "kind": (row.kind, facts.kind),
        "job": (row.job, facts.job),
        "hash": (row.hash, facts.hash),
        "key_id": (row.key_id, facts.key_id),
        "at": (row.at, parse_utc(facts.at)),
    }
    for name, (column, body) in columns.items():
        if column != body:
            return f"its {name} column disagrees with its body: changed"
    if not facts.hash_ok:
        return "its content does not match its hash: changed"
    if facts.key_id != ours:
        return f"it is signed by another key ({facts.key_id}, this log's key is {ours})"
    if not facts.signature_ok:
        return "its signature does not verify: changed after signing"
    if facts.prev != prev:
        return "its prev does not match the hash of the record before it: the chain is broken"
    return None


def _checkpoint_problem(mark: CheckpointRecord, ours: str) -> str | None:
    body = is_canonical(mark.body.encode("utf-8"))
    if body is None or checkpoint_problem({**body, "signature": mark.signature}) is not None:
        return "has a body that is not a checkpoint: changed"
    columns = {"tree_size": mark.tree_size, "root_hash": mark.root_hash, "key_id": mark.key_id}
    for name, value in columns.items():
        if body[name] != value:
            return f"has a {name} column that disagrees with its signed body: changed"
    if parse_utc(body["at"]) != mark.at:
        return "has an at column that disagrees with its signed body: changed"
    if mark.key_id != ours:
        return f"is signed by another key ({mark.key_id}, this log's key is {ours})"
    return None
