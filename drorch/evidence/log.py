"""The evidence log: append-only, hash-chained, signed records under signed checkpoints.

    log = EvidenceLog(catalog, settings.evidence_key)   # EvidenceKeyError if unusable
    log.append("restore-test", {"job": "payroll", "result": "pass", ...})

Only the holder of the `evidence:writer` lock appends; records and the checkpoint covering
them are written in one transaction, so the log never has a record no checkpoint signs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drorch.catalog import Catalog, utc_now
from drorch.catalog import evidence as table
from drorch.catalog.evidence import CheckpointRecord, EvidenceRecord
from drorch.errors import EvidenceError
from drorch.evidence.audit import (
    Audit,
    Damage,
    audit,
    signature_problem,
    stored_checkpoint_problem,
)
from drorch.evidence.canonical import parsed_canonical, utc_iso
from drorch.evidence.envelope import GENESIS, check_fields, checkpoint_body, record_digest
from drorch.evidence.keychain import (
    ROTATION,
    KeyChain,
    KeyChainBroken,
    chain_of,
    rotation_fields,
)
from drorch.evidence.merkle import CompactTree, leaf_hash
from drorch.evidence.signing import key_id, load_private_key, public_pem, signature_valid
from drorch.locks import resource_lock

log = logging.getLogger(__name__)

WRITER_LOCK = "evidence:writer"
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class _Tip:
    """What this process knows of the log's end, reused while nobody else appends."""

    last_hash: str
    tree: CompactTree
    root_hash: str


def log_key_id(catalog: Catalog) -> str | None:
    """The key id the log's end is signed with (its newest checkpoint's, else its newest
    record's), or None when the log holds nothing."""
    head = table.head(catalog)
    if head.checkpoint is not None:
        return head.checkpoint.key_id
    newest = table.record(catalog, head.last_seq) if head.last_seq else None
    return None if newest is None else newest.key_id


