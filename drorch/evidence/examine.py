"""The checks of a record that need no other record: its form, its hash, its signature.

They are most of the cost of verifying (Ed25519 verification alone is ~0.1 ms a record
and holds the GIL), so large logs are examined in worker processes while the caller
checks order, chain links and proofs.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.errors import EvidenceError
from drorch.evidence.envelope import record_digest, record_problem
from drorch.evidence.keychain import KeyChain
from drorch.evidence.signing import signature_valid

log = logging.getLogger(__name__)

PARALLEL_FROM = 2048  # below this many records, worker processes cost more than they save
_shared: Sequence[bytes | None] = ()  # the lines forked workers examine


class Facts(NamedTuple):
    """What one well-formed record line says and whether its seals hold."""

    seq: int
    id: str
    kind: str
    at: str
    job: Any  # None when the record has none
    prev: str
    hash: str
    key_id: str
    hash_ok: bool  # its content hashes to its `hash`
    signature_ok: bool  # its `signature` is valid over `hash` with the key examined with


Examined = Facts | str  # a str says what is wrong with the line's form


def start_examining(
    lines: Sequence[bytes | None],
    key: Ed25519PublicKey | KeyChain,
    *,
    signatures: bool = True,
) -> Callable[[], list[Examined]]:
    """Examine every line (None: an empty or cut line); returns a call that waits for the
    results, in order. Large inputs go to worker processes, so the caller can work
    meanwhile. signatures=False skips the signatures (then signature_ok is True). With a
    chain of keys, a signature is checked with the key the record names, if the chain
    holds it: which key should sign which record is the caller's to check."""
    chain = key if isinstance(key, KeyChain) else KeyChain.single(key)
    raw = chain.raw_keys if signatures else None
    workers = min(os.cpu_count() or 1, 8)
    if len(lines) < PARALLEL_FROM or workers < 2:
        return lambda: examine(lines, raw)
    global _shared
    context = _context()
    step = -(-len(lines) // (workers * 4))
    pool = ProcessPoolExecutor(workers, mp_context=context)
    futures: list[Future[list[Examined]]] = []
    if context.get_start_method() == "fork":
        # Forked workers (all started at the first submit) inherit the lines.
        _shared = lines
        for start in range(0, len(lines), step):
            futures.append(pool.submit(_examine_shared, start, start + step, raw))
    else:
        for start in range(0, len(lines), step):
            futures.append(pool.submit(examine, list(lines[start : start + step]), raw))

    def wait() -> list[Examined]:
        global _shared
        try:
            return [facts for future in futures for facts in future.result()]
        except BrokenProcessPool:
            log.warning("worker processes failed; examining %d records here", len(lines))
            return examine(lines, raw)
        finally:
            pool.shutdown(cancel_futures=True)
            _shared = ()

    return wait


def _examine_shared(start: int, stop: int, raw_keys: Mapping[str, bytes] | None) -> list[Examined]:
    return examine(_shared[start:stop], raw_keys)


def _context() -> multiprocessing.context.BaseContext:
    """fork where there is one: workers start at once and need not re-import the caller's
    main module (they only compute: JSON, SHA-256, Ed25519); spawn elsewhere."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def examine(lines: Sequence[bytes | None], raw_keys: Mapping[str, bytes] | None) -> list[Examined]:
    """Each line's facts; raw_keys (by key id) None: signatures are not checked."""
    keys = (
        None
        if raw_keys is None
        else {kid: Ed25519PublicKey.from_public_bytes(raw) for kid, raw in raw_keys.items()}
    )
    return [_one(line, keys) for line in lines]


def _one(line: bytes | None, keys: Mapping[str, Ed25519PublicKey] | None) -> Examined:
    if line is None:
        return "its line is empty or does not end: the file was cut"
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return "its line is not JSON"
    problem = record_problem(record)
    if problem is not None:
        return f"it {problem}"
    try:
        hash_ok = record_digest(record).hex() == record["hash"]
    except EvidenceError:  # NaN or infinity: not JSON drorch writes
        return "its line is not canonical JSON"
    return Facts(
        seq=record["seq"],
        id=record["id"],
        kind=record["kind"],
        at=record["at"],
        job=record.get("job"),
        prev=record["prev"],
        hash=record["hash"],
        key_id=record["key_id"],
        hash_ok=hash_ok,
        signature_ok=keys is None
        or (
            record["key_id"] in keys
            and signature_valid(
                keys[record["key_id"]], record["signature"], bytes.fromhex(record["hash"])
            )
        ),
    )
