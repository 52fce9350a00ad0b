"""Bundles verified across key rotations: the auditor trusts one key (the first, a middle
one or the current one) and verify walks the chain of rotation records the bundle carries,
in records.jsonl or keys.jsonl, to the key that signs the bundle. Real logs rotated with
`rotate_evidence_key`, real bundles; the outside verifier (test_outside.py) agrees on
every one."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from drorch.catalog import Catalog, open_catalog
from drorch.catalog import evidence as table
from drorch.cli import main
from drorch.evidence.anchor import KeptCheckpoint, signer_finding
from drorch.evidence.bundle import export, newest_checkpoint, verify
from drorch.evidence.keychain import chain_of
from drorch.evidence.log import EvidenceLog
from drorch.evidence.signing import key_id, load_private_key, load_public_key, public_pem
from drorch.evidence.verify import (
    DELETED,
    INCONSISTENT,
    MODIFIED,
    UNPROVEN,
    WRONG_KEY,
    VerifyResult,
)
from drorch.keys import rotate_evidence_key
from tests.unit.evidence.conftest import Clock, KeyPair, restore_test, write_key_pair
from tests.unit.evidence.test_outside import canonical, outside_verify

# Records get the test clock's times, far after the wall clock `rotate_evidence_key`
# stamps rotation records with: a time window never starts at a rotation record.
FUTURE = datetime(2090, 1, 1, tzinfo=UTC)


def grow(catalog: Catalog, keys: KeyPair, count: int, clock: Clock, job: str = "payroll") -> None:
    log = EvidenceLog(catalog, keys.private, host="node1", clock=clock)
    for i in range(count):
        log.append("restore-test", restore_test(job=job, n=i))


def public(keys: KeyPair, to: Path) -> Path:
    """The public half of the key now in keys.private, kept by the auditor."""
    to.write_bytes(public_pem(load_private_key(keys.private).public_key()))
    return to


def at(catalog: Catalog, seq: int) -> datetime:
    record = table.record(catalog, seq)
    assert record is not None
    return record.at


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Records 1–3 by key 0, rotation 4, records 5–7 by key 1, rotation 8, records 9–10 by
    key 2; a checkpoint kept at 3 (signed by key 0) and bundles of several ranges."""
    root = tmp_path_factory.mktemp("rotation")
    keys = write_key_pair(root / "keys")
    catalog = open_catalog(None, root / "state")
    clock = Clock(FUTURE)
    pems = [public(keys, root / "key0.pem")]
    grow(catalog, keys, 3, clock)
    (root / "kept3.jsonl").write_bytes(newest_checkpoint(catalog, keys.private).line + b"\n")
    rotate_evidence_key(keys.private, catalog, "quarterly")
    pems.append(public(keys, root / "key1.pem"))
    grow(catalog, keys, 3, clock)
    one = export(catalog, root / "one", key_path=keys.private)  # one rotation
    rotate_evidence_key(keys.private, catalog, "staff change")
    pems.append(public(keys, root / "key2.pem"))
    grow(catalog, keys, 2, clock)
    bundles = {
        "one": one,
        "whole": export(catalog, root / "whole", key_path=keys.private),
        "after-first": export(
            catalog, root / "after-first", key_path=keys.private, since=at(catalog, 5)
        ),
        "after-both": export(
            catalog, root / "after-both", key_path=keys.private, since=at(catalog, 9)
        ),
        "before-both": export(
            catalog,
            root / "before-both",
            key_path=keys.private,
            since=at(catalog, 1),
            until=at(catalog, 2),
        ),
        "anchored": export(
            catalog, root / "anchored", key_path=keys.private, from_checkpoint=root / "kept3.jsonl"
        ),
    }
    ids = [key_id(load_public_key(pem)) for pem in pems]
    return {"root": root, "keys": keys, "catalog": catalog, "pems": pems, "ids": ids, **bundles}


def agree(folder: Path, pem: Path, kept: Path | None = None) -> VerifyResult:
    """drorch's verdict, asserted to be the outside verifier's."""
    outside = outside_verify(folder, pem, kept.read_bytes().strip() if kept else None)
    inside = verify(folder, pem, since_checkpoint=kept)
    assert inside.ok == (not outside), (outside, inside.message())
    return inside


def refused(result: VerifyResult, what: str) -> str:
    assert not result.ok and result.problem is not None, result.message()
    assert result.problem.what == what, str(result.problem)
    return str(result.problem)


def keys_jsonl(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "keys.jsonl").read_bytes().splitlines()]


