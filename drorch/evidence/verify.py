"""An evidence bundle's offline verification: nothing but the bundle's files, the
auditor's copy of the public key and (optionally) a checkpoint the auditor kept is
trusted, not drorch, its catalog or its hosts.

    verify(Path("bundle"), Path("drorch-evidence.pub.pem")).problem
    -> record 17: modified: its content does not match its hash (records.jsonl line 17)

The manifest's signature is checked first: it signs the range of records the bundle
claims, the filters, the checkpoint and every file's SHA-256. Then every line of every
.jsonl file must be exactly canonical JSON; every record's leaf hash, hash, signature, link
to the record before it and inclusion proof are recomputed; the checkpoints' signatures,
the consistency proof and the seq sequence are checked; the records must be exactly the
range claimed. The first bad record is named with what happened to it. Given a checkpoint
the auditor kept, the bundle's checkpoint must extend exactly that one (anchor.py).

Before all that, the chain of keys: the rotation records in records.jsonl and keys.jsonl
lead from the key the auditor trusts to the key that signs the bundle (bundle_keys.py), and
every record, checkpoint and the manifest must be signed by the key the chain names for it.

A bundle of format /1 (unsigned manifest) is refused: its range, its consistency proof
and report.html could be cut or swapped without a trace, so exit 0 would claim more than
was proven. The records in it are still signed; its checkpoints.jsonl still serves as a
kept checkpoint. Export it again for a verdict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.errors import UsageError
from drorch.evidence.anchor import (
    KeptCheckpoint,
    anchor_finding,
    checkpoint_in,
    read_checkpoint,
    signer_finding,
)
from drorch.evidence.bundle_keys import (
    KeyRecord,
    bundle_chain,
    key_record_finding,
    read_key_records,
    walk,
)
from drorch.evidence.canonical import is_canonical
from drorch.evidence.envelope import GENESIS, checkpoint_problem, unsigned
from drorch.evidence.examine import Examined, Facts, start_examining
from drorch.evidence.findings import (
    DELETED,
    INCONSISTENT,
    INSERTED,
    MODIFIED,
    REORDERED,
    TRUNCATED,
    UNPROVEN,
    UNSIGNED,
    WRONG_KEY,
    Finding,
)
from drorch.evidence.keychain import KeyChain
from drorch.evidence.manifest import (
    CHECKPOINTS,
    KEYS,
    MANIFEST,
    PROOFS,
    PUBLIC_KEY,
    RECORDS,
    read_manifest,
)
from drorch.evidence.merkle import Tree, leaf_hash, verify_consistency, verify_inclusion
from drorch.evidence.proofs import consistency_problem, inclusion_line, inclusion_problem
from drorch.evidence.signing import key_id, load_public_key, public_pem, signature_valid

__all__ = [
    "DELETED",
    "INCONSISTENT",
    "INSERTED",
    "MODIFIED",
    "REORDERED",
    "TRUNCATED",
    "UNPROVEN",
    "UNSIGNED",
    "WRONG_KEY",
    "Finding",
    "VerifyResult",
    "inclusion_line",
    "verify",
]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int  # records in the bundle
    first_seq: int | None
    last_seq: int | None
    tree_size: int | None  # of the newest checkpoint
    root_hash: str | None
    from_size: int | None  # the earlier checkpoint the log was proven to extend
    from_root: str | None
    kept: KeptCheckpoint | None  # the checkpoint the auditor kept, when given
    key_id: str  # the key that signs the bundle (after a rotation, not the trusted one)
    problem: Finding | None
    keys: str | None = None  # the chain of keys walked from the trusted one, when it rotated

    def left_out(self) -> list[tuple[int, int]]:
        """The seq ranges of the checkpoint's tree that the bundle does not hold."""
        if self.tree_size is None:
            return []
        if self.first_seq is None or self.last_seq is None:
            return [(1, self.tree_size)]
        spans = [(1, self.first_seq - 1), (self.last_seq + 1, self.tree_size)]
        return [(a, b) for a, b in spans if a <= b]

    def message(self) -> str:
        """One line of verdict, then what was proven, one fact a line."""
        if self.problem is not None:
            verdict = f"NOT VERIFIED: {self.problem}"
            if self.kept is not None and self.tree_size is not None:
                verdict += (
                    f"\n  the checkpoint you kept: {self.kept.tree_size} (root "
                    f"{self.kept.root_hash}); the bundle's: {self.tree_size} (root "
                    f"{self.root_hash})"
                )
            return verdict
        span = (
            f"records {self.first_seq}–{self.last_seq} ({self.records})"
            if self.records
            else "no records (checkpoint only)"
        )
        lines = [
            f"verified: {span} of checkpoint {self.tree_size}, signed by key {self.key_id}",
            f"  checkpoint {self.tree_size}: root {self.root_hash}",
        ]
        if self.keys is not None:
            lines.append(f"  {self.keys}")
        spans = self.left_out()
        named = " and ".join(f"{a}–{b}" if a < b else f"{a}" for a, b in spans)
        one = sum(b - a + 1 for a, b in spans) == 1
        lines.append(
            f"  {'record' if one else 'records'} {named} of that tree {'is' if one else 'are'} "
            "not in this bundle"
            if spans
            else "  every record of that tree is in this bundle"
        )
        if self.from_size is not None and self.from_size < (self.tree_size or 0):
            lines.append(
                f"  it extends checkpoint {self.from_size} (root {self.from_root}), "
                "by the bundle's consistency proof"
            )
        if self.kept is not None and self.kept.tree_size == self.tree_size:
            lines.append(
                f"  it is the checkpoint you kept: {self.tree_size} (root {self.root_hash})"
            )
        elif self.kept is not None:
            lines.append(
                f"  it extends the checkpoint you kept: {self.kept.tree_size} (root "
                f"{self.kept.root_hash}) → {self.tree_size} (root {self.root_hash})"
            )
        return "\n".join(lines)


