"""A bundle proven from outside: a verifier written from RFC 6962 / RFC 9162 section 2.1,
Ed25519 and the bundle format's documentation alone, importing nothing of drorch (only
hashlib, json and `cryptography`). It checks the manifest's signature over its canonical
bytes, every file's SHA-256, every record's hash, signature and chain link, every
inclusion proof, the checkpoints' signatures, the consistency proof and, given one, the
checkpoint an auditor kept; drorch's own verify must agree with it on real bundles, intact
and tampered. Across key rotations it walks the chain of keys from the format alone: each
`key-rotation` record (in records.jsonl or keys.jsonl) names the old key and the new one,
the new key signs from the next record on, and a checkpoint of size N is signed by the key
of record N + 1 (test_bundle_rotation.py holds it to drorch on rotated logs)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drorch.catalog import open_catalog
from drorch.evidence.bundle import export, newest_checkpoint, verify
from drorch.evidence.log import EvidenceLog
from tests.unit.evidence.conftest import START, Clock, restore_test, write_key_pair

# -- the verifier from outside ---------------------------------------------------------


def canonical(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 as itself."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(data: bytes) -> bytes:  # RFC 6962 2.1: MTH({d(0)}) = SHA-256(0x00 || d(0))
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:  # SHA-256(0x01 || left || right)
    return sha256(b"\x01" + left + right)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1, the definition: k the largest power of two smaller than n."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_root(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2, step by step."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def consistent(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step."""
    if first == second:
        return not path and first_hash == second_hash
    if not path or not 0 < first < second:
        return False
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_hash and sr == second_hash


def signed(key: Ed25519PublicKey, signature_hex: str, message: bytes) -> bool:
    try:
        key.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key(pem: bytes) -> tuple[Ed25519PublicKey, str]:
    """A PEM public key and its id: the first 16 hex digits of SHA-256 of its raw bytes."""
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, Ed25519PublicKey)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, hashlib.sha256(raw).hexdigest()[:16]


Chain = list[tuple[int, str, Ed25519PublicKey]]  # (first seq it signs, key id, key)


def key_chain(records: list[dict[str, Any]], trusted: bytes) -> Chain | str:
    """The keys from the rotation records, each rotation's new key signing from the record
    after it; the trusted key must be one of them (the only one, without rotations)."""
    key, trusted_id = public_key(trusted)
    rotations = sorted((r["seq"], r) for r in records if r.get("kind") == "key-rotation")
    chain: Chain = [] if rotations else [(1, trusted_id, key)]
    for seq, record in rotations:
        old, old_id = public_key(record["old_public_key"].encode())
        new, new_id = public_key(record["new_public_key"].encode())
        if (old_id, new_id) != (record["old_key_id"], record["new_key_id"]):
            return f"keys: rotation {seq} names ids that are not its keys'"
        if chain and chain[-1][1] != old_id:
            return f"keys: rotation {seq} does not continue the chain"
        chain += [] if chain else [(1, old_id, old)]
        chain.append((seq + 1, new_id, new))
    if trusted_id not in [kid for _, kid, _ in chain]:
        return "keys: no rotation leads from the trusted key"
    return chain


def signer(chain: Chain, seq: int) -> tuple[str, Ed25519PublicKey]:
    """The key that signs record seq (and checkpoint seq - 1)."""
    _, kid, key = [link for link in chain if link[0] <= seq][-1]
    return kid, key