def test_the_export_carries_the_rotations_outside_its_range(world: dict[str, Any]) -> None:
    assert not (world["whole"] / "keys.jsonl").exists()  # both are in records.jsonl
    assert [json.loads(e["record"])["seq"] for e in keys_jsonl(world["after-first"])] == [4]
    assert [json.loads(e["record"])["seq"] for e in keys_jsonl(world["after-both"])] == [4, 8]
    assert [json.loads(e["record"])["seq"] for e in keys_jsonl(world["before-both"])] == [4, 8]
    entry = keys_jsonl(world["after-both"])[0]
    assert entry["record"] == table.record(world["catalog"], 4).body  # type: ignore[union-attr]
    assert set(entry["inclusion"]) == {"type", "seq", "tree_size", "leaf_hash", "path"}
    assert (entry["inclusion"]["seq"], entry["inclusion"]["tree_size"]) == (4, 10)
    manifest = json.loads((world["after-both"] / "manifest.json").read_bytes())
    assert "keys.jsonl" in manifest["files"]
    assert manifest["key_id"] == world["ids"][2]
    assert manifest["format"] == "drorch-evidence-bundle/2"  # an added file: no new format


@pytest.mark.parametrize("name", ["whole", "after-first", "after-both", "before-both"])
@pytest.mark.parametrize("trusted", [0, 1, 2])
def test_a_bundle_across_two_rotations_verifies_with_any_key_of_the_chain(
    world: dict[str, Any], name: str, trusted: int
) -> None:
    result = agree(world[name], world["pems"][trusted])
    assert result.ok and result.key_id == world["ids"][2]
    k0, k1, k2 = (
        kid + (" (trusted)" if index == trusted else "") for index, kid in enumerate(world["ids"])
    )
    assert result.keys == f"keys: {k0} → {k1} at record 4 → {k2} at record 8"
    assert f"\n  {result.keys}" in result.message()


@pytest.mark.parametrize("trusted", [0, 1])
def test_a_bundle_across_one_rotation_verifies_with_either_key(
    world: dict[str, Any], trusted: int
) -> None:
    result = agree(world["one"], world["pems"][trusted])
    assert result.ok and result.key_id == world["ids"][1], result.message()
    assert result.message().startswith(
        f"verified: records 1–7 (7) of checkpoint 7, signed by key {world['ids'][1]}"
    )


def test_a_key_the_bundle_does_not_lead_from_is_refused(
    world: dict[str, Any], tmp_path: Path
) -> None:
    # The newest key cannot vouch for a bundle signed before it existed.
    detail = refused(agree(world["one"], world["pems"][2]), WRONG_KEY)
    assert detail == (
        f"bundle: signed by another key: the bundle is signed by key {world['ids'][1]}; no "
        f"rotation in it leads from your key {world['ids'][2]}"
    )
    stranger = write_key_pair(tmp_path / "stranger")
    detail = refused(agree(world["whole"], stranger.public), WRONG_KEY)
    assert "no rotation in it leads from your key" in detail


