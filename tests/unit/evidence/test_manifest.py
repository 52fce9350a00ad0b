"""The signed manifest: every edit of what a bundle claims to hold is caught and named,
on real exported bundles; the key holder's own re-signed claims are held to the records."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drorch.catalog import Catalog
from drorch.catalog import evidence as table
from drorch.evidence.bundle import export, verify
from drorch.evidence.canonical import canonical_bytes
from drorch.evidence.log import EvidenceLog
from drorch.evidence.verify import (
    DELETED,
    INSERTED,
    MODIFIED,
    TRUNCATED,
    UNSIGNED,
    WRONG_KEY,
    VerifyResult,
)
from tests.unit.evidence.conftest import START, KeyPair, restore_test, write_key_pair

SIGNATURE_BROKEN = (
    "bundle: modified: manifest.json's signature does not verify with key {key}: the range, "
    "filters, checkpoint or file hashes it claims were changed after it was signed "
    "(it now claims {claim}) (manifest.json)"
)


@pytest.fixture
def twelve(evidence: EvidenceLog) -> list[table.EvidenceRecord]:
    return [evidence.append("restore-test", restore_test(n=i)) for i in range(12)]


def manifest_of(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return loaded


def edit_manifest(out: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the manifest as someone without the key can: the signature stays, and the
    file hashes are recomputed to match the files as they are now."""
    manifest = manifest_of(out)
    change(manifest)
    for name in manifest["files"]:
        if (out / name).exists():
            manifest["files"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def resign(out: Path, keys: KeyPair) -> None:
    """What only the key holder can do: sign the manifest as it is now."""
    key = serialization.load_pem_private_key(keys.private.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    manifest = manifest_of(out)
    del manifest["signature"]
    manifest["signature"] = key.sign(canonical_bytes(manifest)).hex()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def rows(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def failed(out: Path, keys: KeyPair, **kwargs: Any) -> VerifyResult:
    result = verify(out, keys.public, **kwargs)
    assert not result.ok, result.message()
    assert result.problem is not None
    return result


def test_the_manifest_is_signed_over_its_canonical_json(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private, since=twelve[3].at)
    manifest = manifest_of(out)
    assert manifest["format"] == "drorch-evidence-bundle/2"
    assert (manifest["first_seq"], manifest["last_seq"], manifest["records"]) == (4, 12, 9)
    assert (manifest["since"], manifest["until"], manifest["from_checkpoint"]) == (
        twelve[3].data["at"],
        None,
        None,
    )
    assert manifest["key_id"] == twelve[0].key_id
    assert set(manifest["files"]) == {
        "records.jsonl",
        "checkpoints.jsonl",
        "proofs.jsonl",
        "public_key.pem",
        "report.html",
    }
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    public = serialization.load_pem_public_key(keys.public.read_bytes())
    signature = bytes.fromhex(manifest.pop("signature"))
    public.verify(signature, canonical_bytes(manifest))  # type: ignore[union-attr]
    result = verify(out, keys.public)
    assert result.ok, result.message()
    assert result.left_out() == [(1, 3)]
    assert result.message().splitlines()[:3] == [
        f"verified: records 4–12 (9) of checkpoint 12, signed by key {manifest['key_id']}",
        f"  checkpoint 12: root {manifest['checkpoint']['root_hash']}",
        "  records 1–3 of that tree are not in this bundle",
    ]


def test_cutting_the_last_record_and_its_proof_and_fixing_the_manifest_is_caught(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    for name in ("records.jsonl", "proofs.jsonl"):
        (out / name).write_bytes(b"".join(rows(out / name)[:-1]))
    edit_manifest(out, lambda m: m.update(last_seq=11, records=11))
    problem = failed(out, keys).problem
    assert str(problem) == SIGNATURE_BROKEN.format(
        key=twelve[0].key_id, claim="records 1–11 of checkpoint 12"
    )
    # without the manifest fixed, the missing record is named
    copy = tmp_path / "unfixed"
    export(catalog, copy, key_path=keys.private)
    for name in ("records.jsonl", "proofs.jsonl"):
        (copy / name).write_bytes(b"".join(rows(copy / name)[:-1]))
    problem = failed(copy, keys).problem
    assert problem is not None and (problem.seq, problem.what) == (12, TRUNCATED)
    # what the key holder alone can do is an --until export, and verify says so
    resign(out, keys)
    problem = failed(out, keys).problem
    assert str(problem) == (
        "record 12: truncated: it is missing: exported without --since or --until, the bundle "
        "must hold every record of checkpoint 12, yet it ends at 11 (records.jsonl)"
    )
    edit_manifest(out, lambda m: m.update(until=twelve[10].data["at"]))
    resign(out, keys)
    result = verify(out, keys.public)
    assert result.ok
    assert "  record 12 of that tree is not in this bundle" in result.message()


def test_deleting_record_1_is_caught_with_or_without_the_manifest_fixed(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    fixed = tmp_path / "fixed"
    shutil.copytree(out, fixed)
    for folder in (out, fixed):
        for name in ("records.jsonl", "proofs.jsonl"):
            (folder / name).write_bytes(b"".join(rows(folder / name)[1:]))
    problem = failed(out, keys).problem
    assert str(problem) == (
        "record 1: deleted: it is missing: line 1 holds record 2 (records.jsonl line 1)"
    )
    edit_manifest(fixed, lambda m: m.update(first_seq=2, records=11))
    problem = failed(fixed, keys).problem
    assert str(problem) == SIGNATURE_BROKEN.format(
        key=twelve[0].key_id, claim="records 2–12 of checkpoint 12"
    )
    resign(fixed, keys)  # the key holder's claim is held to the filters it names
    problem = failed(fixed, keys).problem
    assert str(problem) == (
        "record 1: deleted: it is missing: exported without --since or --until, the bundle "
        "must hold every record of checkpoint 12, yet it starts at 2 (records.jsonl)"
    )


def test_dropping_the_consistency_proof_is_caught(
    twelve: list[table.EvidenceRecord],
    evidence: EvidenceLog,
    catalog: Catalog,
    keys: KeyPair,
    tmp_path: Path,
) -> None:
    first = export(catalog, tmp_path / "first", key_path=keys.private)
    evidence.append("restore-test", restore_test(n=12))
    out = export(
        catalog, tmp_path / "b", key_path=keys.private, from_checkpoint=first / "checkpoints.jsonl"
    )
    assert verify(out, keys.public).ok
    fixed = tmp_path / "fixed"
    for name in ("proofs.jsonl",):
        (out / name).write_bytes(b"".join(rows(out / name)[:-1]))
    shutil.copytree(out, fixed)
    problem = failed(out, keys).problem
    assert problem is not None and problem.what == DELETED
    assert str(problem) == (
        "bundle: deleted: the consistency proof from checkpoint 12 that the manifest claims "
        "is missing (proofs.jsonl)"
    )
    edit_manifest(fixed, lambda m: m.update(from_checkpoint=None))
    problem = failed(fixed, keys).problem
    assert problem is not None and problem.what == MODIFIED
    assert "manifest.json's signature does not verify" in problem.detail


def test_editing_report_html_is_caught_with_or_without_its_hash_fixed(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    report = out / "report.html"
    report.write_text(report.read_text().replace("FAIL", "PASS").replace("fail", "pass") + " ")
    problem = failed(out, keys).problem
    assert str(problem) == (
        "bundle: modified: report.html does not match the manifest's hash (report.html)"
    )
    edit_manifest(out, lambda m: None)  # its hash recomputed
    assert (
        manifest_of(out)["files"]["report.html"] == hashlib.sha256(report.read_bytes()).hexdigest()
    )
    problem = failed(out, keys).problem
    assert str(problem) == SIGNATURE_BROKEN.format(
        key=twelve[0].key_id, claim="records 1–12 of checkpoint 12"
    )


@pytest.mark.parametrize(
    ("field", "value", "claim"),
    [
        ("first_seq", 3, "records 3–12 of checkpoint 12"),
        ("last_seq", 10, "records 1–10 of checkpoint 12"),
        ("records", 10, "records 1–12 of checkpoint 12"),
        ("until", "2026-11-28T12:05:00.000000Z", "records 1–12 of checkpoint 12"),
    ],
)
def test_editing_the_manifests_range_or_filters_is_caught(
    twelve: list[table.EvidenceRecord],
    catalog: Catalog,
    keys: KeyPair,
    tmp_path: Path,
    field: str,
    value: object,
    claim: str,
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    edit_manifest(out, lambda m: m.update({field: value}))
    problem = failed(out, keys).problem
    assert str(problem) == SIGNATURE_BROKEN.format(key=twelve[0].key_id, claim=claim)


def test_a_manifest_without_its_signature_is_refused(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    edit_manifest(out, lambda m: m.pop("signature"))
    problem = failed(out, keys).problem
    assert problem is not None and problem.what == UNSIGNED
    assert str(problem) == (
        "bundle: unsigned: manifest.json carries no signature: the range, checkpoint and file "
        "hashes it claims are not proven (its signature was removed) (manifest.json)"
    )


def test_a_manifest_signed_by_another_key_is_named(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    other = write_key_pair(tmp_path / "other")
    own_id = twelve[0].key_id
    edit_manifest(out, lambda m: m.update(key_id="0123456789abcdef"))
    resign(out, other)
    problem = failed(out, keys).problem
    assert problem is not None and problem.what == WRONG_KEY
    assert (
        problem.detail == f"manifest.json names key '0123456789abcdef', the key given is {own_id}"
    )


def test_a_format_1_bundle_is_refused_with_what_to_do(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)

    def as_format_1(manifest: dict[str, Any]) -> None:
        manifest.update(format="drorch-evidence-bundle/1")
        del manifest["signature"]

    edit_manifest(out, as_format_1)
    problem = failed(out, keys).problem
    assert problem is not None and problem.what == UNSIGNED
    assert problem.detail.startswith(
        "manifest.json is of format drorch-evidence-bundle/1, which is not signed: the range, "
        "proofs and files it claims cannot be proven. Ask for the bundle again"
    )
    # its checkpoints.jsonl still serves as the checkpoint an auditor kept
    later = export(
        catalog,
        tmp_path / "later",
        key_path=keys.private,
        from_checkpoint=out / "checkpoints.jsonl",
    )
    assert verify(later, keys.public, since_checkpoint=out / "checkpoints.jsonl").ok


def test_a_file_added_to_the_bundle_is_named(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    (out / "report-corrected.html").write_text("<p>all passed</p>")
    problem = failed(out, keys).problem
    assert problem is not None and problem.what == INSERTED
    assert problem.detail == (
        "the bundle holds report-corrected.html, which its signed manifest does not list: it "
        "was added after the export"
    )


def test_the_key_holder_cannot_sign_a_range_the_records_do_not_hold(
    twelve: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private, since=START)
    for name in ("records.jsonl", "proofs.jsonl"):
        (out / name).write_bytes(b"".join(rows(out / name)[:-1]))
    edit_manifest(out, lambda m: None)  # hashes fixed, the range still claims 1–12
    resign(out, keys)
    problem = failed(out, keys).problem
    assert problem is not None and (problem.seq, problem.what) == (12, TRUNCATED)
    assert problem.detail.startswith("it is missing: the manifest lists 12 records")
