"""Export an evidence bundle for an auditor; `verify` (from verify.py) checks one offline.

A bundle folder holds:
  records.jsonl      the records' exact stored bytes, one per line, in seq order
  checkpoints.jsonl  the auditor's earlier checkpoint (when given), then the newest one
  proofs.jsonl       one inclusion proof per record against the newest checkpoint, then
                     the consistency proof from the earlier checkpoint (when given)
  public_key.pem     the signing key's public half
  report.html        the compliance report (when drorch.evidence.report exists)
  manifest.json      what was exported, the checkpoint it rests on, the files' SHA-256

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
from typing import Any

from drorch.catalog import Catalog, utc_now
from drorch.catalog import evidence as table
from drorch.catalog.evidence import CheckpointRecord, EvidenceRecord
from drorch.errors import DestinationNotEmpty, EvidenceError, UsageError
from drorch.evidence.canonical import canonical_bytes, is_canonical, utc_iso
from drorch.evidence.envelope import checkpoint_line, checkpoint_problem, unsigned
from drorch.evidence.merkle import Tree, leaf_hash
from drorch.evidence.signing import key_id, load_private_key, public_pem, signature_valid
from drorch.evidence.verify import (
    BUNDLE_FORMAT,
    CHECKPOINTS,
    MANIFEST,
    PROOFS,
    PUBLIC_KEY,
    RECORDS,
    REPORT,
    VerifyResult,
    inclusion_line,
    verify,
)

__all__ = ["VerifyResult", "export", "verify"]

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
    key_path is the evidence key (its public half goes into the bundle)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise DestinationNotEmpty(f"{out_dir} is not empty; a bundle goes into a new folder")
    public = load_private_key(key_path).public_key()
    view = table.view(catalog)
    if not view.checkpoints:
        raise EvidenceError("the evidence log is empty: there is nothing to export")
    newest = view.checkpoints[-1]
    # Records past the newest checkpoint read were appended meanwhile: left for next time.
    stored = [r for r in view.records if r.seq <= newest.tree_size]
    tree = Tree([leaf_hash(r.body.encode("utf-8")) for r in stored])
    chosen = _span(stored, since, until)
    accepted = _accepted(from_checkpoint, public) if from_checkpoint else None
    if accepted is not None and accepted["tree_size"] > newest.tree_size:
        raise EvidenceError(
            f"the checkpoint you accepted covers {accepted['tree_size']} records but this "
            f"log's newest covers {newest.tree_size}: the log was cut back"
        )

    lines = [checkpoint_line(newest.body, newest.signature)]
    proofs = [
        inclusion_line(r.seq, newest.tree_size, tree.levels[0][index], tree.inclusion_proof(index))
        for index, r in chosen
    ]
    if accepted is not None:
        if accepted["tree_size"] < newest.tree_size:
            lines.insert(0, canonical_bytes(accepted))
        old = min(accepted["tree_size"], tree.size)
        proofs.append(
            canonical_bytes(
                {
                    "type": "consistency",
                    "from_size": accepted["tree_size"],
                    "from_root": accepted["root_hash"],
                    "to_size": newest.tree_size,
                    "to_root": newest.root_hash,
                    "path": [node.hex() for node in tree.consistency_proof(old)],
                }
            )
        )
    records = [r for _, r in chosen]
    files = {
        RECORDS: b"".join(r.body.encode("utf-8") + b"\n" for r in records),
        CHECKPOINTS: b"".join(line + b"\n" for line in lines),
        PROOFS: b"".join(line + b"\n" for line in proofs),
        PUBLIC_KEY: public_pem(public),
    }
    report = _report(records, newest)
    if report is not None:
        files[REPORT] = report.encode("utf-8")
    manifest = {
        "format": BUNDLE_FORMAT,
        "created_at": utc_iso(utc_now()),
        "host": socket.gethostname(),
        "since": utc_iso(since) if since else None,
        "until": utc_iso(until) if until else None,
        "first_seq": records[0].seq if records else None,
        "last_seq": records[-1].seq if records else None,
        "records": len(records),
        "checkpoint": {"tree_size": newest.tree_size, "root_hash": newest.root_hash},
        "from_checkpoint": (
            {"tree_size": accepted["tree_size"], "root_hash": accepted["root_hash"]}
            if accepted
            else None
        ),
        "key_id": key_id(public),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    log.info("exported %d evidence records to %s", len(records), out_dir)
    return out_dir


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


def _accepted(path: Path, public: Any) -> dict[str, Any]:
    """The auditor's earlier checkpoint: a checkpoint line, or a checkpoints.jsonl whose
    last line is taken; it must carry this log's signature."""
    try:
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    except OSError as exc:
        raise UsageError(f"cannot read the checkpoint {path}: {exc.strerror}") from exc
    mark = is_canonical(lines[-1].strip()) if lines else None
    if mark is None or checkpoint_problem(mark) is not None:
        raise UsageError(f"{path} does not hold a drorch checkpoint line")
    if mark["key_id"] != key_id(public) or not signature_valid(
        public, mark["signature"], unsigned(mark)
    ):
        raise UsageError(f"{path} is not a checkpoint signed by this log's key")
    accepted: dict[str, Any] = mark
    return accepted


def _report(records: list[EvidenceRecord], checkpoint: CheckpointRecord) -> str | None:
    """report.html from drorch.evidence.report.render_report(records, checkpoint), given
    the parsed records and the parsed checkpoint line, when that module exists."""
    if importlib.util.find_spec("drorch.evidence.report") is None:
        return None
    module = importlib.import_module("drorch.evidence.report")
    line = checkpoint_line(checkpoint.body, checkpoint.signature)
    html: str = module.render_report([r.data for r in records], json.loads(line))
    return html
