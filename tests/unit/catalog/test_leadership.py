"""Leadership, fencing and slot claims in the catalog, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from drorch.catalog import Catalog, RunStatus, models, open_catalog
from drorch.catalog import evidence as table
from drorch.catalog import locks as lock_table
from drorch.catalog.daemon import interrupt_run, missed_slots, record_missed_slots, register_node
from drorch.catalog.evidence import CheckpointRecord, EvidenceRecord
from drorch.catalog.fencing import Fence
from drorch.catalog.leadership import AdvisoryLock, leader, lock_key, take, take_on
from drorch.catalog.locks import Owner
from drorch.catalog.store import insert_run
from drorch.errors import Deposed, SlotTaken
from tests.pg import pg_schema_url

SLOT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ME = Owner(host="node1", pid=100, pid_started=1000.0)


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    return any_catalog


def start(catalog: Catalog, *, job: str = "app", slot: datetime | None = SLOT) -> int:
    """A run started as the daemon starts one: with its lock, its slot, and the fence."""
    held = lock_table.acquire(
        catalog,
        f"job:{job}:snapshot:{datetime.now(UTC).timestamp()}",
        ME,
        lease=timedelta(minutes=2),
        purpose="snapshot",
        alive=lambda *_: True,
        run={
            "job": job,
            "action": "snapshot",
            "target": "primary",
            "host": "node1",
            "pid": 100,
            "actor": "scheduler",
            "slot": slot,
            "artifacts_root": Path("/var/lib/drorch/runs"),
        },
    )
    assert held.run is not None
    return held.run.id


def lead(catalog: Catalog, name: str = "n1") -> Fence:
    node_id = register_node(catalog, host="h", name=name, pid=1, version="t")
    fence = Fence(name, take_on(catalog, node=name, node_id=node_id))
    catalog.fence = fence
    return fence


def claims(catalog: Catalog) -> list[tuple[str, str, datetime, int | None, int | None]]:
    c = models.SlotClaim
    query = select(c.job, c.action, c.slot_at, c.run_id, c.epoch).order_by(c.id)
    with catalog.session() as session:
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_the_epoch_rises_at_each_takeover_and_names_the_leader(catalog: Catalog) -> None:
    assert leader(catalog).epoch == 0 and leader(catalog).node is None
    assert lead(catalog, "n1").epoch == 1
    assert lead(catalog, "n2").epoch == 2
    now = leader(catalog)
    assert (now.epoch, now.node) == (2, "n2") and now.since is not None


def test_a_slot_is_claimed_once(catalog: Catalog) -> None:
    fence = lead(catalog)
    first = start(catalog)
    with pytest.raises(SlotTaken, match="slot of snapshot of app is taken"):
        start(catalog)
    assert [r.id for r in catalog.runs()] == [first]  # the refused run was not recorded
    assert claims(catalog) == [("app", "snapshot", SLOT, first, fence.epoch)]
    other = start(catalog, job="other")  # another job's slot at the same time is its own
    assert catalog.run(other) is not None and catalog.run(other).epoch == fence.epoch  # type: ignore[union-attr]


def test_a_claim_moves_only_from_an_interrupted_run(catalog: Catalog) -> None:
    lead(catalog)
    first = start(catalog)
    catalog.transition(first, RunStatus.FAILED)
    with pytest.raises(SlotTaken):  # a failed run ran its slot: no second try
        start(catalog)
    second_slot = SLOT + timedelta(minutes=15)
    dead = start(catalog, slot=second_slot)
    assert interrupt_run(catalog, dead, error="its node died") is not None
    again = start(catalog, slot=second_slot)
    assert claims(catalog)[-1][3] == again
    with pytest.raises(SlotTaken):  # its new run is live: the claim stays with it
        start(catalog, slot=second_slot)


def test_a_run_with_a_stale_epoch_is_refused_and_not_recorded(catalog: Catalog) -> None:
    mine = lead(catalog, "n1")
    take_on(catalog, node="n2", node_id=register_node(catalog, host="h2", pid=2, version="t"))
    with pytest.raises(Deposed, match="leadership lost to n2 at epoch 2") as caught:
        start(catalog)
    assert (caught.value.leader, caught.value.epoch) == ("n2", 2)
    assert catalog.runs() == [] and claims(catalog) == []
    assert lock_table.held_locks(catalog) == []
    mine.epoch = None  # a standby's fence refuses without asking
    with pytest.raises(Deposed, match="n1 does not lead"):
        start(catalog)


def test_an_operators_run_is_not_fenced(catalog: Catalog) -> None:
    lead(catalog, "n1")
    catalog.fence = None  # `drorch run`: another process, no fence
    run = catalog.create_run(
        job="app", action="snapshot", target=None, host="h", pid=1, actor="operator"
    )
    assert (run.epoch, run.node) == (None, None)


def evidence_row(seq: int) -> tuple[EvidenceRecord, CheckpointRecord]:
    at = datetime.now(UTC)
    record = EvidenceRecord(seq, f"id-{seq}", "test", None, at, "h" * 64, "k" * 16, "{}")
    return record, CheckpointRecord(seq, "r" * 64, at, "{}", "s" * 128, "k" * 16)


def test_evidence_carries_the_epoch_and_a_stale_one_is_refused(catalog: Catalog) -> None:
    fence = lead(catalog, "n1")
    record, checkpoint = evidence_row(1)
    table.append(catalog, [record], checkpoint)
    take_on(catalog, node="n2", node_id=register_node(catalog, host="h2", pid=2, version="t"))
    stale, stale_checkpoint = evidence_row(2)
    with pytest.raises(Deposed):
        table.append(catalog, [stale], stale_checkpoint)
    with catalog.session() as session:
        rows = session.execute(select(models.EvidenceEntry.seq, models.EvidenceEntry.epoch)).all()
        marks = session.scalars(select(models.EvidenceCheckpoint.tree_size)).all()
    assert [tuple(r) for r in rows] == [(1, fence.epoch)] and list(marks) == [1]


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


def test_a_takeover_waits_for_a_run_start_in_flight(pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL only: a run's start share-locks the leadership row with its fenced INSERT
    until it commits; a takeover's raise of the epoch waits for it, so that no run of the
    old epoch is committed after the new one is."""
    catalog = open_catalog(pg_url, tmp_path / "state")
    try:
        fence = lead(catalog, "n1")
        with catalog.session() as session, session.begin():
            run = insert_run(
                session,
                fence=fence,
                job="app",
                action="snapshot",
                target="primary",
                host="h",
                pid=1,
                actor="scheduler",
                artifacts_root=tmp_path / "runs",
            )
            assert run.epoch == fence.epoch
            with catalog.engine.connect() as other:
                other.exec_driver_sql("SET lock_timeout = '200ms'")
                other.commit()
                with pytest.raises(OperationalError, match="lock timeout"):
                    take(other, node="n2", node_id=2)
        assert leader(catalog).epoch == fence.epoch  # the run committed under it
    finally:
        catalog.close()


