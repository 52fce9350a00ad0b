from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text

from drorch.catalog import Catalog
from drorch.catalog import evidence as table
from drorch.catalog.locks import Owner, acquire, release
from drorch.errors import EvidenceError, EvidenceKeyError, LockBusy
from drorch.evidence.canonical import canonical_bytes
from drorch.evidence.envelope import RESERVED
from drorch.evidence.log import WRITER_LOCK, EvidenceLog
from drorch.evidence.merkle import Tree, leaf_hash
from tests.unit.evidence.conftest import START, Clock, KeyPair, restore_test, write_key_pair


def public_key(keys: KeyPair) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(keys.public.read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    return key


def sql(catalog: Catalog, statement: str, **params: object) -> None:
    with catalog.engine.begin() as connection:
        connection.execute(text(statement), params)


def test_a_record_is_its_fields_plus_a_signed_envelope(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair
) -> None:
    record = evidence.append("restore-test", restore_test())
    data = json.loads(record.body)
    assert record.body.encode() == canonical_bytes(data)
    assert data["seq"] == record.seq == 1
    assert data["prev"] == "0" * 64
    assert data["kind"] == record.kind == "restore-test"
    assert data["host"] == "node1"
    assert data["at"] == "2026-11-28T12:01:00.000000Z" and record.at == START.replace(minute=1)
    assert re.fullmatch(r"[0-9a-f-]{36}", data["id"]) and data["id"] == record.id
    assert data["result"] == "pass" and data["rto"] == {"target_s": 14400, "projected_s": 312.5}
    assert (record.job, data["job"]) == ("payroll", "payroll")
    # hash: SHA-256 of the canonical record without its seals
    unsealed = {k: v for k, v in data.items() if k not in ("hash", "signature", "key_id")}
    digest = hashlib.sha256(canonical_bytes(unsealed)).digest()
    assert data["hash"] == record.hash == digest.hex()
    # signature: Ed25519 over the 32 bytes of the hash; key_id from the raw public key
    key = public_key(keys)
    key.verify(bytes.fromhex(data["signature"]), digest)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert data["key_id"] == evidence.key_id == hashlib.sha256(raw).hexdigest()[:16]
    assert table.record(catalog, 1) == record


def test_records_chain_gaplessly_under_a_checkpoint_per_append(
    evidence: EvidenceLog, catalog: Catalog, keys: KeyPair
) -> None:
    records = [evidence.append("restore-test", restore_test(n=i)) for i in range(5)]
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(records):
        assert after.data["prev"] == before.hash
    marks = table.checkpoints(catalog)
    assert [m.tree_size for m in marks] == [1, 2, 3, 4, 5]
    tree = Tree([leaf_hash(r.body.encode()) for r in records])
    key = public_key(keys)
    for mark in marks:
        body = json.loads(mark.body)
        assert body == {
            "format": "drorch-checkpoint/1",
            "tree_size": mark.tree_size,
            "root_hash": tree.root(mark.tree_size).hex(),
            "at": body["at"],
            "key_id": evidence.key_id,
        }
        assert mark.root_hash == body["root_hash"]
        key.verify(bytes.fromhex(mark.signature), mark.body.encode())


def test_append_many_writes_one_checkpoint_for_the_batch(
    evidence: EvidenceLog, catalog: Catalog
) -> None:
    evidence.append("key-change", {"actor": "ops"})
    batch = evidence.append_many([("replication", {"job": f"j{i}"}) for i in range(4)])
    assert [r.seq for r in batch] == [2, 3, 4, 5]
    assert [m.tree_size for m in table.checkpoints(catalog)] == [1, 5]
    assert evidence.append_many([]) == []
    assert evidence.self_check() is None


def test_two_writers_take_turns_and_keep_the_chain(
    catalog: Catalog, keys: KeyPair, clock: Clock
) -> None:
    first = EvidenceLog(catalog, keys.private, clock=clock)
    second = EvidenceLog(catalog, keys.private, clock=clock)
    first.append("restore-test", restore_test())
    second.append("restore-test", restore_test())  # rebuilds its view of the log's end
    third = first.append("restore-test", restore_test())  # its cached end is stale
    assert third.seq == 3
    assert third.data["prev"] == table.record(catalog, 2).hash  # type: ignore[union-attr]
    assert first.self_check() is None


def test_the_writer_lock_is_waited_for_then_refused(
    catalog: Catalog, keys: KeyPair, clock: Clock
) -> None:
    other = Owner(host="elsewhere", pid=4242, pid_started=1.0)
    held = acquire(
        catalog,
        WRITER_LOCK,
        other,
        lease=timedelta(minutes=2),
        purpose="evidence writer",
        alive=lambda *_: True,
    )
    impatient = EvidenceLog(catalog, keys.private, clock=clock, lock_wait=0.05)
    with pytest.raises(LockBusy, match="evidence writer: already running"):
        impatient.append("restore-test", restore_test())
    assert table.count(catalog) == 0
    patient = EvidenceLog(catalog, keys.private, clock=clock, lock_wait=10)
    timer = threading.Timer(0.1, release, (catalog, held))
    timer.start()
    assert patient.append("restore-test", restore_test()).seq == 1
    timer.join()


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("Restore Test", {}, "is not a lower-case word"),
        ("restore-test", {"seq": 9}, "cannot set seq: drorch assigns them"),
        ("restore-test", {"hash": "x", "prev": "y"}, "cannot set hash, prev"),
        ("restore-test", {"job": 7}, "job is a job name, not 7"),
        ("restore-test", {"rto": float("nan")}, r"cannot hold nan \(at \$\.rto\)"),
        ("restore-test", {"when": object()}, r"not object \(at \$\.when\)"),
    ],
)
def test_bad_entries_are_refused_before_anything_is_written(
    evidence: EvidenceLog, catalog: Catalog, kind: str, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(EvidenceError, match=message):
        evidence.append_many([("restore-test", restore_test()), (kind, fields)])
    assert table.count(catalog) == 0


def test_a_missing_or_unusable_key_is_a_clear_error(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(
        EvidenceKeyError,
        match=r"cannot read the evidence key .*missing\.pem.*"
        r"keys init",
    ):
        EvidenceLog(catalog, tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    with pytest.raises(EvidenceKeyError, match="is not a usable PEM key"):
        EvidenceLog(catalog, garbage)
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    ecdsa = tmp_path / "ec.pem"
    ecdsa.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(EvidenceKeyError, match="is not an Ed25519 private key") as caught:
        EvidenceLog(catalog, ecdsa)
    assert caught.value.exit_code == 2  # the daemon refuses to start


# -- the self-check, against hand edits of the catalog -------------------------------------


@pytest.fixture
def filled(evidence: EvidenceLog) -> EvidenceLog:
    for i in range(6):
        evidence.append("restore-test", restore_test(n=i))
    assert evidence.self_check() is None
    return evidence


def edit_body(catalog: Catalog, seq: int, change: dict[str, object]) -> None:
    record = table.record(catalog, seq)
    assert record is not None
    body = canonical_bytes({**record.data, **change}).decode()
    sql(catalog, "UPDATE evidence_records SET body = :body WHERE seq = :seq", body=body, seq=seq)


def test_self_check_names_a_record_whose_body_was_edited(
    filled: EvidenceLog, catalog: Catalog
) -> None:
    edit_body(catalog, 4, {"result": "pass", "n": 99})
    assert filled.self_check() == 4
    damage = filled.find_damage()
    assert damage is not None and "does not match its hash" in damage.reason


def test_self_check_names_a_record_rehashed_without_the_key(
    filled: EvidenceLog, catalog: Catalog
) -> None:
    record = table.record(catalog, 3)
    assert record is not None
    forged = {k: v for k, v in record.data.items() if k not in ("hash", "signature", "key_id")}
    forged["result"] = "pass"
    forged["checks"] = []
    digest = hashlib.sha256(canonical_bytes(forged)).hexdigest()
    edit_body(catalog, 3, {**forged, "hash": digest})
    sql(catalog, "UPDATE evidence_records SET hash = :h WHERE seq = 3", h=digest)
    assert filled.self_check() == 3
    # list and show: the record by its signature, the next one by its link
    assert filled.audit().problems == {
        3: "its signature does not verify: changed after signing",
        4: "its prev does not match the hash of the record before it: the chain is broken",
    }
    quick = filled.audit(signatures=False)  # the leaf changed under checkpoint 3
    assert quick.problem(3) == (
        "records 3–3 no longer match the root of checkpoint 3: one of them was changed"
    )
    changed = table.record(catalog, 3)
    assert changed is not None and filled.signature_problem(record) is None
    assert filled.signature_problem(changed) == (
        "its signature does not verify: changed after signing"
    )


def test_self_check_names_a_deleted_row(filled: EvidenceLog, catalog: Catalog) -> None:
    sql(catalog, "DELETE FROM evidence_records WHERE seq = 2")
    damage = filled.find_damage()
    assert damage is not None and (damage.seq, damage.reason) == (
        2,
        "is missing (the next record is 3): deleted",
    )


def test_self_check_names_the_newest_row_deleted(filled: EvidenceLog, catalog: Catalog) -> None:
    sql(catalog, "DELETE FROM evidence_records WHERE seq = 6")
    assert filled.self_check() == 6


def test_self_check_names_a_row_no_checkpoint_covers(filled: EvidenceLog, catalog: Catalog) -> None:
    sql(catalog, "DELETE FROM checkpoints WHERE tree_size = 6")
    damage = filled.find_damage()
    assert damage is not None and (damage.seq, damage.reason) == (
        6,
        "no signed checkpoint covers it: inserted",
    )


def test_self_check_names_a_column_changed_beside_its_body(
    filled: EvidenceLog, catalog: Catalog
) -> None:
    sql(catalog, "UPDATE evidence_records SET job = 'other' WHERE seq = 5")
    assert filled.self_check() == 5
    sql(catalog, "UPDATE evidence_records SET job = 'payroll' WHERE seq = 5")
    sql(catalog, "UPDATE checkpoints SET root_hash = :r WHERE tree_size = 3", r="0" * 64)
    damage = filled.find_damage()
    assert damage is not None and damage.seq == 3 and "root_hash column" in damage.reason


def test_appending_over_a_damaged_log_is_refused(
    filled: EvidenceLog, catalog: Catalog, keys: KeyPair
) -> None:
    edit_body(catalog, 2, {"result": "fail"})
    fresh = EvidenceLog(catalog, keys.private)
    with pytest.raises(EvidenceError, match=r"damaged .*no longer match the newest checkpoint"):
        fresh.append("restore-test", restore_test())
    sql(catalog, "DELETE FROM evidence_records WHERE seq = 3")
    with pytest.raises(EvidenceError, match=r"damaged \(record 3 is missing\)"):
        fresh.append("restore-test", restore_test())
    assert table.count(catalog) == 5


def test_self_check_of_an_empty_log(evidence: EvidenceLog) -> None:
    assert evidence.self_check() is None


def test_a_changed_signature_is_caught_with_or_without_checking_signatures(
    filled: EvidenceLog, catalog: Catalog
) -> None:
    record = table.record(catalog, 3)
    assert record is not None
    edit_body(catalog, 3, {"signature": "00" * 64})
    damage = filled.find_damage()
    assert damage is not None and (damage.seq, damage.reason) == (
        3,
        "its signature does not verify: changed after signing",
    )
    quick = filled.find_damage(signatures=False)  # the leaf changed under checkpoint 3
    assert quick is not None and quick.seq == 3 and "root of checkpoint 3" in quick.reason
    assert filled.self_check(signatures=False) == 3


# -- every appender refuses to sign over a damaged log --------------------------------------


def appended_by_a_fresh_writer(catalog: Catalog, key: Path) -> EvidenceError:
    """What a new process (`drorch run`, a restarted daemon) meets when it appends: the
    error, after checking that nothing was appended."""
    before = table.count(catalog)
    with pytest.raises(EvidenceError) as refused:
        EvidenceLog(catalog, key).append("restore-test", restore_test())
    assert table.count(catalog) == before
    assert "nothing was appended" in str(refused.value).lower()
    return refused.value


def newest_tree_root(catalog: Catalog) -> str:
    tree = Tree([leaf_hash(body.encode()) for _, body in table.leaves(catalog)])
    return tree.root().hex()


def test_a_record_edited_in_the_middle_is_caught_by_the_tip_check(
    filled: EvidenceLog, catalog: Catalog, keys: KeyPair
) -> None:
    edit_body(catalog, 3, {"result": "fail"})  # a changed leaf under every later root
    refused = appended_by_a_fresh_writer(catalog, keys.private)
    assert "no longer match the newest checkpoint's root" in str(refused)


def test_a_record_edited_with_the_newest_roots_column_fixed_is_caught(
    filled: EvidenceLog, catalog: Catalog, keys: KeyPair
) -> None:
    edit_body(catalog, 3, {"result": "fail"})
    root = newest_tree_root(catalog)
    sql(catalog, "UPDATE checkpoints SET root_hash = :r WHERE tree_size = 6", r=root)
    refused = appended_by_a_fresh_writer(catalog, keys.private)
    assert "checkpoint 6 has a root_hash column that disagrees with its signed body" in str(refused)
    # the signed body rewritten too: only the signature is left to tell
    mark = table.checkpoint(catalog, 6)
    assert mark is not None
    body = canonical_bytes({**json.loads(mark.body), "root_hash": root}).decode()
    sql(catalog, "UPDATE checkpoints SET body = :b WHERE tree_size = 6", b=body)
    refused = appended_by_a_fresh_writer(catalog, keys.private)
    assert "checkpoint 6's signature is invalid" in str(refused)


def test_the_newest_records_hash_column_edited_is_caught(
    filled: EvidenceLog, catalog: Catalog, keys: KeyPair
) -> None:
    sql(catalog, "UPDATE evidence_records SET hash = :h WHERE seq = 6", h="ab" * 32)
    refused = appended_by_a_fresh_writer(catalog, keys.private)
    assert "record 6's hash column disagrees with its body" in str(refused)


def test_a_replaced_key_file_is_refused_naming_both_keys(
    filled: EvidenceLog, catalog: Catalog, keys: KeyPair, tmp_path: Path
) -> None:
    # `keys init` after the key file went missing: a new key in its place
    other = write_key_pair(tmp_path / "new-keys")
    newcomer = EvidenceLog(catalog, other.private)
    refused = appended_by_a_fresh_writer(catalog, other.private)
    assert (
        f"the evidence log is signed with key {filled.key_id}, but the evidence key "
        f"{other.private} is key {newcomer.key_id}" in str(refused)
    )
    assert "drorch keys rotate" in str(refused) and "from a backup" in str(refused)
    # and the log re-signed, records and checkpoint, by another key: the log's own key
    # refuses to sign after it
    forged = [
        (r.kind, {k: v for k, v in r.data.items() if k not in RESERVED})
        for r in table.records(catalog)
    ]
    sql(catalog, "DELETE FROM evidence_records")
    sql(catalog, "DELETE FROM checkpoints")
    newcomer.append_many(forged)
    refused = appended_by_a_fresh_writer(catalog, keys.private)
    assert f"signed with key {newcomer.key_id}, but the evidence key" in str(refused)