def outside_verify(folder: Path, pem: Path, kept_line: bytes | None = None) -> list[str]:
    """Every problem found, [] when the bundle proves what its manifest claims."""
    problems: list[str] = []

    # The chain of keys, from the rotation records the bundle carries.
    lines = (folder / "records.jsonl").read_bytes().splitlines()
    outside = (
        [json.loads(line) for line in (folder / "keys.jsonl").read_bytes().splitlines()]
        if (folder / "keys.jsonl").exists()
        else []
    )
    chain = key_chain(
        [json.loads(line) for line in lines] + [json.loads(e["record"]) for e in outside],
        pem.read_bytes(),
    )
    if isinstance(chain, str):
        return [chain]
    _, key_id, key = chain[-1]  # the bundle's current key signs its manifest

    # The manifest: Ed25519 over its canonical JSON without "signature".
    manifest = json.loads((folder / "manifest.json").read_bytes())
    signature = manifest.pop("signature", None)
    if signature is None:
        return ["manifest: no signature"]
    if manifest["key_id"] != key_id or not signed(key, signature, canonical(manifest)):
        return ["manifest: signature does not verify"]
    if public_key((folder / "public_key.pem").read_bytes())[1] != key_id:
        problems.append("public_key.pem: not the key that signs the bundle")
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: not the file the manifest signs")
    if {p.name for p in folder.iterdir()} != {*manifest["files"], "manifest.json"}:
        problems.append("files: not those the manifest lists")

    # The checkpoints: the newest last, each signed over its canonical JSON.
    marks = [json.loads(line) for line in (folder / "checkpoints.jsonl").read_bytes().splitlines()]
    for mark in marks:
        body = {k: v for k, v in mark.items() if k != "signature"}
        mark_id, mark_key = signer(chain, mark["tree_size"] + 1)
        if mark["key_id"] != mark_id or not signed(mark_key, mark["signature"], canonical(body)):
            problems.append(f"checkpoint {mark['tree_size']}: signature")
    newest = marks[-1]
    claimed = manifest["checkpoint"]
    if (newest["tree_size"], newest["root_hash"]) != (claimed["tree_size"], claimed["root_hash"]):
        problems.append("checkpoint: not the one the manifest claims")
    size, root = newest["tree_size"], bytes.fromhex(newest["root_hash"])

    # The records: exactly the range claimed, each hashed, signed and linked.
    first = manifest["first_seq"]
    expected = list(range(first, manifest["last_seq"] + 1)) if manifest["records"] else []
    if len(lines) != manifest["records"]:
        problems.append("records: not as many as claimed")
    prev = "0" * 64 if first == 1 else None
    for line, seq in zip(lines, expected, strict=False):
        record = json.loads(line)
        if record["seq"] != seq or canonical(record) != line:
            problems.append(f"record {seq}: not in its place or not canonical")
        if not sealed(record, chain):
            problems.append(f"record {seq}: hash or signature")
        if prev is not None and record["prev"] != prev:
            problems.append(f"record {seq}: chain")
        prev = record["hash"]

    # The proofs: one inclusion proof a record, then the claimed consistency proof.
    proofs = [json.loads(line) for line in (folder / "proofs.jsonl").read_bytes().splitlines()]
    earlier = manifest["from_checkpoint"]
    consistency = proofs.pop() if earlier is not None and proofs else None
    if earlier is not None and (consistency is None or consistency["type"] != "consistency"):
        problems.append("consistency proof: missing")
        consistency = None
    if len(proofs) != len(lines):
        problems.append("inclusion proofs: not one a record")
    for line, seq, proof in zip(lines, expected, proofs, strict=False):
        leaf = leaf_hash(line)
        path = [bytes.fromhex(node) for node in proof["path"]]
        if (proof["seq"], proof["tree_size"], proof["leaf_hash"]) != (seq, size, leaf.hex()):
            problems.append(f"record {seq}: its proof is for something else")
        if inclusion_root(seq - 1, size, leaf, path) != root:
            problems.append(f"record {seq}: not in the tree")
    if len(lines) == size and first == 1 and mth(lines) != root:
        problems.append("tree: its root is not the checkpoint's")  # the definition, too
    # keys.jsonl: rotation records of the tree outside the range, sealed and included.
    for entry in outside:
        record, proof = json.loads(entry["record"]), entry["inclusion"]
        seq, leaf = record["seq"], leaf_hash(entry["record"].encode())
        if record["kind"] != "key-rotation" or canonical(record) != entry["record"].encode():
            problems.append(f"keys.jsonl record {seq}: not a rotation record's line")
        if seq in expected or not sealed(record, chain):
            problems.append(f"keys.jsonl record {seq}: in the range, or hash or signature")
        path = [bytes.fromhex(node) for node in proof["path"]]
        if (proof["seq"], proof["tree_size"], proof["leaf_hash"]) != (seq, size, leaf.hex()):
            problems.append(f"keys.jsonl record {seq}: its proof is for something else")
        if inclusion_root(seq - 1, size, leaf, path) != root:
            problems.append(f"keys.jsonl record {seq}: not in the tree")

    if consistency is not None:
        assert earlier is not None
        known = {mark["tree_size"]: mark["root_hash"] for mark in marks}
        if known.get(earlier["tree_size"]) != earlier["root_hash"] or not consistent(
            earlier["tree_size"],
            size,
            bytes.fromhex(earlier["root_hash"]),
            root,
            [bytes.fromhex(node) for node in consistency["path"]],
        ):
            problems.append("consistency: the checkpoint does not extend the earlier one")

    # The checkpoint the auditor kept: signed by the key, and extended exactly.
    if kept_line is not None:
        kept = json.loads(kept_line)
        body = {k: v for k, v in kept.items() if k != "signature"}
        kept_id, kept_key = signer(chain, kept["tree_size"] + 1)
        if kept["key_id"] != kept_id or not signed(kept_key, kept["signature"], canonical(body)):
            problems.append("kept checkpoint: signature")
        anchor = (kept["tree_size"], kept["root_hash"])
        proven = (earlier["tree_size"], earlier["root_hash"]) if consistency else None
        if anchor != (size, newest["root_hash"]) and anchor != proven:
            problems.append("kept checkpoint: not extended by this bundle")
    return problems