def test_one_session_holds_the_advisory_lock_until_it_ends(pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL only: the second daemon's try fails while the first's session lives; the
    first's session terminated by the server (a partition), the second takes over."""
    catalog = open_catalog(pg_url, tmp_path / "state")
    try:
        assert catalog.anchor is not None
        key = lock_key(catalog.anchor.identity.id)
        one, two = AdvisoryLock(catalog, key), AdvisoryLock(catalog, key)
        try:
            assert (
                one.try_take(
                    node="n1", node_id=register_node(catalog, host="h", pid=1, version="t")
                )
                == 1
            )
            assert (
                two.try_take(
                    node="n2", node_id=register_node(catalog, host="h", pid=2, version="t")
                )
                is None
            )
            assert one.holds()
            with catalog.engine.connect() as admin:
                pids = (
                    admin.execute(
                        text(
                            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                            "AND objid = :low"
                        ),
                        {"low": key & 0xFFFFFFFF},
                    )
                    .scalars()
                    .all()
                )
                assert len(pids) == 1
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
            assert not one.holds()
            assert two.try_take(node="n2", node_id=2) == 2
            assert (leader(catalog).epoch, leader(catalog).node) == (2, "n2")
        finally:
            one.dispose()
            two.dispose()
    finally:
        catalog.close()


def test_a_claimed_slot_is_never_recorded_missed(catalog: Catalog) -> None:
    """The clock stepped back over slots that ran, then forward past them: the catch-up's
    missed slots leave out those a run holds."""
    start(catalog, slot=SLOT)
    later = SLOT + timedelta(minutes=15)
    record_missed_slots(catalog, "app", "snapshot", [SLOT - timedelta(minutes=15), SLOT, later])
    assert missed_slots(catalog, job="app") == [
        ("app", "snapshot", SLOT - timedelta(minutes=15)),
        ("app", "snapshot", later),
    ]
    record_missed_slots(catalog, "app", "check", [SLOT])  # another action's slot is its own
    assert ("app", "check", SLOT) in missed_slots(catalog, job="app")
