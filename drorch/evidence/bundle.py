"""Export an evidence bundle for an auditor; `verify` (from verify.py) checks one offline.

A bundle folder holds:
  records.jsonl      the records' exact stored bytes, one per line, in seq order
  checkpoints.jsonl  the auditor's earlier checkpoint (when given and smaller), then the
                     newest one
  proofs.jsonl       one inclusion proof per record against the newest checkpoint, then
                     the consistency proof from the earlier checkpoint (when given)
  keys.jsonl         the key-rotation records of the checkpoint's tree outside the range,
                     each with its inclusion proof (when there are any: bundle_keys.py)
  public_key.pem     the public half of the key that signs the bundle (after a rotation,
                     the new key: the rotation records lead to it from the earlier ones)
  report.html        the compliance report (when drorch.evidence.report exists)
  manifest.json      what was exported (range, filters), the checkpoint it rests on, the
                     files' SHA-256, signed with the evidence key (manifest.py)

The export does not judge the catalog: it writes what is there, and `verify` names what
does not hold (a hand-edited catalog shows up there).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import socket
from datetime import datetime
from pathlib import Path

from drorch.catalog import Catalog, utc_now
from drorch.catalog import evidence as table
from drorch.catalog.evidence import CheckpointRecord, EvidenceRecord
from drorch.errors import DestinationNotEmpty, EvidenceError
from drorch.evidence.anchor import KeptCheckpoint, checkpoint_in, read_checkpoint
from drorch.evidence.audit import log_chain
from drorch.evidence.bundle_keys import keys_line
from drorch.evidence.canonical import canonical_bytes, utc_iso
from drorch.evidence.envelope import checkpoint_line, checkpoint_problem, unsigned
from drorch.evidence.keychain import ROTATION
from drorch.evidence.manifest import (
    CHECKPOINTS,
    KEYS,
    MANIFEST,
    PROOFS,
    PUBLIC_KEY,
    RECORDS,
    REPORT,
    signed_manifest,
)
from drorch.evidence.merkle import CompactTree, Tree, leaf_hash
from drorch.evidence.proofs import inclusion_line
from drorch.evidence.signing import key_id, load_private_key, public_pem, signature_valid
from drorch.evidence.verify import VerifyResult, verify

__all__ = ["VerifyResult", "export", "newest_checkpoint", "verify"]

log = logging.getLogger(__name__)


def export(
    catalog: Catalog,
    out_dir: Path,
    *,
    key_path: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    from_checkpoint: Path | None = None,
) -> Path:
    """Write a bundle of the records with since <= at <= until (and every record between
    the first and last of those, so seq has no gap) into the new or empty out_dir.
    key_path is the evidence key: it signs the manifest, its public half goes in too.
    from_checkpoint: a checkpoint the auditor kept; the bundle proves its checkpoint
    extends exactly that one (a consistency proof from that size and root)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise DestinationNotEmpty(f"{out_dir} is not empty; a bundle goes into a new folder")
    private = load_private_key(key_path)
    public = private.public_key()
    if from_checkpoint:
        checkpoint_in(from_checkpoint)  # bad input: refused before the log is read
    view = table.view(catalog)
    if not view.checkpoints:
        raise EvidenceError("the evidence log is empty: there is nothing to export")
    newest = view.checkpoints[-1]
    # Records past the newest checkpoint read were appended meanwhile: left for next time.
    stored = [r for r in view.records if r.seq <= newest.tree_size]
    tree = Tree([leaf_hash(r.body.encode("utf-8")) for r in stored])
    chain, _ = log_chain([r.body.encode("utf-8") for r in stored if r.kind == ROTATION], public)
    accepted = (
        read_checkpoint(
            from_checkpoint,
            chain,
            whose="this log's key" if len(chain.links) == 1 else "one of this log's keys",
        )
        if from_checkpoint
        else None
    )
    if newest.key_id != key_id(public):
        raise EvidenceError(
            f"the evidence log's newest checkpoint is signed by key {newest.key_id}, but "
            f"{key_path} is key {key_id(public)}: a manifest signed with it would not verify. "
            "If `drorch keys rotate` was cut short, run it again to finish; else put back "
            f"the key file of {newest.key_id}"
        )
    chosen = _span(stored, since, until)
    if accepted is not None and accepted.tree_size > newest.tree_size:
        raise EvidenceError(
            f"the checkpoint you accepted covers {accepted.tree_size} records but this "
            f"log's newest covers {newest.tree_size}: the log was cut back"
        )

    lines = [checkpoint_line(newest.body, newest.signature)]
    proofs = [
        inclusion_line(r.seq, newest.tree_size, tree.levels[0][index], tree.inclusion_proof(index))
        for index, r in chosen
    ]
    if accepted is not None:
        proofs.append(_consistency_line(accepted, newest, tree))
        if accepted.tree_size < newest.tree_size:
            lines.insert(0, accepted.line)
    records = [r for _, r in chosen]
    files = {
        RECORDS: b"".join(r.body.encode("utf-8") + b"\n" for r in records),
        CHECKPOINTS: b"".join(line + b"\n" for line in lines),
        PROOFS: b"".join(line + b"\n" for line in proofs),
        PUBLIC_KEY: public_pem(public),
    }
    rotations = _rotations_outside(stored, chosen, tree, newest.tree_size)
    if rotations:
        files[KEYS] = rotations
    report = _report(records, newest)
    if report is not None:
        files[REPORT] = report.encode("utf-8")
    manifest = {
        "created_at": utc_iso(utc_now()),
        "host": socket.gethostname(),
        "since": utc_iso(since) if since else None,
        "until": utc_iso(until) if until else None,
        "first_seq": records[0].seq if records else None,
        "last_seq": records[-1].seq if records else None,
        "records": len(records),
        "checkpoint": {"tree_size": newest.tree_size, "root_hash": newest.root_hash},
        "from_checkpoint": (
            {"tree_size": accepted.tree_size, "root_hash": accepted.root_hash} if accepted else None
        ),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files[MANIFEST] = signed_manifest(manifest, private)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    log.info("exported %d evidence records to %s", len(records), out_dir)
    return out_dir


def _rotations_outside(
    stored: list[EvidenceRecord],
    chosen: list[tuple[int, EvidenceRecord]],
    tree: Tree,
    size: int,
) -> bytes:
    """keys.jsonl: the rotation records of the tree that the range leaves out, each with its
    inclusion proof, so that a verifier trusting an earlier key (or a later one) walks the
    chain to the key of the bundle's checkpoint."""
    inside = {r.seq for _, r in chosen}
    return b"".join(
        keys_line(
            r.body, inclusion_line(r.seq, size, tree.levels[0][index], tree.inclusion_proof(index))
        )
        + b"\n"
        for index, r in enumerate(stored)
        if r.kind == ROTATION and r.seq not in inside
    )


def _consistency_line(accepted: KeptCheckpoint, newest: CheckpointRecord, tree: Tree) -> bytes:
    """The consistency proof from the accepted checkpoint to the newest (RFC 6962 2.1.2),
    as the tree of the catalog's records gives it. When those records no longer give the
    accepted root the proof cannot hold: it is written all the same (verify names it) and
    the operator is warned here."""
    old = min(accepted.tree_size, tree.size)
    if tree.root(old).hex() != accepted.root_hash:
        log.warning(
            "the log's records 1–%d do not give the root of the checkpoint you accepted "
            "(%s): this log is not the one that checkpoint signed, and verify will say so",
            accepted.tree_size,
            accepted.root_hash,
        )
    return canonical_bytes(
        {
            "type": "consistency",
            "from_size": accepted.tree_size,
            "from_root": accepted.root_hash,
            "to_size": newest.tree_size,
            "to_root": newest.root_hash,
            "path": [node.hex() for node in tree.consistency_proof(old)],
        }
    )


def newest_checkpoint(catalog: Catalog, key_path: Path) -> KeptCheckpoint:
    """The newest signed checkpoint, for an auditor to keep (`drorch evidence checkpoint`):
    refused (EvidenceError) unless its signature verifies with the evidence key and the
    catalog's records 1..its size give its root, so that nobody keeps a checkpoint over a
    log that is already damaged."""
    public = load_private_key(key_path).public_key()
    head = table.head(catalog)
    if head.checkpoint is None:
        raise EvidenceError("the evidence log is empty: there is no checkpoint to keep yet")
    mark = head.checkpoint
    line = checkpoint_line(mark.body, mark.signature)
    parsed = json.loads(line)

    def damaged(why: str) -> EvidenceError:
        return EvidenceError(
            f"the evidence log's newest checkpoint {mark.tree_size} {why}; not handing it "
            "out. `drorch evidence export` and `drorch evidence verify` name the bad record"
        )

    if checkpoint_problem(parsed) is not None or (
        parsed["tree_size"],
        parsed["root_hash"],
    ) != (mark.tree_size, mark.root_hash):
        raise damaged("is not a well-formed signed checkpoint")
    if parsed["key_id"] != key_id(public) or not signature_valid(
        public, parsed["signature"], unsigned(parsed)
    ):
        raise damaged(f"is not signed by the evidence key ({key_id(public)})")
    tree = CompactTree()
    for seq, body in table.leaves(catalog):
        if seq > mark.tree_size:
            break
        if seq != tree.size + 1:
            raise damaged(f"covers record {tree.size + 1}, which is missing")
        tree.append(leaf_hash(body.encode("utf-8")))
    if tree.size != mark.tree_size or tree.root().hex() != mark.root_hash:
        raise damaged(f"is not the root of the log's records 1–{tree.size}")
    return KeptCheckpoint(
        tree_size=mark.tree_size,
        root_hash=mark.root_hash,
        at=parsed["at"],
        key_id=parsed["key_id"],
        line=line,
    )


def _span(
    stored: list[EvidenceRecord], since: datetime | None, until: datetime | None
) -> list[tuple[int, EvidenceRecord]]:
    """(leaf index, record) from the first to the last record in the time window."""
    inside = [
        index
        for index, r in enumerate(stored)
        if (since is None or r.at >= since) and (until is None or r.at <= until)
    ]
    if not inside:
        return []
    return [(index, stored[index]) for index in range(inside[0], inside[-1] + 1)]


def _report(records: list[EvidenceRecord], checkpoint: CheckpointRecord) -> str | None:
    """report.html from drorch.evidence.report.render_report(records, checkpoint), given
    the parsed records and the parsed checkpoint line, when that module exists."""
    if importlib.util.find_spec("drorch.evidence.report") is None:
        return None
    module = importlib.import_module("drorch.evidence.report")
    line = checkpoint_line(checkpoint.body, checkpoint.signature)
    html: str = module.render_report([r.data for r in records], json.loads(line))
    return html