def sealed(record: dict[str, Any], chain: Chain) -> bool:
    """Its hash is SHA-256 of its canonical JSON without the seals, and the key the chain
    names for its seq signed that hash."""
    body = {k: v for k, v in record.items() if k not in ("hash", "signature", "key_id")}
    digest = sha256(canonical(body))
    kid, key = signer(chain, record["seq"])
    return (
        digest.hex() == record["hash"]
        and record["key_id"] == kid
        and signed(key, record["signature"], digest)
    )


# -- real bundles --------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("outside")
    keys = write_key_pair(root / "keys")
    catalog = open_catalog(None, root / "state")
    log = EvidenceLog(catalog, keys.private, host="node1", clock=Clock())
    for i in range(5):
        log.append("restore-test", restore_test(n=i, result="fail" if i == 2 else "pass"))
    kept = newest_checkpoint(catalog, keys.private).line
    (root / "kept.jsonl").write_bytes(kept + b"\n")
    early = export(catalog, root / "early", key_path=keys.private)
    log.append_many([("replication", {"job": "payroll", "copies": i}) for i in range(6)])
    log.append("restore-test", restore_test(job="ledger", name="Zürich"))
    bundles = {
        "early": early,
        "whole": export(catalog, root / "whole", key_path=keys.private),
        "window": export(
            catalog, root / "window", key_path=keys.private, since=START.replace(minute=8)
        ),
        "anchored": export(
            catalog, root / "anchored", key_path=keys.private, from_checkpoint=root / "kept.jsonl"
        ),
        "anchored-window": export(
            catalog,
            root / "anchored-window",
            key_path=keys.private,
            since=START.replace(minute=8),
            until=START.replace(minute=14),
            from_checkpoint=root / "kept.jsonl",
        ),
    }
    # The key holder's rewritten history, with its own "checkpoint 5".
    rewritten = open_catalog(None, root / "rewritten")
    forger = EvidenceLog(rewritten, keys.private, host="node1", clock=Clock())
    for i in range(5):
        forger.append("restore-test", restore_test(job="forged", n=i))
    (root / "fake.jsonl").write_bytes(newest_checkpoint(rewritten, keys.private).line + b"\n")
    forger.append("restore-test", restore_test(job="forged", n=9))
    bundles["forged"] = export(
        rewritten, root / "forged", key_path=keys.private, from_checkpoint=root / "fake.jsonl"
    )
    return {"root": root, "keys": keys, "kept": kept, "bundles": bundles}


def agree(folder: Path, pem: Path, kept: Path | None = None) -> list[str]:
    """The outside verdict, asserted to be drorch's."""
    outside = outside_verify(folder, pem, kept.read_bytes().strip() if kept else None)
    inside = verify(folder, pem, since_checkpoint=kept)
    assert inside.ok == (not outside), (outside, inside.message())
    return outside


@pytest.mark.parametrize("name", ["early", "whole", "window", "anchored", "anchored-window"])
def test_real_bundles_verify_from_outside(world: dict[str, Any], name: str) -> None:
    folder = world["bundles"][name]
    assert agree(folder, world["keys"].public) == []
    manifest = json.loads((folder / "manifest.json").read_bytes())
    assert manifest["format"] == "drorch-evidence-bundle/2"
    if name.startswith("anchored"):
        assert agree(folder, world["keys"].public, world["root"] / "kept.jsonl") == []


def test_the_fake_checkpoint_5_is_refused_from_outside_too(world: dict[str, Any]) -> None:
    forged = world["bundles"]["forged"]
    assert agree(forged, world["keys"].public) == []  # it holds together on its own
    assert agree(forged, world["keys"].public, world["root"] / "kept.jsonl") == [
        "kept checkpoint: not extended by this bundle"
    ]
    plain = world["bundles"]["whole"]
    assert agree(plain, world["keys"].public, world["root"] / "kept.jsonl") == [
        "kept checkpoint: not extended by this bundle"
    ]


