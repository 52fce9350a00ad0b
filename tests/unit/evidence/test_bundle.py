from __future__ import annotations

import hashlib
import importlib.machinery
import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from drorch.catalog import Catalog
from drorch.catalog import evidence as table
from drorch.errors import DestinationNotEmpty, EvidenceError, UsageError
from drorch.evidence.bundle import export, verify
from drorch.evidence.canonical import canonical_bytes, utc_iso
from drorch.evidence.envelope import checkpoint_body
from drorch.evidence.log import EvidenceLog
from drorch.evidence.verify import (
    DELETED,
    INCONSISTENT,
    INSERTED,
    MODIFIED,
    REORDERED,
    TRUNCATED,
    WRONG_KEY,
    inclusion_line,
)
from tests.unit.evidence.conftest import START, KeyPair, restore_test, write_key_pair


@pytest.fixture
def six(evidence: EvidenceLog) -> list[table.EvidenceRecord]:
    return [evidence.append("restore-test", restore_test(n=i)) for i in range(6)]


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_a_bundle_holds_the_exact_records_and_verifies(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "bundle", key_path=keys.private)
    assert (out / "records.jsonl").read_bytes() == b"".join(r.body.encode() + b"\n" for r in six)
    assert (out / "public_key.pem").read_bytes() == keys.public.read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    newest = table.checkpoints(catalog)[-1]
    assert manifest["checkpoint"] == {"tree_size": 6, "root_hash": newest.root_hash}
    assert (manifest["first_seq"], manifest["last_seq"], manifest["records"]) == (1, 6, 6)
    assert (
        manifest["files"]["records.jsonl"]
        == hashlib.sha256((out / "records.jsonl").read_bytes()).hexdigest()
    )
    proofs = [json.loads(line) for line in lines(out / "proofs.jsonl")]
    assert [p["seq"] for p in proofs] == [1, 2, 3, 4, 5, 6]
    assert all(p["tree_size"] == 6 and len(p["path"]) <= 3 for p in proofs)
    result = verify(out, keys.public)
    assert result.ok and result.problem is None
    assert (result.records, result.first_seq, result.last_seq, result.tree_size) == (1 * 6, 1, 6, 6)
    assert result.message() == (
        f"verified: records 1–6 (6) of checkpoint 6, signed by key {result.key_id}\n"
        f"  checkpoint 6: root {newest.root_hash}\n"
        "  every record of that tree is in this bundle"
    )


def test_since_and_until_pick_a_gapless_span(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private, since=six[2].at, until=six[4].at)
    assert [json.loads(line)["seq"] for line in lines(out / "records.jsonl")] == [3, 4, 5]
    result = verify(out, keys.public)
    assert result.ok and (result.first_seq, result.last_seq, result.tree_size) == (3, 5, 6)
    assert result.left_out() == [(1, 2), (6, 6)]
    assert result.message().splitlines()[2] == (
        "  records 1–2 and 6 of that tree are not in this bundle"
    )
    empty = export(
        catalog, tmp_path / "none", key_path=keys.private, since=START.replace(year=2030)
    )
    assert (empty / "records.jsonl").read_bytes() == b""
    result = verify(empty, keys.public)
    assert result.ok and result.records == 0
    assert result.message().startswith("verified: no records (checkpoint only) of checkpoint 6")
    assert "  records 1–6 of that tree are not in this bundle" in result.message()


