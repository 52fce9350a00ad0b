"""A bundle's layout and its manifest.json: what the bundle claims to hold, signed with the
evidence key so that nobody without the key can change the claim.

    {
      "format": "drorch-evidence-bundle/2",
      "created_at": "...Z", "host": "...",
      "first_seq": 12, "last_seq": 40, "records": 29,      the range: records 12..40
      "since": "...Z" | null, "until": "...Z" | null,     the filters the export was given
      "from_checkpoint": {"tree_size", "root_hash"} | null,
      "checkpoint": {"tree_size": 40, "root_hash": "..."}, the checkpoint it was built from
      "files": {"records.jsonl": "<SHA-256 hex>", ...},    every other file, report.html too
      "key_id": "...",      the key that signs the bundle's checkpoint (after a rotation,
                            not the first key of the log: keys.jsonl leads to it)
      "signature": "..."    Ed25519 over the canonical JSON of everything above it
    }

The file is indented for people to read; the signed bytes are its canonical JSON without
`signature` (sorted keys, no spaces, UTF-8), which any JSON library that sorts keys
recomputes: `jq -cS 'del(.signature)' manifest.json | tr -d '\\n'`.
Format /1 (before this) had no signature; `verify` refuses it (verify.py says why).
`read_manifest` is verify's first step after the chain of keys (bundle_keys.py): nothing
the manifest claims is used before its signature verified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drorch.errors import EvidenceError
from drorch.evidence.canonical import canonical_bytes
from drorch.evidence.envelope import unsigned
from drorch.evidence.findings import DELETED, MODIFIED, UNSIGNED, WRONG_KEY, Finding
from drorch.evidence.proofs import is_count, is_hex
from drorch.evidence.signing import key_id, signature_valid

BUNDLE_FORMAT = "drorch-evidence-bundle/2"
UNSIGNED_FORMAT = "drorch-evidence-bundle/1"

RECORDS = "records.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
PROOFS = "proofs.jsonl"
PUBLIC_KEY = "public_key.pem"
MANIFEST = "manifest.json"
REPORT = "report.html"
KEYS = "keys.jsonl"  # the rotation records outside the range (bundle_keys.py)
REQUIRED_FILES = frozenset({RECORDS, CHECKPOINTS, PROOFS, PUBLIC_KEY})

MANIFEST_KEYS = frozenset(
    {
        "format",
        "created_at",
        "host",
        "first_seq",
        "last_seq",
        "records",
        "since",
        "until",
        "from_checkpoint",
        "checkpoint",
        "files",
        "key_id",
        "signature",
    }
)


def signed_manifest(fields: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    """manifest.json's bytes: the fields, key_id, and the signature over their canonical
    JSON (canonical_bytes refuses what cannot be canonical)."""
    body = {**fields, "format": BUNDLE_FORMAT, "key_id": key_id(key.public_key())}
    signed = {**body, "signature": key.sign(canonical_bytes(body)).hex()}
    missing = MANIFEST_KEYS - set(signed)
    assert not missing, f"manifest without {sorted(missing)}"
    return (json.dumps(signed, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def read_manifest(
    path: Path, key: Ed25519PublicKey, *, whose: str = "the key given"
) -> dict[str, Any] | Finding:
    """The parsed manifest when its signature verifies with key (whose: which key that is,
    for a message) and it is what drorch writes, else what is wrong with it. The signature
    is checked before the shape: an edited manifest is named as edited, whatever the edit."""
    try:
        manifest = json.loads(path.read_bytes())
    except OSError:
        return Finding(None, DELETED, f"{MANIFEST} is missing", MANIFEST)
    except ValueError as exc:
        return Finding(None, MODIFIED, f"not JSON: {exc}", MANIFEST)

    def bad(what: str, detail: str) -> Finding:
        return Finding(None, what, detail, MANIFEST)

    if not isinstance(manifest, dict):
        return bad(MODIFIED, f"{MANIFEST} is not a JSON object")
    if manifest.get("format") == UNSIGNED_FORMAT:
        return bad(
            UNSIGNED,
            f"{MANIFEST} is of format {UNSIGNED_FORMAT}, which is not signed: the range, "
            "proofs and files it claims cannot be proven. Ask for the bundle again "
            "(`drorch evidence export`); its checkpoints.jsonl still serves as the "
            "checkpoint you kept (--since-checkpoint)",
        )
    if manifest.get("format") != BUNDLE_FORMAT:
        return bad(MODIFIED, f"{MANIFEST} is not a {BUNDLE_FORMAT} manifest")
    if "signature" not in manifest:
        return bad(
            UNSIGNED,
            f"{MANIFEST} carries no signature: the range, checkpoint and file hashes it "
            "claims are not proven (its signature was removed)",
        )
    ours = key_id(key)
    if manifest.get("key_id") != ours:
        return bad(WRONG_KEY, f"{MANIFEST} names key {manifest.get('key_id')!r}, {whose} is {ours}")
    try:
        signed = unsigned(manifest)
    except EvidenceError:
        signed = b""  # NaN or infinity: not what drorch signs
    signature = manifest["signature"]
    if not isinstance(signature, str) or not signature_valid(key, signature, signed):
        return bad(
            MODIFIED,
            f"{MANIFEST}'s signature does not verify with key {ours}: the range, filters, "
            "checkpoint or file hashes it claims were changed after it was signed (it now "
            f"claims {_claim(manifest)})",
        )
    problem = manifest_problem(manifest)
    if problem is not None:  # signed, yet not what drorch writes
        return bad(MODIFIED, f"{MANIFEST} is signed but {problem}")
    return manifest


def _claim(manifest: dict[str, Any]) -> str:
    """What an unverified manifest says it holds, for a message."""
    mark = manifest.get("checkpoint")
    size = mark.get("tree_size") if isinstance(mark, dict) else None
    first, last = manifest.get("first_seq"), manifest.get("last_seq")
    span = f"records {first}–{last}" if first is not None else "no records"
    return f"{span} of checkpoint {size}"


def manifest_problem(manifest: Mapping[str, Any]) -> str | None:
    """What is wrong with the shape of a parsed /2 manifest (its signature aside), or None."""
    if set(manifest) != MANIFEST_KEYS:
        extra, missing = set(manifest) - MANIFEST_KEYS, MANIFEST_KEYS - set(manifest)
        return "it " + "; ".join(
            part
            for part in (
                f"lacks {', '.join(sorted(missing))}" if missing else "",
                f"has unknown {', '.join(sorted(extra))}" if extra else "",
            )
            if part
        )
    for name in ("created_at", "host", "since", "until"):
        if not isinstance(manifest[name], str) and not (
            manifest[name] is None and name in ("since", "until")
        ):
            return f"its {name} is not text"
    first, last, count = manifest["first_seq"], manifest["last_seq"], manifest["records"]
    if not is_count(count, 0):
        return "its records is not a count"
    if count == 0:
        if first is not None or last is not None:
            return "it lists no records but a first_seq or last_seq"
    elif not (is_count(first, 1) and is_count(last, 1) and last - first + 1 == count):
        return f"its range {first}–{last} does not hold {count} records"
    for name in ("checkpoint", "from_checkpoint"):
        mark = manifest[name]
        if mark is None and name == "from_checkpoint":
            continue
        if (
            not isinstance(mark, dict)
            or set(mark) != {"tree_size", "root_hash"}
            or not is_count(mark["tree_size"], 1)
            or not is_hex(mark["root_hash"])
        ):
            return f"its {name} is not a tree size and root hash"
    size = manifest["checkpoint"]["tree_size"]
    if count and last > size:
        return f"its range ends past checkpoint {size}"
    earlier = manifest["from_checkpoint"]
    if earlier is not None and earlier["tree_size"] > size:
        return f"its from_checkpoint is bigger than checkpoint {size}"
    files = manifest["files"]
    if not isinstance(files, dict) or not all(
        isinstance(name, str) and "/" not in name and name != MANIFEST and is_hex(digest)
        for name, digest in files.items()
    ):
        return "its files is not a list of file names and SHA-256 hashes"
    missing_files = REQUIRED_FILES - set(files)
    if missing_files:
        return f"its files lacks {', '.join(sorted(missing_files))}"
    return None
