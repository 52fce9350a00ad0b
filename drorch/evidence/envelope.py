"""The envelope of an evidence record and of a checkpoint: what is hashed, what is signed.

A record is the caller's fields plus `seq`, `id`, `kind`, `at`, `host` and `prev`; its
`hash` is SHA-256 over the canonical JSON of all that, its `signature` is Ed25519 over the
32 bytes of that hash, and `key_id` names the key. The canonical JSON of the whole record,
seals included, is the stored body and the record's Merkle leaf.

A checkpoint's body is the canonical JSON of {format, tree_size, root_hash, at, key_id};
its signature is Ed25519 over those bytes. Its line in a bundle adds `signature`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from drorch.errors import EvidenceError
from drorch.evidence.canonical import canonical_bytes, parse_utc, parsed_canonical

ENVELOPE = ("seq", "id", "kind", "at", "host", "prev")
SEALS = ("hash", "signature", "key_id")
RESERVED = frozenset(ENVELOPE + SEALS)
GENESIS = "0" * 64  # `prev` of the first record
CHECKPOINT_FORMAT = "drorch-checkpoint/1"
CHECKPOINT_KEYS = frozenset({"format", "tree_size", "root_hash", "at", "key_id", "signature"})

KIND = re.compile(r"[a-z][a-z0-9-]{0,39}")
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX128 = re.compile(r"[0-9a-f]{128}")
KEY_ID = re.compile(r"[0-9a-f]{16}")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def check_fields(kind: str, fields: Mapping[str, Any]) -> None:
    """Refuse an entry whose envelope cannot be built; the fields themselves are free."""
    if not isinstance(kind, str) or not KIND.fullmatch(kind):
        raise EvidenceError(
            f"evidence kind {kind!r} is not a lower-case word like restore-test (≤ 40 chars)"
        )
    if not isinstance(fields, Mapping):
        raise EvidenceError(f"evidence fields are a mapping, not {type(fields).__name__}")
    taken = sorted(RESERVED & set(fields))
    if taken:
        raise EvidenceError(f"evidence fields cannot set {', '.join(taken)}: drorch assigns them")
    job = fields.get("job")
    if job is not None and (not isinstance(job, str) or not 0 < len(job) <= 200):
        raise EvidenceError(f"evidence field job is a job name, not {job!r}")
    canonical_bytes(dict(fields))  # refuses what cannot be canonical JSON, naming where


def record_digest(record: Mapping[str, Any]) -> bytes:
    """SHA-256 over the canonical JSON of the record without its seals (a record parsed
    from JSON or built from checked fields)."""
    unsealed = {key: value for key, value in record.items() if key not in SEALS}
    return hashlib.sha256(parsed_canonical(unsealed)).digest()


def record_problem(record: Any) -> str | None:
    """What is wrong with the shape of a parsed record, or None."""
    if not isinstance(record, dict):
        return "is not a JSON object"
    missing = [key for key in (*ENVELOPE, *SEALS) if key not in record]
    if missing:
        return f"lacks {', '.join(missing)}"
    checks = (
        ("seq", _is_count(record["seq"], minimum=1)),
        ("id", isinstance(record["id"], str) and bool(UUID.fullmatch(record["id"]))),
        ("kind", isinstance(record["kind"], str) and bool(KIND.fullmatch(record["kind"]))),
        ("at", _is_time(record["at"])),
        ("host", isinstance(record["host"], str)),
        ("prev", _is_hex(record["prev"], HEX64)),
        ("hash", _is_hex(record["hash"], HEX64)),
        ("signature", _is_hex(record["signature"], HEX128)),
        ("key_id", _is_hex(record["key_id"], KEY_ID)),
    )
    bad = [name for name, good in checks if not good]
    return f"has a malformed {', '.join(bad)}" if bad else None


def checkpoint_body(*, tree_size: int, root_hash: str, at: str, key_id: str) -> bytes:
    return canonical_bytes(
        {
            "format": CHECKPOINT_FORMAT,
            "tree_size": tree_size,
            "root_hash": root_hash,
            "at": at,
            "key_id": key_id,
        }
    )


def checkpoint_line(body: str, signature: str) -> bytes:
    """The bundle line of a stored checkpoint: its body with the signature added."""
    return canonical_bytes({**json.loads(body), "signature": signature})


def checkpoint_problem(checkpoint: Any) -> str | None:
    """What is wrong with the shape of a parsed checkpoint line, or None."""
    if not isinstance(checkpoint, dict):
        return "is not a JSON object"
    if set(checkpoint) != CHECKPOINT_KEYS:
        return f"has the keys {', '.join(sorted(checkpoint))}, not {', '.join(CHECKPOINT_KEYS)}"
    checks = (
        ("format", checkpoint["format"] == CHECKPOINT_FORMAT),
        ("tree_size", _is_count(checkpoint["tree_size"], minimum=1)),
        ("root_hash", _is_hex(checkpoint["root_hash"], HEX64)),
        ("at", _is_time(checkpoint["at"])),
        ("key_id", _is_hex(checkpoint["key_id"], KEY_ID)),
        ("signature", _is_hex(checkpoint["signature"], HEX128)),
    )
    bad = [name for name, good in checks if not good]
    return f"has a malformed {', '.join(bad)}" if bad else None


def unsigned(checkpoint: Mapping[str, Any]) -> bytes:
    """The signed bytes of a parsed checkpoint line or manifest: its canonical JSON
    without `signature`."""
    return parsed_canonical({k: v for k, v in checkpoint.items() if k != "signature"})


def _is_count(value: Any, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_hex(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and bool(pattern.fullmatch(value))


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_utc(value)
    except ValueError:
        return False
    return True