def test_export_refuses_a_non_empty_folder_and_an_empty_log(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    with pytest.raises(EvidenceError, match="the evidence log is empty"):
        export(catalog, tmp_path / "b", key_path=keys.private)
    evidence.append("restore-test", restore_test())
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(DestinationNotEmpty, match="is not empty") as caught:
        export(catalog, busy, key_path=keys.private)
    assert caught.value.exit_code == 2
    (tmp_path / "empty").mkdir()
    export(catalog, tmp_path / "empty", key_path=keys.private)


def test_a_consistency_proof_from_the_auditors_earlier_checkpoint(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    for i in range(3):
        evidence.append("restore-test", restore_test(n=i))
    first = export(catalog, tmp_path / "first", key_path=keys.private)
    for i in range(4):
        evidence.append("restore-test", restore_test(n=i))
    second = export(
        catalog,
        tmp_path / "second",
        key_path=keys.private,
        since=START.replace(year=2030),
        from_checkpoint=first / "checkpoints.jsonl",
    )
    assert len(lines(second / "checkpoints.jsonl")) == 2
    assert json.loads(lines(second / "proofs.jsonl")[-1])["type"] == "consistency"
    result = verify(second, keys.public)
    assert result.ok and (result.from_size, result.tree_size) == (3, 7)
    assert result.from_root == table.checkpoint(catalog, 3).root_hash  # type: ignore[union-attr]
    assert result.message().endswith(
        f"  it extends checkpoint 3 (root {result.from_root}), by the bundle's consistency proof"
    )


def test_a_log_rewritten_after_the_auditor_accepted_it_is_inconsistent(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    # A checkpoint signed with the log's own key over another history of 4 records.
    key = serialization.load_pem_private_key(keys.private.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    key_id = json.loads(six[0].body)["key_id"]
    body = checkpoint_body(tree_size=4, root_hash="ab" * 32, at=utc_iso(START), key_id=key_id)
    accepted = tmp_path / "accepted.jsonl"
    accepted.write_bytes(
        canonical_bytes({**json.loads(body), "signature": key.sign(body).hex()}) + b"\n"
    )
    out = export(catalog, tmp_path / "b", key_path=keys.private, from_checkpoint=accepted)
    problem = verify(out, keys.public).problem
    assert problem is not None and problem.what == INCONSISTENT
    assert "not proven to extend checkpoint 4" in problem.detail


def test_an_earlier_checkpoint_must_be_one_this_key_signed(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus"
    bogus.write_text("hello\n")
    with pytest.raises(UsageError, match="does not hold a drorch checkpoint line"):
        export(catalog, tmp_path / "a", key_path=keys.private, from_checkpoint=bogus)
    first = export(catalog, tmp_path / "first", key_path=keys.private)
    other = write_key_pair(tmp_path / "other")
    with pytest.raises(UsageError, match=r"signed by key [0-9a-f]{16}, not by this log's key"):
        export(
            catalog,
            tmp_path / "b",
            key_path=other.private,
            from_checkpoint=first / "checkpoints.jsonl",
        )


def test_verify_with_another_key_fails(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    other = write_key_pair(tmp_path / "other")
    result = verify(out, other.public)
    assert not result.ok and result.problem is not None
    assert result.problem.what == WRONG_KEY
    assert result.message().startswith(
        "NOT VERIFIED: bundle: signed by another key: manifest.json names key "
    )


def test_a_record_re_signed_by_another_key_is_named(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    other = Ed25519PrivateKey.generate()
    raw = other.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    record = {k: v for k, v in six[2].data.items() if k not in ("hash", "signature", "key_id")}
    digest = hashlib.sha256(canonical_bytes(record)).digest()
    forged = {
        **record,
        "hash": digest.hex(),
        "signature": other.sign(digest).hex(),
        "key_id": hashlib.sha256(raw).hexdigest()[:16],
    }
    rows = lines(out / "records.jsonl")
    rows[2] = canonical_bytes(forged) + b"\n"
    (out / "records.jsonl").write_bytes(b"".join(rows))
    problem = verify(out, keys.public).problem
    assert problem is not None and (problem.seq, problem.what) == (3, WRONG_KEY)


@pytest.mark.parametrize(
    ("tamper", "seq", "what", "detail"),
    [
        ("modify", 4, MODIFIED, "its content does not match its hash"),
        ("delete", 3, DELETED, "it is missing: line 3 holds record 4"),
        ("duplicate", 2, INSERTED, "a second copy of record 2 at line 3"),
        ("swap", 3, REORDERED, "found where record 2 belongs (which is at line 3)"),
        ("cut-line", 6, TRUNCATED, "it is missing: the manifest lists 6 records"),
        ("cut-bytes", 6, TRUNCATED, "its line is empty or does not end: the file was cut"),
    ],
)
def test_the_first_bad_record_is_named_with_what_happened(
    six: list[table.EvidenceRecord],
    catalog: Catalog,
    keys: KeyPair,
    tmp_path: Path,
    tamper: str,
    seq: int,
    what: str,
    detail: str,
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    path = out / "records.jsonl"
    rows = lines(path)
    if tamper == "modify":
        rows[3] = rows[3].replace(b'"result":"pass"', b'"result":"PASS"')
    elif tamper == "delete":
        del rows[2]
    elif tamper == "duplicate":
        rows.insert(1, rows[1])
    elif tamper == "swap":
        rows[1], rows[2] = rows[2], rows[1]
    elif tamper == "cut-line":
        rows.pop()
    else:
        rows[-1] = rows[-1][:-30]
    path.write_bytes(b"".join(rows))
    problem = verify(out, keys.public).problem
    assert problem is not None
    assert (problem.seq, problem.what) == (seq, what)
    assert problem.detail.startswith(detail)
    assert str(problem).startswith(f"record {seq}: {what}: ")


def test_a_hand_edited_catalog_is_named_by_the_next_export(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    edited = six[3].body.replace('"result":"pass"', '"result":"fail"')
    with catalog.engine.begin() as connection:
        connection.execute(
            text("UPDATE evidence_records SET body = :b WHERE seq = 4"), {"b": edited}
        )
        connection.execute(text("DELETE FROM evidence_records WHERE seq = 6"))
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    problem = verify(out, keys.public).problem
    assert problem is not None and (problem.seq, problem.what) == (4, MODIFIED)


def test_other_files_are_checked_too(
    six: list[table.EvidenceRecord], catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    for name, expected in [
        ("manifest.json", "bundle: deleted: manifest.json is missing"),
        ("proofs.jsonl", "bundle: deleted: proofs.jsonl is missing"),
        ("public_key.pem", "bundle: deleted: public_key.pem is missing"),
    ]:
        copy = tmp_path / f"copy-{name}"
        shutil.copytree(out, copy)
        (copy / name).unlink()
        problem = verify(copy, keys.public).problem
        assert str(problem).startswith(expected)
    other = write_key_pair(tmp_path / "other")
    shutil.copy(other.public, out / "public_key.pem")
    assert str(verify(out, keys.public).problem).startswith(
        "bundle: signed by another key: the bundle's public_key.pem is not the key given"
    )


def test_verify_refuses_what_is_not_a_bundle_or_a_key(keys: KeyPair, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a folder holding an evidence bundle"):
        verify(tmp_path / "nowhere", keys.public)
    with pytest.raises(UsageError, match="cannot read the public key"):
        verify(tmp_path, tmp_path / "missing.pem")
    with pytest.raises(UsageError, match="is not a PEM public key"):
        verify(tmp_path, keys.private)


def test_the_report_hook_renders_report_html_when_the_module_exists(
    six: list[table.EvidenceRecord],
    catalog: Catalog,
    keys: KeyPair,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def render_report(records: list[dict[str, Any]], checkpoint: dict[str, Any]) -> str:
        seen.update(records=records, checkpoint=checkpoint)
        return "<!doctype html><title>evidence</title>"

    module = types.ModuleType("drorch.evidence.report")
    module.__spec__ = importlib.machinery.ModuleSpec("drorch.evidence.report", None)
    module.render_report = render_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "drorch.evidence.report", module)
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    assert (out / "report.html").read_text() == "<!doctype html><title>evidence</title>"
    assert seen["records"] == [r.data for r in six]
    newest = table.checkpoints(catalog)[-1]
    assert seen["checkpoint"] == {**json.loads(newest.body), "signature": newest.signature}
    assert verify(out, keys.public).ok
    (out / "report.html").write_text("<p>all passed</p>")
    assert str(verify(out, keys.public).problem) == (
        "bundle: modified: report.html does not match the manifest's hash (report.html)"
    )


def test_proof_lines_are_canonical_json() -> None:
    path = [bytes([i]) * 32 for i in range(3)]
    assert inclusion_line(7, 12, b"\xab" * 32, path) == canonical_bytes(
        {
            "type": "inclusion",
            "seq": 7,
            "tree_size": 12,
            "leaf_hash": "ab" * 32,
            "path": [node.hex() for node in path],
        }
    )


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_worker_processes_give_the_same_verdicts(
    six: list[table.EvidenceRecord],
    evidence: EvidenceLog,
    catalog: Catalog,
    keys: KeyPair,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
) -> None:
    import multiprocessing

    from drorch.evidence import examine

    monkeypatch.setattr(examine, "PARALLEL_FROM", 2)
    monkeypatch.setattr(examine.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(examine, "_context", lambda: multiprocessing.get_context(method))
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    assert verify(out, keys.public).ok
    rows = lines(out / "records.jsonl")
    rows[4] = rows[4].replace(b'"n":4', b'"n":5')
    (out / "records.jsonl").write_bytes(b"".join(rows))
    problem = verify(out, keys.public).problem
    assert problem is not None and (problem.seq, problem.what) == (5, MODIFIED)
    assert evidence.self_check() is None
    with catalog.engine.begin() as connection:
        connection.execute(
            text("UPDATE evidence_records SET body = :b WHERE seq = 3"),
            {"b": six[2].body.replace('"n":2', '"n":9')},
        )
    assert evidence.self_check() == 3
