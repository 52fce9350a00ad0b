"""Key rotation: the log hands over from one key to the next through a record the old key
signs, stays verifiable across it, and refuses what would break the chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from drorch.catalog import Catalog, models
from drorch.catalog import evidence as table
from drorch.errors import EvidenceError
from drorch.evidence.audit import audit
from drorch.evidence.keychain import ROTATION, chain_of
from drorch.evidence.log import EvidenceLog
from drorch.evidence.signing import key_id, load_private_key
from drorch.keys import rotate_evidence_key
from tests.unit.evidence.conftest import Clock, KeyPair, restore_test, write_key_pair


def _signers(catalog: Catalog) -> list[tuple[int, str, str]]:
    return [(r.seq, r.kind, r.key_id) for r in table.records(catalog)]


def test_rotation_hands_the_log_to_the_new_key(
    catalog: Catalog, keys: KeyPair, evidence: EvidenceLog
) -> None:
    evidence.append("restore-test", restore_test())
    old = evidence.key_id
    done = rotate_evidence_key(keys.private, catalog, "quarterly")
    new = key_id(load_private_key(keys.private).public_key())
    assert (done.old_key_id, done.new_key_id, done.seq) == (old, new, 2)
    assert key_id(load_private_key(done.retired).public_key()) == old
    assert not keys.private.with_name("evidence.ed25519.next").exists()
    after = EvidenceLog(catalog, keys.private, clock=Clock())
    after.append("restore-test", restore_test())
    assert _signers(catalog) == [
        (1, "restore-test", old),
        (2, ROTATION, old),  # the old key vouches for the new one
        (3, "restore-test", new),
    ]
    marks = {m.tree_size: m.key_id for m in table.checkpoints(catalog)}
    assert marks == {1: old, 2: new, 3: new}  # a checkpoint: the key of the record after it
    assert after.audit().damages == ()
    rotation = json.loads(table.record(catalog, 2).body)  # type: ignore[union-attr]
    assert (rotation["old_key_id"], rotation["new_key_id"], rotation["reason"]) == (
        old,
        new,
        "quarterly",
    )


def test_a_process_holding_the_old_key_follows_the_rotation(
    catalog: Catalog, keys: KeyPair, evidence: EvidenceLog
) -> None:
    evidence.append("restore-test", restore_test())
    rotate_evidence_key(keys.private, catalog, "r")
    evidence.append("restore-test", restore_test())  # like a daemon started before
    assert [k for _, _, k in _signers(catalog)][-1] == evidence.key_id
    assert evidence.audit().damages == ()


def test_a_key_rotation_record_comes_from_rotate_alone(evidence: EvidenceLog) -> None:
    with pytest.raises(EvidenceError, match="written by rotate"):
        evidence.append(ROTATION, {"new_key_id": "0" * 16})


def test_a_rotation_cut_short_is_finished_by_running_it_again(
    catalog: Catalog, keys: KeyPair, evidence: EvidenceLog, tmp_path: Path
) -> None:
    evidence.append("restore-test", restore_test())
    upcoming = keys.private.with_name("evidence.ed25519.next")
    upcoming.write_bytes(write_key_pair(tmp_path / "other").private.read_bytes())
    evidence.rotate(upcoming, "cut short")  # the record is in; the files were not swapped
    with pytest.raises(EvidenceError, match="the key file was replaced"):
        EvidenceLog(catalog, keys.private).append("restore-test", restore_test())
    done = rotate_evidence_key(keys.private, catalog, "again")
    assert done.seq == 2 and not upcoming.exists()
    EvidenceLog(catalog, keys.private).append("restore-test", restore_test())
    assert len(table.records(catalog)) == 3  # no second rotation record


def test_a_leftover_next_key_the_log_never_named_is_refused(
    catalog: Catalog, keys: KeyPair, evidence: EvidenceLog, tmp_path: Path
) -> None:
    evidence.append("restore-test", restore_test())
    upcoming = keys.private.with_name("evidence.ed25519.next")
    upcoming.write_bytes(write_key_pair(tmp_path / "other").private.read_bytes())
    with pytest.raises(EvidenceError, match="did not reach the log"):
        rotate_evidence_key(keys.private, catalog, "r")


def test_a_rotation_record_edited_to_name_another_key_is_caught(
    catalog: Catalog, keys: KeyPair, evidence: EvidenceLog, tmp_path: Path
) -> None:
    evidence.append("restore-test", restore_test())
    rotate_evidence_key(keys.private, catalog, "r")
    EvidenceLog(catalog, keys.private).append("restore-test", restore_test())
    row = table.record(catalog, 2)
    assert row is not None
    forged = json.loads(row.body)
    intruder = load_private_key(write_key_pair(tmp_path / "intruder").private).public_key()
    from drorch.evidence.keychain import rotation_fields

    forged.update(rotation_fields(intruder, intruder, "forged"))
    body = json.dumps(forged, sort_keys=True, separators=(",", ":"))
    with catalog.session() as session, session.begin():
        session.execute(
            update(models.EvidenceEntry).where(models.EvidenceEntry.seq == 2).values(body=body)
        )
    found = audit(table.view(catalog), load_private_key(keys.private).public_key())
    assert found.problem(2) == "its content does not match its hash: changed"
    with pytest.raises(EvidenceError, match="damaged"):
        EvidenceLog(catalog, keys.private).append("restore-test", restore_test())


def test_the_chain_names_who_signs_what(
    catalog: Catalog, keys: KeyPair, evidence: EvidenceLog
) -> None:
    for _ in range(2):
        evidence.append("restore-test", restore_test())
        rotate_evidence_key(keys.private, catalog, "r")
    lines = [r.body.encode() for r in table.records(catalog)]
    chain = chain_of(lines, first=load_private_key(keys.private).public_key())
    assert [(first, kid) for first, kid, _ in chain.links] == [
        (1, _signers(catalog)[0][2]),
        (3, _signers(catalog)[2][2]),
        (5, key_id(load_private_key(keys.private).public_key())),
    ]
    assert [chain.id_for(seq) for seq in range(1, 6)] == [k for _, _, k in _signers(catalog)] + [
        chain.current_id
    ]


def test_export_refuses_a_key_the_log_has_moved_on_from(
    catalog: Catalog, keys: KeyPair, evidence: EvidenceLog, tmp_path: Path
) -> None:
    from drorch.evidence.bundle import export

    evidence.append("restore-test", restore_test())
    upcoming = keys.private.with_name("evidence.ed25519.next")
    upcoming.write_bytes(write_key_pair(tmp_path / "other").private.read_bytes())
    evidence.rotate(upcoming, "cut short")
    with pytest.raises(EvidenceError, match="was cut short, run it again"):
        export(catalog, tmp_path / "bundle", key_path=keys.private)
    assert not (tmp_path / "bundle").exists()
    rotate_evidence_key(keys.private, catalog, "finish")
    export(catalog, tmp_path / "bundle", key_path=keys.private)
    assert (tmp_path / "bundle" / "manifest.json").is_file()
