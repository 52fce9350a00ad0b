"""verify --since-checkpoint: a bundle is held to the checkpoint the auditor kept, and
`evidence checkpoint`'s line is the one to keep. Real logs, real keys, real bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.catalog import Catalog, open_catalog
from drorch.catalog import evidence as table
from drorch.errors import EvidenceError, UsageError
from drorch.evidence.bundle import export, newest_checkpoint, verify
from drorch.evidence.canonical import canonical_bytes
from drorch.evidence.envelope import checkpoint_line
from drorch.evidence.log import EvidenceLog
from drorch.evidence.verify import INCONSISTENT, TRUNCATED, UNPROVEN, VerifyResult
from tests.unit.evidence.conftest import Clock, KeyPair, restore_test, write_key_pair


def grow(log: EvidenceLog, count: int, job: str = "payroll") -> None:
    for i in range(count):
        log.append("restore-test", restore_test(job=job, n=i))


def keep(catalog: Catalog, keys: KeyPair, path: Path) -> Path:
    """What an auditor does with `drorch evidence checkpoint`."""
    path.write_bytes(newest_checkpoint(catalog, keys.private).line + b"\n")
    return path


def refused(result: VerifyResult, what: str) -> str:
    assert not result.ok and result.problem is not None, result.message()
    assert result.problem.what == what, str(result.problem)
    return str(result.problem)


def test_newest_checkpoint_is_the_signed_line_a_bundle_carries(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    with pytest.raises(EvidenceError, match="no checkpoint to keep yet"):
        newest_checkpoint(catalog, keys.private)
    grow(evidence, 5)
    mark = newest_checkpoint(catalog, keys.private)
    stored = table.checkpoints(catalog)[-1]
    assert mark.line == checkpoint_line(stored.body, stored.signature)
    assert (mark.tree_size, mark.root_hash, mark.key_id) == (5, stored.root_hash, stored.key_id)
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    assert (out / "checkpoints.jsonl").read_bytes() == mark.line + b"\n"


def test_newest_checkpoint_is_refused_over_a_damaged_log(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    grow(evidence, 4)
    other = write_key_pair(tmp_path / "other")
    with pytest.raises(EvidenceError, match=r"checkpoint 4 is not signed by the evidence key"):
        newest_checkpoint(catalog, other.private)
    body = table.record(catalog, 2).body  # type: ignore[union-attr]
    with catalog.engine.begin() as connection:
        connection.execute(
            text("UPDATE evidence_records SET body = :b WHERE seq = 2"),
            {"b": body.replace('"n":1', '"n":7')},
        )
    with pytest.raises(EvidenceError, match=r"checkpoint 4 is not the root of the log's records"):
        newest_checkpoint(catalog, keys.private)
    with catalog.engine.begin() as connection:
        connection.execute(text("DELETE FROM evidence_records WHERE seq = 3"))
    with pytest.raises(EvidenceError, match="covers record 3, which is missing"):
        newest_checkpoint(catalog, keys.private)


def test_a_bundle_that_extends_the_kept_checkpoint_verifies_and_says_so(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    grow(evidence, 5)
    kept = keep(catalog, keys, tmp_path / "kept.jsonl")
    same = export(catalog, tmp_path / "same", key_path=keys.private)
    result = verify(same, keys.public, since_checkpoint=kept)
    assert result.ok and result.kept is not None and result.kept.tree_size == 5
    assert result.message().endswith(
        f"  it is the checkpoint you kept: 5 (root {result.root_hash})"
    )
    grow(evidence, 7)
    out = export(catalog, tmp_path / "b", key_path=keys.private, from_checkpoint=kept)
    result = verify(out, keys.public, since_checkpoint=kept)
    assert result.ok, result.message()
    assert (result.from_size, result.tree_size) == (5, 12)
    assert result.message().endswith(
        f"  it extends the checkpoint you kept: 5 (root {result.kept.root_hash}) → 12 "  # type: ignore[union-attr]
        f"(root {result.root_hash})"
    )
    # the kept file may be an earlier bundle's checkpoints.jsonl (its last line) or --json
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(kept.read_bytes()), indent=2))
    for anchor in (same / "checkpoints.jsonl", out / "checkpoints.jsonl", pretty):
        assert verify(out, keys.public, since_checkpoint=anchor).ok


def test_a_fake_checkpoint_5_signed_with_the_same_key_is_refused_against_the_kept_one(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    grow(evidence, 5)
    kept = keep(catalog, keys, tmp_path / "kept.jsonl")
    # The key holder rewrites history: another log, the same key, its own checkpoint 5.
    rewritten = open_catalog(None, tmp_path / "rewritten")
    forger = EvidenceLog(rewritten, keys.private, host="node1", clock=Clock())
    grow(forger, 5, job="forged")
    fake = keep(rewritten, keys, tmp_path / "fake-5.jsonl")
    fake_root = json.loads(fake.read_bytes())["root_hash"]
    real_root = json.loads(kept.read_bytes())["root_hash"]
    assert fake_root != real_root
    five = export(rewritten, tmp_path / "five", key_path=keys.private)
    grow(forger, 3, job="forged")
    forged = export(rewritten, tmp_path / "forged", key_path=keys.private, from_checkpoint=fake)
    alone = verify(forged, keys.public)
    assert alone.ok and alone.from_size == 5  # what exit 0 used to mean
    detail = refused(verify(forged, keys.public, since_checkpoint=kept), INCONSISTENT)
    assert detail == (
        f"bundle: inconsistent: the bundle proves this bundle's checkpoint 8 (root "
        f"{alone.root_hash}) extends a checkpoint 5 with root {fake_root}, but the checkpoint 5 "
        f"you kept has root {real_root}: records 1–5 were rewritten and signed again since you "
        "kept it (proofs.jsonl)"
    )
    message = verify(forged, keys.public, since_checkpoint=kept).message()
    assert message.splitlines()[1] == (
        f"  the checkpoint you kept: 5 (root {real_root}); the bundle's: 8 (root {alone.root_hash})"
    )
    # the forged log's own bundle at the kept size: same size, another root
    detail = refused(verify(five, keys.public, since_checkpoint=kept), INCONSISTENT)
    assert detail == (
        f"bundle: inconsistent: you kept checkpoint 5 with root {real_root}, this bundle's "
        f"checkpoint 5 (root {fake_root}) has another root: the log was rewritten and signed "
        "again since you kept it (checkpoints.jsonl)"
    )


def test_a_bundle_without_a_proof_from_the_kept_checkpoint_is_unproven(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    grow(evidence, 3)
    older = keep(catalog, keys, tmp_path / "older.jsonl")
    grow(evidence, 2)
    kept = keep(catalog, keys, tmp_path / "kept.jsonl")
    grow(evidence, 4)
    plain = export(catalog, tmp_path / "plain", key_path=keys.private)
    detail = refused(verify(plain, keys.public, since_checkpoint=kept), UNPROVEN)
    assert detail.startswith(
        "bundle: unproven: the bundle holds no consistency proof from the checkpoint you kept, "
        "checkpoint 5 (root "
    )
    assert "to this bundle's checkpoint 9 (root " in detail
    assert "`drorch evidence export --from-checkpoint`" in detail
    other = export(catalog, tmp_path / "other", key_path=keys.private, from_checkpoint=older)
    detail = refused(verify(other, keys.public, since_checkpoint=kept), UNPROVEN)
    assert detail.startswith(
        "bundle: unproven: the bundle's consistency proof starts at checkpoint 3, not at the "
        "one you kept, checkpoint 5"
    )


def test_a_kept_checkpoint_bigger_than_the_bundles_is_refused(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    grow(evidence, 3)
    old = export(catalog, tmp_path / "old", key_path=keys.private)
    grow(evidence, 3)
    kept = keep(catalog, keys, tmp_path / "kept.jsonl")
    detail = refused(verify(old, keys.public, since_checkpoint=kept), TRUNCATED)
    assert detail.startswith("bundle: truncated: the checkpoint you kept covers 6 records (root ")
    assert "this bundle's checkpoint 3 (root " in detail
    assert detail.endswith(
        "only 3: the log was cut back since, or this bundle is older than your checkpoint "
        "(checkpoints.jsonl)"
    )


def test_the_kept_checkpoint_must_be_signed_by_the_trusted_key(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    grow(evidence, 3)
    out = export(catalog, tmp_path / "b", key_path=keys.private)
    kept = keep(catalog, keys, tmp_path / "kept.jsonl")
    line = json.loads(kept.read_bytes())
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(canonical_bytes({**line, "root_hash": "ab" * 32}) + b"\n")
    with pytest.raises(UsageError, match="the signature of checkpoint 3 does not verify with the"):
        verify(out, keys.public, since_checkpoint=edited)
    foreign = open_catalog(None, tmp_path / "foreign")
    other = write_key_pair(tmp_path / "other")
    grow(EvidenceLog(foreign, other.private, host="x", clock=Clock()), 1)
    theirs = keep(foreign, other, tmp_path / "theirs.jsonl")
    with pytest.raises(UsageError, match="not by the key you trust"):
        verify(out, keys.public, since_checkpoint=theirs)
    junk = tmp_path / "junk"
    junk.write_text("[1, 2]\n")
    with pytest.raises(UsageError, match="does not hold a drorch checkpoint line"):
        verify(out, keys.public, since_checkpoint=junk)
    with pytest.raises(UsageError, match="cannot read the checkpoint"):
        verify(out, keys.public, since_checkpoint=tmp_path / "nothing")


def test_export_warns_when_the_log_does_not_give_the_accepted_root(
    evidence: EvidenceLog,
    catalog: Catalog,
    keys: KeyPair,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    grow(evidence, 5)
    rewritten = open_catalog(None, tmp_path / "rewritten")
    grow(EvidenceLog(rewritten, keys.private, host="node1", clock=Clock()), 6, job="forged")
    kept = keep(catalog, keys, tmp_path / "kept.jsonl")
    out = export(rewritten, tmp_path / "b", key_path=keys.private, from_checkpoint=kept)
    assert "do not give the root of the checkpoint you accepted" in caplog.text
    refused(verify(out, keys.public), INCONSISTENT)
