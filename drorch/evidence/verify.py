"""An evidence bundle's layout and its offline verification: nothing but the bundle's files
and the auditor's copy of the public key is trusted, not drorch, its catalog or its hosts.

    verify(Path("bundle"), Path("drorch-evidence.pub.pem")).problem
    -> record 17: modified: its content does not match its hash (records.jsonl line 17)

Every line of every .jsonl file must be exactly canonical JSON; every record's leaf hash,
hash, signature, link to the record before it and inclusion proof are recomputed; the
checkpoints' signatures, the consistency proof and the seq sequence are checked. The first
bad record is named with what happened to it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.errors import UsageError
from drorch.evidence.canonical import is_canonical
from drorch.evidence.envelope import GENESIS, HEX64, checkpoint_problem, unsigned
from drorch.evidence.examine import Examined, Facts, start_examining
from drorch.evidence.merkle import Tree, leaf_hash, verify_consistency, verify_inclusion
from drorch.evidence.signing import key_id, load_public_key, public_pem, signature_valid

BUNDLE_FORMAT = "drorch-evidence-bundle/1"
RECORDS = "records.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
PROOFS = "proofs.jsonl"
PUBLIC_KEY = "public_key.pem"
MANIFEST = "manifest.json"
REPORT = "report.html"

VERIFIED = frozenset({RECORDS, CHECKPOINTS, PROOFS, PUBLIC_KEY})
INCLUSION_KEYS = frozenset({"type", "seq", "tree_size", "leaf_hash", "path"})
CONSISTENCY_KEYS = frozenset({"type", "from_size", "from_root", "to_size", "to_root", "path"})

# What happened, in the words of the issue.
MODIFIED = "modified"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
TRUNCATED = "truncated"
WRONG_KEY = "signed by another key"
INCONSISTENT = "inconsistent"


@dataclass(frozen=True)
class Finding:
    """The first thing wrong with a bundle: which record (None when the problem is not one
    record's), what happened to it, why that is known, and where."""

    seq: int | None
    what: str
    detail: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        subject = f"record {self.seq}" if self.seq is not None else "bundle"
        where = ""
        if self.file is not None:
            where = f" ({self.file}" + (f" line {self.line}" if self.line else "") + ")"
        return f"{subject}: {self.what}: {self.detail}{where}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int  # records in the bundle
    first_seq: int | None
    last_seq: int | None
    tree_size: int | None  # of the newest checkpoint
    root_hash: str | None
    from_size: int | None  # the earlier checkpoint the log was proven to extend
    key_id: str
    problem: Finding | None

    def message(self) -> str:
        if self.problem is not None:
            return f"NOT VERIFIED: {self.problem}"
        span = (
            f"records {self.first_seq}–{self.last_seq}"
            if self.records
            else "no records (checkpoint only)"
        )
        extends = f"; it extends checkpoint {self.from_size}" if self.from_size is not None else ""
        return (
            f"verified: {span} ({self.records}), signed by key {self.key_id}, included in "
            f"checkpoint {self.tree_size} (root {self.root_hash}){extends}"
        )


class _Bad(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding
        super().__init__(str(finding))


def verify(bundle_dir: Path, public_key_pem_path: Path) -> VerifyResult:
    """Check a bundle offline against the auditor's copy of the public key."""
    key = load_public_key(public_key_pem_path)
    if not bundle_dir.is_dir():
        raise UsageError(f"{bundle_dir} is not a folder holding an evidence bundle")
    bundle = _Bundle(bundle_dir, key)
    try:
        bundle.check()
    except _Bad as bad:
        return bundle.result(bad.finding)
    return bundle.result(None)


class _Bundle:
    def __init__(self, folder: Path, key: Ed25519PublicKey) -> None:
        self.folder = folder
        self.key = key
        self.key_id = key_id(key)
        self.manifest: dict[str, Any] = {}
        self.checkpoint: dict[str, Any] | None = None
        self.count = 0
        self.from_size: int | None = None

    def result(self, problem: Finding | None) -> VerifyResult:
        first = self.manifest.get("first_seq")
        return VerifyResult(
            ok=problem is None,
            records=self.count,
            first_seq=first if isinstance(first, int) else None,
            last_seq=first + self.count - 1 if isinstance(first, int) and self.count else None,
            tree_size=self.checkpoint["tree_size"] if self.checkpoint else None,
            root_hash=self.checkpoint["root_hash"] if self.checkpoint else None,
            from_size=self.from_size,
            key_id=self.key_id,
            problem=problem,
        )

    def check(self) -> None:
        self.manifest = self._manifest()
        marks = self._checkpoints()
        proofs, consistency = self._proofs()
        self._records(proofs)
        self._consistency(consistency, marks)
        self._files()

    # -- manifest and checkpoints ---------------------------------------------------------

    def _manifest(self) -> dict[str, Any]:
        path = self.folder / MANIFEST
        try:
            manifest = json.loads(path.read_bytes())
        except OSError:
            raise _Bad(Finding(None, DELETED, f"{MANIFEST} is missing", MANIFEST)) from None
        except ValueError as exc:
            raise _Bad(Finding(None, MODIFIED, f"not JSON: {exc}", MANIFEST)) from None
        problem = _manifest_problem(manifest)
        if problem is not None:
            raise _Bad(Finding(None, MODIFIED, problem, MANIFEST))
        result: dict[str, Any] = manifest
        return result

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
            if mark["key_id"] != self.key_id:
                raise _Bad(
                    Finding(
                        None,
                        WRONG_KEY,
                        f"checkpoint {mark['tree_size']} names key {mark['key_id']}, "
                        f"the key given is {self.key_id}",
                        CHECKPOINTS,
                        number,
                    )
                )
            if not signature_valid(self.key, mark["signature"], unsigned(mark)):
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
        line when the manifest names an earlier checkpoint."""
        lines = self._lines(PROOFS)
        consistency: dict[str, Any] | None = None
        if self.manifest["from_checkpoint"] is not None:
            if not lines:
                raise _Bad(Finding(None, DELETED, "the consistency proof is missing", PROOFS))
            last = lines.pop()
            consistency = is_canonical(last) if last is not None else None
            if _consistency_problem(consistency) is not None:
                raise _Bad(
                    Finding(
                        None,
                        MODIFIED,
                        "its last line is not the consistency proof",
                        PROOFS,
                        len(lines) + 1,
                    )
                )
        return lines, consistency

    def _consistency(self, proof: dict[str, Any] | None, marks: list[dict[str, Any]]) -> None:
        accepted = self.manifest["from_checkpoint"]
        if accepted is None or proof is None:
            return
        assert self.checkpoint is not None
        sizes = {mark["tree_size"]: mark["root_hash"] for mark in marks}
        if sizes.get(accepted["tree_size"]) != accepted["root_hash"]:
            raise _Bad(
                Finding(
                    None,
                    DELETED,
                    f"the earlier checkpoint {accepted['tree_size']} is not among the signed "
                    "checkpoints",
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
        self.from_size = accepted["tree_size"]

    # -- records --------------------------------------------------------------------------

    def _records(self, proofs: list[bytes | None]) -> None:
        """Each record on its own and in the chain first (so a changed record is named,
        not the records whose proofs it spoils), then the inclusion proofs, then counts.
        The records are examined in worker processes while the proofs are checked here."""
        lines = self._lines(RECORDS)
        self.count = len(lines)
        first = self.manifest["first_seq"] or 1
        pending = start_examining(lines, self.key)
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
            if facts.key_id != self.key_id:
                return bad(WRONG_KEY, f"key {facts.key_id}, the key given is {self.key_id}")
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

        if proof is None or _inclusion_problem(proof) is not None:
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
        if not data:
            return []
        lines: list[bytes | None] = list(data.split(b"\n"))
        tail = lines.pop()
        if tail:
            lines.append(None)  # no newline at its end: cut short
        return [line or None for line in lines]

    def _files(self) -> None:
        """What no record check reads: the bundled public key (it must be the key given)
        and the manifest's hashes of the other files (report.html)."""
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
                    f"the bundle's {PUBLIC_KEY} is not the key given (id {self.key_id})",
                    PUBLIC_KEY,
                )
            )
        for name, digest in sorted(self.manifest["files"].items()):
            if name in VERIFIED:
                continue  # every byte of these was checked above
            try:
                data = (self.folder / name).read_bytes()
            except OSError:
                raise _Bad(Finding(None, DELETED, f"{name} is missing", name)) from None
            if hashlib.sha256(data).hexdigest() != digest:
                raise _Bad(
                    Finding(None, MODIFIED, f"{name} does not match the manifest's hash", name)
                )


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