def test_the_cli_walks_the_chain_and_exits_3_off_it(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, pems = str(world["after-both"]), world["pems"]
    assert main(["evidence", "verify", bundle, "--key", str(pems[0])]) == 0
    out = capsys.readouterr().out
    assert f"keys: {world['ids'][0]} (trusted) → {world['ids'][1]} at record 4 → " in out
    assert main(["evidence", "verify", str(world["one"]), "--key", str(pems[2])]) == 3
    assert "no rotation in it leads from your key" in capsys.readouterr().out


def copy(world: dict[str, Any], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(world[name], tmp_path / name))


def test_without_keys_jsonl_the_old_key_leads_nowhere(
    world: dict[str, Any], tmp_path: Path
) -> None:
    folder = copy(world, "after-both", tmp_path)
    (folder / "keys.jsonl").unlink()
    missing = (
        "bundle: deleted: keys.jsonl is missing: it carries the key-rotation records outside "
        "the bundle's range, which lead from earlier keys to the one that signs it (keys.jsonl)"
    )
    for pem in world["pems"]:  # the current key too: the bundle lost a file it lists
        assert refused(agree(folder, pem), DELETED) == missing


def edit_keys(folder: Path, index: int, change: Any) -> None:
    lines = (folder / "keys.jsonl").read_bytes().splitlines(keepends=True)
    lines[index] = change(lines[index])
    (folder / "keys.jsonl").write_bytes(b"".join(lines))


def test_an_edited_keys_jsonl_is_caught(world: dict[str, Any], tmp_path: Path) -> None:
    folder = copy(world, "after-both", tmp_path)
    edit_keys(folder, 0, lambda line: line.replace(b"quarterly", b"routine"))
    assert refused(agree(folder, world["pems"][0]), MODIFIED) == (
        "record 4: modified: its content does not match its hash (keys.jsonl line 1)"
    )
    folder = copy(world, "after-both", tmp_path / "cut")
    edit_keys(folder, 0, lambda line: b"")  # the first rotation taken out
    detail = refused(agree(folder, world["pems"][0]), WRONG_KEY)
    assert f"no rotation in it leads from your key {world['ids'][0]}" in detail
    folder = copy(world, "after-both", tmp_path / "proof")
    edit_keys(folder, 1, lambda line: line.replace(b'"seq":8,"tree_size"', b'"seq":7,"tree_size"'))
    assert refused(agree(folder, world["pems"][1]), MODIFIED).endswith(
        "its inclusion proof is not for it in checkpoint 10 (keys.jsonl line 2)"
    )


def test_a_rotation_in_keys_jsonl_re_signed_by_an_intruder_is_caught(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """Rehashed and signed by another key under key 0's id: the old key's signature is what
    vouches for the new key, and it is missing."""
    intruder = load_private_key(write_key_pair(tmp_path / "intruder").private)
    folder = copy(world, "after-both", tmp_path)

    def forge(line: bytes) -> bytes:
        entry = json.loads(line)
        record = json.loads(entry["record"])
        record["reason"] = "forged"
        body = {k: v for k, v in record.items() if k not in ("hash", "signature", "key_id")}
        digest = hashlib.sha256(canonical(body)).digest()
        record.update(hash=digest.hex(), signature=intruder.sign(digest).hex())
        return canonical({**entry, "record": canonical(record).decode()}) + b"\n"

    edit_keys(folder, 0, forge)
    assert refused(agree(folder, world["pems"][0]), MODIFIED) == (
        f"record 4: modified: its signature does not verify with key {world['ids'][0]} "
        "(keys.jsonl line 1)"
    )


def test_a_rotation_naming_an_intruders_key_fails(world: dict[str, Any], tmp_path: Path) -> None:
    """The intruder holds a key of its own, not the log's: its rotation record cannot carry
    the old key's signature, and a chain of its own keys starts nowhere the auditor trusts."""
    intruder = write_key_pair(tmp_path / "intruder")
    catalog = open_catalog(None, tmp_path / "state")
    first = tmp_path / "key0.ed25519"  # a log of key 0, as the auditor's
    retired = next((world["root"] / "keys").glob(f"*.retired-{world['ids'][0]}"))
    shutil.copy(retired, first)
    grow(catalog, KeyPair(first, world["pems"][0]), 3, Clock(FUTURE))
    # signed by the intruder under key 0's id, naming the intruder's key as the next
    forger = EvidenceLog(catalog, first, host="node1", clock=Clock(FUTURE))
    forger._key = EvidenceLog(catalog, intruder.private)._key
    forger.rotate(intruder.private, "forged")
    grow(catalog, intruder, 2, Clock(FUTURE))
    forged = export(catalog, tmp_path / "forged", key_path=intruder.private)
    assert refused(agree(forged, world["pems"][0]), MODIFIED) == (
        "record 4: modified: its signature does not verify against its hash (changed after "
        "signing, or signed by another key under this key's id) (records.jsonl line 4)"
    )
    # the intruder's own chain: a genuine rotation between two keys nobody trusts
    theirs = open_catalog(None, tmp_path / "theirs")
    grow(theirs, intruder, 2, Clock(FUTURE))
    rotate_evidence_key(intruder.private, theirs, "forged")
    grow(theirs, intruder, 1, Clock(FUTURE))
    bundle = export(theirs, tmp_path / "theirs-bundle", key_path=intruder.private)
    assert "no rotation in it leads from your key" in refused(
        agree(bundle, world["pems"][0]), WRONG_KEY
    )


def test_a_checkpoint_kept_before_the_rotations_anchors_a_bundle_after_them(
    world: dict[str, Any],
) -> None:
    kept = world["root"] / "kept3.jsonl"
    assert json.loads(kept.read_bytes())["key_id"] == world["ids"][0]
    for pem in world["pems"]:
        result = agree(world["anchored"], pem, kept)
        assert result.ok, result.message()
        assert result.kept is not None and result.kept.tree_size == 3
        assert "it extends the checkpoint you kept: 3 (root " in result.message()
    # without a consistency proof from it, the old key's checkpoint proves nothing
    assert "no consistency proof from the checkpoint you kept" in refused(
        agree(world["after-both"], world["pems"][2], kept), UNPROVEN
    )


def test_a_kept_checkpoint_must_be_signed_by_the_key_the_chain_names_for_its_size(
    world: dict[str, Any],
) -> None:
    lines = [r.body.encode() for r in table.records(world["catalog"])]
    chain = chain_of(lines, first=load_public_key(world["pems"][0]))
    mark = table.checkpoints(world["catalog"])[4]  # checkpoint 5, signed by key 1
    kept = KeptCheckpoint(5, mark.root_hash, "2090-01-01T00:00:00Z", world["ids"][0], b"")
    finding = signer_finding(kept, chain)
    assert finding is not None and finding.what == INCONSISTENT
    assert f"by this bundle's key rotations key {world['ids'][1]} signs checkpoint 5" in str(
        finding
    )
    assert signer_finding(KeptCheckpoint(5, mark.root_hash, "", mark.key_id, b""), chain) is None