class EvidenceLog:
    def __init__(
        self,
        catalog: Catalog,
        key_path: Path,
        *,
        host: str | None = None,
        clock: Clock = utc_now,
        lock_wait: float = 30.0,
    ) -> None:
        self._catalog = catalog
        self._key_path = key_path
        self._key = load_private_key(key_path)
        self._public = self._key.public_key()
        self.key_id = key_id(self._public)
        self._host = host or socket.gethostname()
        self._clock = clock
        self._lock_wait = lock_wait
        self._tip: _Tip | None = None

    @property
    def public_key_pem(self) -> bytes:
        return public_pem(self._public)

    def append(self, kind: str, fields: Mapping[str, Any]) -> EvidenceRecord:
        """Sign and store one record, then a checkpoint covering it."""
        return self.append_many([(kind, fields)])[0]

    def append_many(self, entries: Iterable[tuple[str, Mapping[str, Any]]]) -> list[EvidenceRecord]:
        """Sign and store several records in one transaction, with one checkpoint."""
        items = [(kind, dict(fields)) for kind, fields in entries]
        for kind, fields in items:
            check_fields(kind, fields)
            if kind == ROTATION:
                raise EvidenceError("a key-rotation record is written by rotate() alone")
        if not items:
            return []
        with self._writer():
            return self._append(items)

    def rotate(self, new_key_path: Path, reason: str) -> EvidenceRecord:
        """Hand the log over to the key at new_key_path: a key-rotation record naming it,
        signed by this key, and a checkpoint signed by the new key (a checkpoint is signed
        by the key of the record after it). From then on this object signs with the new
        key; its file is the caller's to put in place of the old one."""
        new = load_private_key(new_key_path)
        fields = rotation_fields(self._public, new.public_key(), reason)
        with self._writer():
            [record] = self._append([(ROTATION, fields)], checkpoint_key=new)
            self._key, self._public = new, new.public_key()
            self.key_id = key_id(self._public)
            self._key_path = new_key_path
        log.warning("evidence key rotated: %s -> %s", fields["old_key_id"], self.key_id)
        return record

    def _append(
        self,
        items: list[tuple[str, dict[str, Any]]],
        *,
        checkpoint_key: Ed25519PrivateKey | None = None,
    ) -> list[EvidenceRecord]:
        """Under the writer lock: the records, signed by this key (which the tip's check may
        have just moved on after a rotation), and their checkpoint."""
        tip = self._current_tip()
        tree = tip.tree.copy()
        prev = tip.last_hash
        written = []
        for kind, fields in items:
            record = self._seal(kind, fields, seq=tree.size + 1, prev=prev)
            tree.append(leaf_hash(record.body.encode("utf-8")))
            written.append(record)
            prev = record.hash
        checkpoint = self._checkpoint(tree, checkpoint_key or self._key)
        table.append(self._catalog, written, checkpoint)
        self._tip = _Tip(prev, tree, checkpoint.root_hash)
        log.debug("evidence %s..%s appended", written[0].seq, written[-1].seq)
        return written

    def chain(self) -> KeyChain:
        """The log's keys, from its rotation records, when they lead to this key; else
        this key alone (audit then names what another key signed)."""
        rotations = table.records_of_kind(self._catalog, ROTATION)
        try:
            chain = chain_of([r.body.encode("utf-8") for r in rotations], first=self._public)
        except KeyChainBroken:
            return KeyChain.single(self._public)
        return chain if chain.current_id == self.key_id else KeyChain.single(self._public)

    def self_check(self, *, signatures: bool = True) -> int | None:
        """The first seq whose record is not as appended (logged with the reason), or None.
        About 0.1 ms a record on two CPUs; signatures=False is about a third of that."""
        damage = self.find_damage(signatures=signatures)
        if damage is not None:
            log.error("the evidence log is damaged: %s", damage)
            return damage.seq
        return None

    def find_damage(self, *, signatures: bool = True) -> Damage | None:
        return self.audit(signatures=signatures).first

    def audit(self, *, signatures: bool = True) -> Audit:
        """Every record that does not verify with this key, each with why. Read under the
        writer lock: a record appended meanwhile would look uncovered by a checkpoint."""
        with self._writer():
            return audit(table.view(self._catalog), self._public, signatures=signatures)

    def signature_problem(self, record: EvidenceRecord) -> str | None:
        """Whether one record's signature verifies with this key (what audit skips with
        signatures=False); its other seals are audit's."""
        return signature_problem(record, self.chain())

    # -- inside the writer lock -----------------------------------------------------------

    def _seal(self, kind: str, fields: dict[str, Any], *, seq: int, prev: str) -> EvidenceRecord:
        at = self._clock()
        record = {
            **fields,
            "seq": seq,
            "id": str(uuid.uuid4()),
            "kind": kind,
            "at": utc_iso(at),
            "host": self._host,
            "prev": prev,
        }
        digest = record_digest(record)  # fields were checked by check_fields
        record["hash"] = digest.hex()
        record["signature"] = self._key.sign(digest).hex()
        record["key_id"] = self.key_id
        return EvidenceRecord(
            seq=seq,
            id=record["id"],
            kind=kind,
            job=fields.get("job"),
            at=at,
            hash=record["hash"],
            key_id=self.key_id,
            body=parsed_canonical(record).decode("utf-8"),
        )

    def _checkpoint(self, tree: CompactTree, key: Ed25519PrivateKey) -> CheckpointRecord:
        at = self._clock()
        root = tree.root().hex()
        signer = key_id(key.public_key())
        body = checkpoint_body(tree_size=tree.size, root_hash=root, at=utc_iso(at), key_id=signer)
        return CheckpointRecord(
            tree_size=tree.size,
            root_hash=root,
            at=at,
            body=body.decode("utf-8"),
            signature=key.sign(body).hex(),
            key_id=signer,
        )

    def _current_tip(self) -> _Tip:
        """The cached tip when the catalog's end is still the one this process wrote;
        otherwise rebuilt from every leaf and checked against the newest checkpoint: signed
        by this key, its columns its signed body, its root the root of every leaf. That
        proves every record's body is as it was when that checkpoint was signed (about
        5 ms a thousand records: the leaves' SHA-256 and one signature)."""
        head = table.head(self._catalog)
        tip = self._tip
        if (
            tip is not None
            and head.checkpoint is not None
            and head.last_seq == tip.tree.size == head.checkpoint.tree_size
            and head.last_hash == tip.last_hash
            and head.checkpoint.root_hash == tip.root_hash
        ):
            return tip
        tree, last_body = CompactTree(), None
        for seq, body in table.leaves(self._catalog):
            if seq != tree.size + 1:
                raise self._damaged(f"record {tree.size + 1} is missing")
            tree.append(leaf_hash(body.encode("utf-8")))
            last_body = body
        if head.checkpoint is None:
            if tree.size:
                raise self._damaged("records exist but no signed checkpoint covers them")
            return _Tip(GENESIS, tree, tree.root().hex())
        self._check_newest(head.checkpoint)
        if head.checkpoint.tree_size != tree.size:
            raise self._damaged(
                f"the newest checkpoint covers {head.checkpoint.tree_size} records, "
                f"the log holds {tree.size}"
            )
        if head.checkpoint.root_hash != tree.root().hex():
            raise self._damaged("its records no longer match the newest checkpoint's root")
        assert last_body is not None
        last_hash = json.loads(last_body).get("hash")
        if head.last_hash != last_hash:
            raise self._damaged(f"record {tree.size}'s hash column disagrees with its body")
        return _Tip(last_hash, tree, head.checkpoint.root_hash)

    def _check_newest(self, newest: CheckpointRecord) -> None:
        """Refuse a newest checkpoint this key did not sign, or whose row was edited."""
        if newest.key_id != self.key_id:
            self._follow_rotation(newest.key_id)
        if newest.key_id != self.key_id:
            raise EvidenceError(
                f"the evidence log is signed with key {newest.key_id}, but the evidence key "
                f"{self._key_path} is key {self.key_id}: the key file was replaced (by "
                "`drorch keys init` after it went missing?). Nothing was appended. Put the "
                f"key file of {newest.key_id} back from a backup; to change keys, "
                "`drorch keys rotate` signs the new key with the old one."
            )
        problem = stored_checkpoint_problem(newest, KeyChain.single(self._public))
        if problem is not None:
            raise self._damaged(f"checkpoint {newest.tree_size} {problem}")
        if not signature_valid(self._public, newest.signature, newest.body.encode("utf-8")):
            raise self._damaged(f"checkpoint {newest.tree_size}'s signature is invalid")

    def _follow_rotation(self, signer: str) -> None:
        """A process that started before `drorch keys rotate` (the daemon) takes the new key
        from the key file, when the log's own chain hands over from its key to that one."""
        try:
            fresh = load_private_key(self._key_path)
        except EvidenceError:
            return
        if key_id(fresh.public_key()) != signer or not self.chain_leads(self.key_id, signer):
            return
        log.warning("the evidence key was rotated: %s -> %s; signing with it", self.key_id, signer)
        self._key, self._public, self.key_id = fresh, fresh.public_key(), signer

    def chain_leads(self, old: str, new: str) -> bool:
        """Whether the log's rotation records hand over from key `old` to key `new`."""
        rotations = table.records_of_kind(self._catalog, ROTATION)
        bodies = [r.body.encode("utf-8") for r in rotations]
        if not bodies:
            return False
        try:
            chain = chain_of(bodies, first=self._public)
        except KeyChainBroken:
            return False
        ids = [kid for _, kid, _ in chain.links]
        return old in ids and ids[-1] == new

    def _damaged(self, why: str) -> EvidenceError:
        return EvidenceError(
            f"the evidence log in the catalog is damaged ({why}); nothing was appended. "
            "`drorch evidence list` marks every record that does not verify."
        )

    def _writer(self) -> contextlib.AbstractContextManager[object]:
        """The writer lock, waiting up to lock_wait seconds for another appender."""
        return resource_lock(
            self._catalog, WRITER_LOCK, purpose="evidence writer", wait=self._lock_wait
        )