def inclusion_line(seq: int, tree_size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """A line of proofs.jsonl: the audit path of record seq (leaf seq - 1) in the tree, as
    canonical JSON (written out directly: verify builds 100,000 of these to compare)."""
    nodes = ",".join(f'"{node.hex()}"' for node in path)
    return (
        f'{{"leaf_hash":"{leaf.hex()}","path":[{nodes}],"seq":{seq},'
        f'"tree_size":{tree_size},"type":"inclusion"}}'
    ).encode("ascii")


def _manifest_problem(manifest: Any) -> str | None:
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        return f"not a {BUNDLE_FORMAT} manifest"
    first, count = manifest.get("first_seq"), manifest.get("records")
    if not _count(count, 0) or not (first is None if count == 0 else _count(first, 1)):
        return "first_seq and records are not counts"
    for name in ("checkpoint", "from_checkpoint"):
        mark = manifest.get(name)
        if mark is None and name == "from_checkpoint":
            continue
        if (
            not isinstance(mark, dict)
            or set(mark) != {"tree_size", "root_hash"}
            or not _count(mark["tree_size"], 1)
            or not isinstance(mark["root_hash"], str)
            or not HEX64.fullmatch(mark["root_hash"])
        ):
            return f"{name} is not a tree size and root hash"
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(name, str) and "/" not in name and isinstance(digest, str)
        for name, digest in files.items()
    ):
        return "files is not a list of file names and SHA-256 hashes"
    return None


def _inclusion_problem(proof: Any) -> str | None:
    if not isinstance(proof, dict) or set(proof) != INCLUSION_KEYS:
        return "not an inclusion proof"
    good = (
        proof["type"] == "inclusion"
        and _count(proof["seq"], 1)
        and _count(proof["tree_size"], 1)
        and _hex(proof["leaf_hash"])
        and isinstance(proof["path"], list)
        and all(_hex(node) for node in proof["path"])
    )
    return None if good else "a malformed inclusion proof"


def _consistency_problem(proof: Any) -> str | None:
    good = (
        isinstance(proof, dict)
        and set(proof) == CONSISTENCY_KEYS
        and proof["type"] == "consistency"
        and _count(proof["from_size"], 1)
        and _count(proof["to_size"], 1)
        and _hex(proof["from_root"])
        and _hex(proof["to_root"])
        and isinstance(proof["path"], list)
        and all(_hex(node) for node in proof["path"])
    )
    return None if good else "a malformed consistency proof"


def _count(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _hex(value: Any) -> bool:
    return isinstance(value, str) and bool(HEX64.fullmatch(value))