def rewrite_manifest(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((folder / "manifest.json").read_bytes())
    change(manifest)
    for name in manifest["files"]:
        if (folder / name).exists():
            manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def cut_last_record(folder: Path) -> None:
    for name in ("records.jsonl", "proofs.jsonl"):
        lines = (folder / name).read_bytes().splitlines(keepends=True)
        (folder / name).write_bytes(b"".join(lines[:-1]))
    rewrite_manifest(
        folder, lambda m: m.update(last_seq=m["last_seq"] - 1, records=m["records"] - 1)
    )


def delete_record_1(folder: Path) -> None:
    for name in ("records.jsonl", "proofs.jsonl"):
        lines = (folder / name).read_bytes().splitlines(keepends=True)
        (folder / name).write_bytes(b"".join(lines[1:]))
    rewrite_manifest(folder, lambda m: m.update(first_seq=2, records=m["records"] - 1))


def drop_consistency_proof(folder: Path) -> None:
    lines = (folder / "proofs.jsonl").read_bytes().splitlines(keepends=True)
    (folder / "proofs.jsonl").write_bytes(b"".join(lines[:-1]))
    rewrite_manifest(folder, lambda m: m.update(from_checkpoint=None))


def edit_report(folder: Path) -> None:
    report = folder / "report.html"
    report.write_bytes(report.read_bytes().replace(b"FAIL", b"PASS"))
    rewrite_manifest(folder, lambda m: None)


def edit_range(folder: Path) -> None:
    rewrite_manifest(folder, lambda m: m.update(first_seq=m["first_seq"] + 1))


def remove_signature(folder: Path) -> None:
    rewrite_manifest(folder, lambda m: m.pop("signature"))


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (cut_last_record, "manifest: signature does not verify"),
        (delete_record_1, "manifest: signature does not verify"),
        (drop_consistency_proof, "manifest: signature does not verify"),
        (edit_report, "manifest: signature does not verify"),
        (edit_range, "manifest: signature does not verify"),
        (remove_signature, "manifest: no signature"),
    ],
)
def test_every_manifest_edit_is_caught_from_outside_and_inside(
    world: dict[str, Any], tmp_path: Path, edit: Callable[[Path], None], found: str
) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(world["bundles"]["anchored"], folder)
    before = (folder / "manifest.json").read_bytes()
    edit(folder)
    assert (folder / "manifest.json").read_bytes() != before
    assert agree(folder, world["keys"].public) == [found]


def resign(folder: Path, private: Path) -> None:
    """What only the key holder can do: sign the manifest as it now is."""
    key = serialization.load_pem_private_key(private.read_bytes(), None)
    manifest = json.loads((folder / "manifest.json").read_bytes())
    del manifest["signature"]
    manifest["signature"] = key.sign(canonical(manifest)).hex()  # type: ignore[union-attr]
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def edit_record(folder: Path) -> None:
    records = folder / "records.jsonl"
    records.write_bytes(records.read_bytes().replace(b'"result":"fail"', b'"result":"pass"'))
    rewrite_manifest(folder, lambda m: None)


def swap_proofs(folder: Path) -> None:
    lines = (folder / "proofs.jsonl").read_bytes().splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]
    (folder / "proofs.jsonl").write_bytes(b"".join(lines))
    rewrite_manifest(folder, lambda m: None)


def forge_earlier_root(folder: Path) -> None:
    lines = (folder / "proofs.jsonl").read_bytes().splitlines(keepends=True)
    proof = json.loads(lines[-1])
    proof["path"][0] = "ab" * 32
    lines[-1] = canonical(proof) + b"\n"
    (folder / "proofs.jsonl").write_bytes(b"".join(lines))
    rewrite_manifest(folder, lambda m: None)


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (edit_record, ["record 3: hash or signature"]),
        (swap_proofs, ["record 1: its proof is for something else", "record 1: not in the tree"]),
        (forge_earlier_root, ["consistency: the checkpoint does not extend the earlier one"]),
    ],
)
def test_edits_under_a_re_signed_manifest_are_caught_from_outside_and_inside(
    world: dict[str, Any], tmp_path: Path, edit: Callable[[Path], None], found: list[str]
) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(world["bundles"]["anchored"], folder)
    edit(folder)
    resign(folder, world["keys"].private)
    assert agree(folder, world["keys"].public)[: len(found)] == found
