"""audit(): every record that does not verify, each with why, on SQLite and PostgreSQL;
and which of those changes stop an appender (the newest checkpoint, checked on every
rebuilt tip) and which it leaves to list, show and the daemon's self-check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.catalog import Catalog
from drorch.catalog import evidence as table
from drorch.errors import EvidenceError
from drorch.evidence.canonical import canonical_bytes
from drorch.evidence.log import EvidenceLog
from tests.unit.evidence.conftest import Clock, KeyPair, restore_test

Edit = Callable[[Catalog], None]


def sql(statement: str, **params: object) -> Edit:
    def edit(catalog: Catalog) -> None:
        with catalog.engine.begin() as connection:
            connection.execute(text(statement), params)

    return edit


def body_of(seq: int, **change: object) -> Edit:
    def edit(catalog: Catalog) -> None:
        record = table.record(catalog, seq)
        assert record is not None
        body = canonical_bytes({**record.data, **change}).decode()
        assert body != record.body
        sql("UPDATE evidence_records SET body = :b WHERE seq = :s", b=body, s=seq)(catalog)

    return edit


@pytest.fixture
def log(any_catalog: Catalog, keys: KeyPair, clock: Clock) -> EvidenceLog:
    log = EvidenceLog(any_catalog, keys.private, host="node1", clock=clock)
    for i in range(6):
        log.append("restore-test", restore_test(n=i, result="pass" if i != 2 else "fail"))
    assert log.audit().damages == ()
    return log


# (edit, {seq: a fragment of why}, whether a fresh appender refuses)
CASES = {
    "body edited": (
        body_of(3, result="pass"),
        {3: "its content does not match its hash: changed"},
        True,
    ),
    "signature edited": (
        body_of(2, signature="00" * 64),
        {2: "its signature does not verify: changed after signing"},
        True,
    ),
    "newest record's hash column": (
        sql("UPDATE evidence_records SET hash = :h WHERE seq = 6", h="ab" * 32),
        {6: "its hash column disagrees with its body: changed"},
        True,
    ),
    "newest checkpoint's root column": (
        sql("UPDATE checkpoints SET root_hash = :r WHERE tree_size = 6", r="cd" * 32),
        {6: "checkpoint 6 has a root_hash column that disagrees with its signed body"},
        True,
    ),
    "row deleted": (
        sql("DELETE FROM evidence_records WHERE seq = 4"),
        {5: "record 4 before it is missing: deleted"},
        True,
    ),
    "newest checkpoint deleted": (
        sql("DELETE FROM checkpoints WHERE tree_size = 6"),
        {6: "no signed checkpoint covers it: inserted"},
        True,
    ),
    # Columns beside the signed body: nothing signed changed, so appending after them
    # keeps the log verifiable; list, show and the daemon's self-check name them.
    "an older record's job column": (
        sql("UPDATE evidence_records SET job = 'other' WHERE seq = 2"),
        {2: "its job column disagrees with its body: changed"},
        False,
    ),
    "an older checkpoint's root column": (
        sql("UPDATE checkpoints SET root_hash = :r WHERE tree_size = 3", r="cd" * 32),
        {3: "checkpoint 3 has a root_hash column that disagrees with its signed body"},
        False,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_change_is_marked_on_its_record_and_stops_appenders_that_it_must(
    case: str, log: EvidenceLog, any_catalog: Catalog, keys: KeyPair
) -> None:
    edit, expected, refused = CASES[case]
    edit(any_catalog)
    found = log.audit()
    assert set(found.problems) == set(expected)
    for seq, fragment in expected.items():
        assert fragment in (found.problem(seq) or "")
    assert found.first is not None
    assert found.first.seq == min([*expected, *(d.seq for d in found.missing)])
    fresh = EvidenceLog(any_catalog, keys.private)
    before = table.count(any_catalog)
    if refused:
        with pytest.raises(EvidenceError, match="nothing was appended"):
            fresh.append("restore-test", restore_test())
        assert table.count(any_catalog) == before
    else:
        fresh.append("restore-test", restore_test())
        assert set(log.audit().problems) == set(expected)  # the new record verifies


def test_a_deleted_row_is_reported_as_missing(log: EvidenceLog, any_catalog: Catalog) -> None:
    sql("DELETE FROM evidence_records WHERE seq = 4")(any_catalog)
    found = log.audit()
    assert [str(d) for d in found.missing] == [
        "evidence record 4: is missing (the next record is 5): deleted"
    ]


def test_a_log_signed_by_another_key_marks_every_record(
    log: EvidenceLog, any_catalog: Catalog, tmp_path: Path
) -> None:
    from tests.unit.evidence.conftest import write_key_pair

    stranger = EvidenceLog(any_catalog, write_key_pair(tmp_path / "other").private)
    found = stranger.audit()
    assert set(found.problems) == set(range(1, 7))
    assert found.problem(1) == (
        f"it is signed by another key ({log.key_id}, this log's key is {stranger.key_id}); "
        f"checkpoint 1 is signed by another key ({log.key_id}, this log's key is "
        f"{stranger.key_id})"
    )