class _Bad(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding
        super().__init__(str(finding))


def verify(
    bundle_dir: Path, public_key_pem_path: Path, *, since_checkpoint: Path | None = None
) -> VerifyResult:
    """Check a bundle offline against the auditor's copy of the public key and, when
    since_checkpoint names one, the checkpoint the auditor kept (UsageError when that file
    is not a checkpoint line signed by that key or a key of the bundle's chain)."""
    key = load_public_key(public_key_pem_path)
    if not bundle_dir.is_dir():
        raise UsageError(f"{bundle_dir} is not a folder holding an evidence bundle")
    if since_checkpoint is not None:
        checkpoint_in(since_checkpoint)  # bad input: refused before the bundle is read
    bundle = _Bundle(bundle_dir, key, since_checkpoint)
    try:
        bundle.check()
    except _Bad as bad:
        return bundle.result(bad.finding)
    return bundle.result(None)


class _Bundle:
    def __init__(self, folder: Path, trusted: Ed25519PublicKey, kept_path: Path | None) -> None:
        self.folder = folder
        self.trusted = key_id(trusted)
        self.chain = KeyChain.single(trusted)  # until the bundle's own is built
        self.key = trusted  # the key that signs the bundle: the chain's current one
        self.key_id = self.trusted
        self.kept_path = kept_path
        self.kept: KeptCheckpoint | None = None
        self.manifest: dict[str, Any] = {}
        self.checkpoint: dict[str, Any] | None = None
        self.count = 0
        self.proven_from: dict[str, Any] | None = None
        self.read: dict[str, bytes] = {}

    def result(self, problem: Finding | None) -> VerifyResult:
        first = self.manifest.get("first_seq")
        return VerifyResult(
            ok=problem is None,
            records=self.count,
            first_seq=first if isinstance(first, int) else None,
            last_seq=first + self.count - 1 if isinstance(first, int) and self.count else None,
            tree_size=self.checkpoint["tree_size"] if self.checkpoint else None,
            root_hash=self.checkpoint["root_hash"] if self.checkpoint else None,
            from_size=self.proven_from["tree_size"] if self.proven_from else None,
            from_root=self.proven_from["root_hash"] if self.proven_from else None,
            kept=self.kept,
            key_id=self.key_id,
            problem=problem,
            keys=walk(self.chain, self.trusted) if len(self.chain.links) > 1 else None,
        )

    def check(self) -> None:
        lines = self._lines(RECORDS)
        rotations = self._key_records()
        self._chain(lines, rotations)
        if self.kept_path is not None:
            whose = "the key you trust" if self.single else "a key of the bundle's chain"
            self.kept = read_checkpoint(self.kept_path, self.chain, whose=whose)
        self.manifest = self._manifest()
        marks = self._checkpoints()
        proofs, consistency = self._proofs()
        self._records(lines, proofs)
        assert self.checkpoint is not None
        span = (self.manifest["first_seq"], self.manifest["last_seq"]) if lines else None
        rotated = key_record_finding(rotations, self.chain, self.checkpoint, span)
        if rotated is not None:
            raise _Bad(rotated)
        self._consistency(consistency, marks)
        if self.kept is not None:
            anchored = signer_finding(self.kept, self.chain) or anchor_finding(
                self.kept, self.checkpoint, self.proven_from
            )
            if anchored is not None:
                raise _Bad(anchored)
        self._files()

    # -- the chain of keys ----------------------------------------------------------------

    @property
    def single(self) -> bool:
        return len(self.chain.links) == 1

    def _key_records(self) -> list[KeyRecord]:
        """keys.jsonl's rotation records, when the bundle has one (a bundle without
        rotations outside its range has none)."""
        if not (self.folder / KEYS).exists():
            if KEYS in _listed(self.folder / MANIFEST):
                raise _Bad(
                    Finding(
                        None,
                        DELETED,
                        f"{KEYS} is missing: it carries the key-rotation records outside the "
                        "bundle's range, which lead from earlier keys to the one that signs it",
                        KEYS,
                    )
                )
            return []
        read = read_key_records(self._lines(KEYS))
        if isinstance(read, Finding):
            raise _Bad(read)
        return read

    def _chain(self, lines: list[bytes | None], rotations: list[KeyRecord]) -> None:
        """The chain of keys from the trusted one to the one that signs the bundle."""
        trusted = self.key
        chain = bundle_chain([*lines, *(entry.record for entry in rotations)], trusted)
        if isinstance(chain, Finding):
            raise _Bad(chain)
        self.chain = chain
        self.key_id = chain.current_id
        self.key = chain.links[-1][2]

    def _signer(self, signer: str) -> str:
        """Which key should have signed, for a message."""
        return (
            f"the key given is {signer}"
            if self.single
            else f"the chain of keys from yours has key {signer} sign it"
        )

    # -- manifest and checkpoints ---------------------------------------------------------

    def _manifest(self) -> dict[str, Any]:
        """The manifest, once its signature verified with the key given: from here on
        what it claims (range, checkpoint, files) is what drorch exported."""
        whose = "the key given" if self.single else "the key your key's rotations lead to"
        read = read_manifest(self.folder / MANIFEST, self.key, whose=whose)
        if isinstance(read, Finding):
            raise _Bad(read)
        return read

    def _checkpoints(self) -> list[dict[str, Any]]:
        marks: list[dict[str, Any]] = []
        for number, line in enumerate(self._lines(CHECKPOINTS), 1):
            mark = is_canonical(line) if line is not None else None
            problem = (
                "is not one line of canonical JSON" if mark is None else checkpoint_problem(mark)
            )
            if problem is not None:
                raise _Bad(Finding(None, MODIFIED, f"a checkpoint {problem}", CHECKPOINTS, number))
            assert mark is not None
            signer = self.chain.id_for(mark["tree_size"] + 1)
            if mark["key_id"] != signer:
                raise _Bad(
                    Finding(
                        None,
                        WRONG_KEY,
                        f"checkpoint {mark['tree_size']} names key {mark['key_id']}, "
                        + self._signer(signer),
                        CHECKPOINTS,
                        number,
                    )
                )
            key = self.chain.key_for(mark["tree_size"] + 1)
            if not signature_valid(key, mark["signature"], unsigned(mark)):
                raise _Bad(
                    Finding(
                        None,
                        MODIFIED,
                        f"checkpoint {mark['tree_size']}'s signature does not verify",
                        CHECKPOINTS,
                        number,
                    )
                )
            if marks and mark["tree_size"] <= marks[-1]["tree_size"]:
                raise _Bad(
                    Finding(
                        None,
                        REORDERED,
                        f"checkpoint {mark['tree_size']} follows checkpoint "
                        f"{marks[-1]['tree_size']}",
                        CHECKPOINTS,
                        number,
                    )
                )
            marks.append(mark)
        named = self.manifest["checkpoint"]
        if not marks or (marks[-1]["tree_size"], marks[-1]["root_hash"]) != (
            named["tree_size"],
            named["root_hash"],
        ):
            raise _Bad(
                Finding(
                    None,
                    TRUNCATED
                    if not marks or marks[-1]["tree_size"] < named["tree_size"]
                    else MODIFIED,
                    f"the newest checkpoint is not checkpoint {named['tree_size']} "
                    f"(root {named['root_hash']}) that the manifest names",
                    CHECKPOINTS,
                )
            )
        self.checkpoint = marks[-1]
        accepted = self.manifest["from_checkpoint"]
        earlier = accepted is not None and accepted["tree_size"] < named["tree_size"]
        if len(marks) != 1 + earlier:
            raise _Bad(
                Finding(
                    None,
                    INSERTED if len(marks) > 1 + earlier else DELETED,
                    f"it holds {len(marks)} checkpoints, the manifest names "
                    + ("the newest and the one you accepted before" if earlier else "one"),
                    CHECKPOINTS,
                )
            )
        return marks

    # -- proofs ---------------------------------------------------------------------------

    def _proofs(self) -> tuple[list[bytes | None], dict[str, Any] | None]:
        """The inclusion proof lines, unparsed (most are only compared with the proofs
        recomputed from the records), and the parsed consistency proof, which is the last
        line exactly when the manifest names an earlier checkpoint."""
        lines = self._lines(PROOFS)
        accepted = self.manifest["from_checkpoint"]
        last = is_canonical(lines[-1]) if lines and lines[-1] is not None else None
        kind = last.get("type") if isinstance(last, dict) else None
        if accepted is None:
            if kind == "consistency":
                raise _Bad(
                    Finding(
                        None,
                        INSERTED,
                        "its last line is a consistency proof the manifest does not claim",
                        PROOFS,
                        len(lines),
                    )
                )
            return lines, None
        if not lines or kind == "inclusion":
            raise _Bad(
                Finding(
                    None,
                    DELETED,
                    f"the consistency proof from checkpoint {accepted['tree_size']} that the "
                    "manifest claims is missing",
                    PROOFS,
                )
            )
        lines.pop()
        if consistency_problem(last) is not None:
            raise _Bad(
                Finding(
                    None,
                    MODIFIED,
                    "its last line is not the consistency proof",
                    PROOFS,
                    len(lines) + 1,
                )
            )
        assert isinstance(last, dict)
        return lines, last

    def _consistency(self, proof: dict[str, Any] | None, marks: list[dict[str, Any]]) -> None:
        """The consistency proof from the earlier checkpoint the manifest claims to the
        bundle's checkpoint (RFC 6962 section 2.1.2)."""
        accepted = self.manifest["from_checkpoint"]
        if accepted is None or proof is None:
            return
        assert self.checkpoint is not None
        sizes = {mark["tree_size"]: mark["root_hash"] for mark in marks}
        if sizes.get(accepted["tree_size"]) != accepted["root_hash"]:
            raise _Bad(
                Finding(
                    None,
                    INCONSISTENT if accepted["tree_size"] in sizes else DELETED,
                    f"the earlier checkpoint {accepted['tree_size']} (root "
                    f"{accepted['root_hash']}) is not among the signed checkpoints",
                    CHECKPOINTS,
                )
            )
        claimed = (proof["from_size"], proof["from_root"], proof["to_size"], proof["to_root"])
        if claimed != (
            accepted["tree_size"],
            accepted["root_hash"],
            self.checkpoint["tree_size"],
            self.checkpoint["root_hash"],
        ) or not verify_consistency(
            proof["from_size"],
            proof["to_size"],
            bytes.fromhex(proof["from_root"]),
            bytes.fromhex(proof["to_root"]),
            [bytes.fromhex(node) for node in proof["path"]],
        ):
            raise _Bad(
                Finding(
                    None,
                    INCONSISTENT,
                    f"checkpoint {self.checkpoint['tree_size']} is not proven to extend "
                    f"checkpoint {accepted['tree_size']}: records up to "
                    f"{accepted['tree_size']} were changed, removed or reordered since",
                    PROOFS,
                )
            )
        self.proven_from = accepted

    # -- records --------------------------------------------------------------------------

    def _records(self, lines: list[bytes | None], proofs: list[bytes | None]) -> None:
        """Each record on its own and in the chain first (so a changed record is named,
        not the records whose proofs it spoils), then the inclusion proofs, then counts.
        The records are examined in worker processes while the proofs are checked here."""
        self.count = len(lines)
        first = self.manifest["first_seq"] or 1
        pending = start_examining(lines, self.chain)
        included = self._included(lines, proofs, first)
        intrinsic = self._intrinsic(pending(), first)
        if intrinsic is not None:
            raise _Bad(intrinsic)
        if included is not None:
            raise _Bad(included)
        self._tally(len(lines), len(proofs), first)

    def _intrinsic(self, examined: list[Examined], first: int) -> Finding | None:
        """The first record that is wrong by itself or in the chain."""
        assert self.checkpoint is not None
        seen: dict[int, list[int]] = {}
        for index, facts in enumerate(examined):
            if isinstance(facts, Facts):
                seen.setdefault(facts.seq, []).append(index)
        prev = GENESIS if first == 1 else None
        for index, facts in enumerate(examined):
            expected = first + index

            def bad(what: str, detail: str, seq: int = expected) -> Finding:
                return Finding(seq, what, detail, RECORDS, index + 1)  # noqa: B023

            if isinstance(facts, str):
                return bad(TRUNCATED if "was cut" in facts else MODIFIED, facts)
            if facts.seq != expected:
                size = self.checkpoint["tree_size"]
                what, named, detail = _misplaced(facts.seq, expected, index, seen, size)
                return bad(what, detail, named)
            signer = self.chain.id_for(expected)
            if facts.key_id != signer:
                return bad(WRONG_KEY, f"key {facts.key_id}, " + self._signer(signer))
            if not facts.hash_ok:
                return bad(MODIFIED, "its content does not match its hash")
            if not facts.signature_ok:
                return bad(
                    MODIFIED,
                    "its signature does not verify against its hash (changed after signing, "
                    "or signed by another key under this key's id)",
                )
            if prev is not None and facts.prev != prev:
                return bad(
                    MODIFIED,
                    "its prev is not the hash of the record before it: the chain is broken",
                )
            prev = facts.hash
        return None

    def _included(
        self, lines: list[bytes | None], proofs: list[bytes | None], first: int
    ) -> Finding | None:
        """The first record whose inclusion proof does not lead to the newest checkpoint's
        root (records taken to be at their places: _intrinsic says when they are not).
        A bundle of the whole log is checked by recomputing the tree from its records:
        its root must be the checkpoint's, and every proof line the one it gives."""
        assert self.checkpoint is not None
        size = self.checkpoint["tree_size"]
        root = bytes.fromhex(self.checkpoint["root_hash"])
        whole = first == 1 and len(lines) == size == len(proofs) and None not in lines
        if whole:
            tree = Tree([leaf_hash(line) for line in lines if line is not None])
            if tree.root() == root:
                for index, proof in enumerate(proofs):
                    path = tree.inclusion_proof(index)
                    if proof != inclusion_line(index + 1, size, tree.levels[0][index], path):
                        line = lines[index]
                        assert line is not None
                        return self._proof_problem(index, first, line, proof) or Finding(
                            index + 1,
                            MODIFIED,
                            f"its inclusion proof ({PROOFS} line {index + 1}) is not written "
                            "as drorch writes it",
                            PROOFS,
                            index + 1,
                        )
                return None
        for index, line in enumerate(lines):
            seq = first + index
            if line is None:
                return None  # _intrinsic names it
            if seq > size:
                return Finding(
                    seq,
                    INSERTED,
                    f"the newest checkpoint covers records up to {size} only",
                    RECORDS,
                    index + 1,
                )
            if index >= len(proofs):
                return Finding(
                    seq, TRUNCATED, f"{PROOFS} has no inclusion proof for it", RECORDS, index + 1
                )
            problem = self._proof_problem(index, first, line, proofs[index])
            if problem is not None:
                return problem
        return None

    def _proof_problem(
        self, index: int, first: int, line: bytes, raw: bytes | None
    ) -> Finding | None:
        """What is wrong with the inclusion proof of the record at index, or None."""
        assert self.checkpoint is not None
        size = self.checkpoint["tree_size"]
        seq = first + index
        proof = is_canonical(raw) if raw is not None else None

        def bad(detail: str) -> Finding:
            return Finding(seq, MODIFIED, detail, RECORDS, index + 1)

        if proof is None or inclusion_problem(proof) is not None:
            return bad(f"its inclusion proof ({PROOFS} line {index + 1}) is malformed")
        if proof["seq"] != seq or proof["tree_size"] != size:
            return bad(
                f"{PROOFS} line {index + 1} is a proof for record {proof['seq']} in a tree "
                f"of {proof['tree_size']}, not for it in checkpoint {size}"
            )
        leaf = leaf_hash(line)
        if proof["leaf_hash"] != leaf.hex():
            return bad("its bytes do not hash to the leaf its proof was made for")
        path = [bytes.fromhex(node) for node in proof["path"]]
        if not verify_inclusion(
            seq - 1, size, leaf, path, bytes.fromhex(self.checkpoint["root_hash"])
        ):
            return bad(f"its inclusion proof does not lead to the root of checkpoint {size}")
        return None

    def _tally(self, records: int, proofs: int, first: int) -> None:
        """After every record verified: nothing listed is missing, nothing extra is there."""
        listed = self.manifest["records"]
        if records < listed:
            raise _Bad(
                Finding(
                    first + records,
                    TRUNCATED,
                    f"it is missing: the manifest lists {listed} records, {RECORDS} holds "
                    f"{records}",
                    RECORDS,
                )
            )
        if records > listed:
            raise _Bad(
                Finding(
                    first + listed,
                    INSERTED,
                    f"the manifest lists {listed} records, {RECORDS} holds {records}",
                    RECORDS,
                    listed + 1,
                )
            )
        if self.manifest["since"] is None and self.manifest["until"] is None:
            assert self.checkpoint is not None
            size = self.checkpoint["tree_size"]
            whole = (
                f"exported without --since or --until, the bundle must hold every record of "
                f"checkpoint {size}"
            )
            if first != 1:
                raise _Bad(
                    Finding(
                        1, DELETED, f"it is missing: {whole}, yet it starts at {first}", RECORDS
                    )
                )
            if records < size:
                raise _Bad(
                    Finding(
                        records + 1,
                        TRUNCATED,
                        f"it is missing: {whole}, yet it ends at {records}",
                        RECORDS,
                    )
                )
        if proofs > records:
            raise _Bad(
                Finding(
                    first + records,
                    TRUNCATED,
                    f"it is missing from {RECORDS} but {PROOFS} proves it",
                    PROOFS,
                    records + 1,
                )
            )

    # -- files ----------------------------------------------------------------------------

    def _lines(self, name: str) -> list[bytes | None]:
        """The file's lines; None for an empty line or an unterminated last one."""
        try:
            data = (self.folder / name).read_bytes()
        except OSError:
            raise _Bad(Finding(None, DELETED, f"{name} is missing", name)) from None
        self.read[name] = data  # hashed against the manifest at the end, not read twice
        if not data:
            return []
        lines: list[bytes | None] = list(data.split(b"\n"))
        tail = lines.pop()
        if tail:
            lines.append(None)  # no newline at its end: cut short
        return [line or None for line in lines]

    def _files(self) -> None:
        """The bundled public key (the key that signs the bundle: the key given, or the one
        its rotations lead to), every file's hash against
        the signed manifest (report.html is read by nothing else), and no file unlisted."""
        pem = self.folder / PUBLIC_KEY
        try:
            bundled = pem.read_bytes()
        except OSError:
            raise _Bad(Finding(None, DELETED, f"{PUBLIC_KEY} is missing", PUBLIC_KEY)) from None
        if bundled != public_pem(self.key):
            raise _Bad(
                Finding(
                    None,
                    WRONG_KEY,
                    f"the bundle's {PUBLIC_KEY} is not "
                    + ("the key given" if self.single else "the key your key's rotations lead to")
                    + f" (id {self.key_id})",
                    PUBLIC_KEY,
                )
            )
        listed = self.manifest["files"]
        for name, digest in sorted(listed.items()):
            try:
                data = self.read.get(name) or (self.folder / name).read_bytes()
            except OSError:
                raise _Bad(Finding(None, DELETED, f"{name} is missing", name)) from None
            if hashlib.sha256(data).hexdigest() != digest:
                raise _Bad(
                    Finding(None, MODIFIED, f"{name} does not match the manifest's hash", name)
                )
        for path in sorted(self.folder.iterdir()):
            if path.name != MANIFEST and path.name not in listed:
                raise _Bad(
                    Finding(
                        None,
                        INSERTED,
                        f"the bundle holds {path.name}, which its signed manifest does not "
                        "list: it was added after the export",
                        path.name,
                    )
                )


def _listed(manifest: Path) -> Collection[str]:
    """The files the manifest lists, before its signature is checked: only to name a file
    that went missing rather than the keys it would have led to."""
    try:
        files = json.loads(manifest.read_bytes()).get("files")
    except (OSError, ValueError, AttributeError):
        return ()
    return files if isinstance(files, dict) else ()


def _misplaced(
    seq: int, expected: int, index: int, seen: dict[int, list[int]], size: int
) -> tuple[str, int, str]:
    """What a record at the wrong place means (a copy, a swap, a gap or an intruder) and
    which record to name."""
    if len(seen.get(seq, ())) > 1:
        return INSERTED, seq, f"a second copy of record {seq} at line {index + 1}"
    if expected in seen:
        at = seen[expected][0] + 1
        return REORDERED, seq, f"found where record {expected} belongs (which is at line {at})"
    if seq > size or seq < expected:
        return INSERTED, seq, f"record {seq} does not belong at line {index + 1}"
    return DELETED, expected, f"it is missing: line {index + 1} holds record {seq}"
