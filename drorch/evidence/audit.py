"""The catalog's own check of its evidence log: every leaf, hash, signature, link and
checkpoint recomputed from the rows. The daemon runs it at start (the first bad seq);
`evidence list` and `show` run it to mark each record that does not verify.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.catalog.evidence import CheckpointRecord, EvidenceRecord, LogView
from drorch.evidence.canonical import is_canonical, parse_utc
from drorch.evidence.envelope import GENESIS, checkpoint_problem
from drorch.evidence.examine import Examined, examine, start_examining
from drorch.evidence.keychain import KeyChain, KeyChainBroken, chain_of
from drorch.evidence.merkle import CompactTree, leaf_hash
from drorch.evidence.signing import key_id, signature_valid

SIGNATURE_FAILS = "its signature does not verify: changed after signing"


@dataclass(frozen=True)
class Damage:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"evidence record {self.seq}: {self.reason}"


@dataclass(frozen=True)
class Audit:
    """Everything found wrong with a log, each damage at the seq it is about (a missing
    record's seq, or a checkpoint's tree size, when no row has that seq)."""

    damages: tuple[Damage, ...]
    problems: Mapping[int, str]  # seq -> why that row does not verify (reasons joined)
    missing: tuple[Damage, ...]  # damage at seqs no row has: deleted records

    @property
    def first(self) -> Damage | None:
        return min(self.damages, key=lambda damage: damage.seq) if self.damages else None

    def problem(self, seq: int) -> str | None:
        """Why record seq does not verify, or None when it does."""
        return self.problems.get(seq)


def _audit_of(found: list[Damage], seqs: Collection[int]) -> Audit:
    problems: dict[int, list[str]] = {}
    missing = []
    # a record's own problem first, then its checkpoint's
    for damage in sorted(found, key=lambda damage: damage.reason.startswith("checkpoint ")):
        if damage.seq in seqs:
            problems.setdefault(damage.seq, []).append(damage.reason)
        else:
            missing.append(damage)
    return Audit(
        tuple(found),
        {seq: "; ".join(reasons) for seq, reasons in problems.items()},
        tuple(missing),
    )


def find_damage(view: LogView, key: Ed25519PublicKey, *, signatures: bool = True) -> Damage | None:
    """The first record (by seq) that is not as it was appended, or None."""
    return audit(view, key, signatures=signatures).first


def audit(view: LogView, key: Ed25519PublicKey, *, signatures: bool = True) -> Audit:
    """Every record that is not as it was appended, each with why.

    Every record's body, columns, hash, signature and link is checked and every
    checkpoint's root recomputed and its columns compared with its signed body; the newest
    checkpoint's signature is verified (older ones only narrow down where a change is).
    signatures=False skips the records' signatures (~70 % of the cost): a changed record
    still shows as a hash or root that no longer matches the signed checkpoint."""
    bodies = [row.body.encode("utf-8") for row in view.records]
    chain, found = log_chain(bodies, key)
    pending = start_examining(bodies, chain, signatures=signatures)
    found += _checkpoint_damage(view, chain)
    marks = {
        mark.tree_size: mark
        for mark in view.checkpoints
        if stored_checkpoint_problem(mark, chain) is None
    }
    # The tree's root at each checkpoint's size, while the workers examine the records.
    tree, roots = CompactTree(), {}
    for body in bodies:
        tree.append(leaf_hash(body))
        if tree.size in marks:
            roots[tree.size] = tree.root().hex()
    prev, expected, covered, rooted = GENESIS, 1, 0, True
    for row, facts in zip(view.records, pending(), strict=True):
        if row.seq != expected:
            found.append(Damage(expected, f"is missing (the next record is {row.seq}): deleted"))
            rooted = False  # the leaves no longer line up with the seqs
        problem = _row_problem(row, facts, chain, None if row.seq != expected else prev)
        if problem is not None:
            found.append(Damage(row.seq, problem))
        prev = facts.hash if not isinstance(facts, str) else row.hash
        expected = row.seq + 1
        mark = marks.get(row.seq)
        if rooted and mark is not None:
            if mark.root_hash != roots[row.seq]:
                found.extend(_changed_under(mark, covered, found))
                rooted = False
            else:
                covered = row.seq
    signed_up_to = covered if rooted else max(marks, default=0)
    explained = {damage.seq for damage in found}
    found.extend(
        Damage(row.seq, "no signed checkpoint covers it: inserted")
        for row in view.records
        if row.seq > signed_up_to and row.seq not in explained
    )
    return _audit_of(found, {row.seq for row in view.records})


def log_chain(bodies: Sequence[bytes], key: Ed25519PublicKey) -> tuple[KeyChain, list[Damage]]:
    """The keys of the log, from its rotation records, as far as they lead to `key` (the
    appender's, the one trusted here); a log whose rotations lead elsewhere is read as
    signed by `key` alone, so that every record another key signed is named."""
    try:
        chain = chain_of(bodies, first=key)
    except KeyChainBroken as exc:
        return KeyChain.single(key), [Damage(exc.seq, exc.reason)]
    if chain.current_id != key_id(key):
        return KeyChain.single(key), []
    return chain, []


def _checkpoint_damage(view: LogView, chain: KeyChain) -> list[Damage]:
    """Damage to the checkpoints themselves: bodies, columns, the newest one's signature
    and size (a checkpoint covering records the log no longer holds)."""
    found = []
    for mark in view.checkpoints:
        problem = stored_checkpoint_problem(mark, chain)
        if problem is not None:
            found.append(Damage(mark.tree_size, f"checkpoint {mark.tree_size} {problem}"))
    if view.checkpoints:
        newest = view.checkpoints[-1]
        signer = chain.id_for(newest.tree_size + 1)
        if newest.key_id == signer and not signature_valid(
            chain.key_for(newest.tree_size + 1), newest.signature, newest.body.encode("utf-8")
        ):
            found.append(
                Damage(newest.tree_size, f"checkpoint {newest.tree_size}'s signature is invalid")
            )
        last = view.records[-1].seq if view.records else 0
        if newest.tree_size > last:
            found.append(
                Damage(
                    last + 1,
                    f"is missing: checkpoint {newest.tree_size} covers records up to "
                    f"{newest.tree_size}, the log ends at {last}: deleted",
                )
            )
    return found


def _changed_under(mark: CheckpointRecord, covered: int, found: list[Damage]) -> list[Damage]:
    """A root that no longer matches: the records under it that do not already show why."""
    span = range(covered + 1, mark.tree_size + 1)
    if any(damage.seq in span for damage in found):
        return []
    reason = (
        f"records {covered + 1}–{mark.tree_size} no longer match the root of checkpoint "
        f"{mark.tree_size}: one of them was changed"
    )
    return [Damage(seq, reason) for seq in span]


def _row_problem(
    row: EvidenceRecord, facts: Examined, chain: KeyChain, prev: str | None
) -> str | None:
    """What is wrong with one row; prev None: the record before it is missing."""
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
    signer = chain.id_for(row.seq)
    if facts.key_id != signer:
        return f"it is signed by another key ({facts.key_id}, this log's key is {signer})"
    if not facts.signature_ok:
        return SIGNATURE_FAILS
    if prev is None:
        return f"record {row.seq - 1} before it is missing: deleted"
    if facts.prev != prev:
        return "its prev does not match the hash of the record before it: the chain is broken"
    return None


def signature_problem(row: EvidenceRecord, chain: KeyChain) -> str | None:
    """Whether one record's signature fails with the key of the chain it names (None too
    when its form is broken: audit says why)."""
    facts = examine([row.body.encode("utf-8")], chain.raw_keys)[0]
    if isinstance(facts, str) or facts.signature_ok:
        return None
    return SIGNATURE_FAILS


def stored_checkpoint_problem(mark: CheckpointRecord, chain: KeyChain) -> str | None:
    """What is wrong with a checkpoint row (its signature aside), or None."""
    body = is_canonical(mark.body.encode("utf-8"))
    if body is None or checkpoint_problem({**body, "signature": mark.signature}) is not None:
        return "has a body that is not a checkpoint: changed"
    columns = {"tree_size": mark.tree_size, "root_hash": mark.root_hash, "key_id": mark.key_id}
    for name, value in columns.items():
        if body[name] != value:
            return f"has a {name} column that disagrees with its signed body: changed"
    if parse_utc(body["at"]) != mark.at:
        return "has an at column that disagrees with its signed body: changed"
    signer = chain.id_for(mark.tree_size + 1)
    if mark.key_id != signer:
        return f"is signed by another key ({mark.key_id}, this log's key is {signer})"
    return None
