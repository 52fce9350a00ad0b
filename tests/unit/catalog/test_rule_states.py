"""Rule states on a real catalog, SQLite and PostgreSQL: first sight, transitions, and
noting them recorded once, in bulk, skipping what another recorder noted or what changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from drorch.catalog import Catalog, outbox
from drorch.catalog.models import Delivery
from drorch.catalog.rule_states import (
    NO_EVIDENCE,
    Observed,
    pending,
    record,
    states,
    write,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOOK = "http://127.0.0.1:9/hooks/drorch"


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    """Each test runs on SQLite and on PostgreSQL."""
    return any_catalog


def observed(job: str, rule: str, ok: bool) -> Observed:
    return Observed(job, rule, ok, None, {"rule": rule, "ok": ok, "detail": "x" * 40})


def sent(catalog: Catalog) -> list[tuple[str | None, str | None]]:
    with catalog.session() as session:
        rows = session.execute(select(Delivery).order_by(Delivery.id)).scalars()
        return [(d.job, (d.payload or {}).get("rule")) for d in rows]


def webhook(job: str, rule: str) -> outbox.Outgoing:
    return outbox.webhook(HOOK, "policy-violation", {"job": job, "rule": rule})


def test_many_transitions_are_noted_at_once_with_their_notifications(catalog: Catalog) -> None:
    jobs = [f"j{n:04d}" for n in range(300)]
    found = write(
        catalog,
        [observed(job, rule, ok=rule != "rpo") for job in jobs for rule in ("rpo", "copies")],
        NOW,
    )
    assert found == 300  # the violated rules; the ones first seen ok are no news
    waiting = pending(catalog)
    assert [(t.job, t.rule, t.ok) for t in waiting] == [(job, "rpo", False) for job in jobs]
    noted = record(
        catalog,
        [(t, seq, [webhook(t.job, t.rule)]) for seq, t in enumerate(waiting, start=1)],
        NOW,
    )
    assert noted == 300
    assert pending(catalog) == []
    assert sent(catalog) == [(job, "rpo") for job in jobs]
    assert record(catalog, [(t, 9, [webhook(t.job, t.rule)]) for t in waiting], NOW) == 0
    assert len(sent(catalog)) == 300  # noted once, announced once


def test_only_what_is_still_pending_as_it_was_read_is_noted(catalog: Catalog) -> None:
    write(catalog, [observed("a", "rpo", False), observed("b", "rpo", False)], NOW)
    first, second = pending(catalog)
    # `a` is noted by another recorder; `b` flipped back later (a newer row, still pending).
    assert record(catalog, [(first, NO_EVIDENCE, [])], NOW) == 1
    later = NOW + timedelta(minutes=1)
    assert write(catalog, [observed("a", "rpo", True)], later, jobs=["a"]) == 1
    assert write(catalog, [observed("b", "rpo", True)], later, jobs=["b"]) == 0  # waits
    noted = record(
        catalog,
        [(first, 5, [webhook("a", "rpo")]), (second, 6, [webhook("b", "rpo")])],
        later,
    )
    assert noted == 1  # `b` only: `a`'s row is a newer transition now
    assert sent(catalog) == [("b", "rpo")]
    [restored] = pending(catalog)
    assert (restored.job, restored.ok, restored.noticed_at) == ("a", True, later)
    assert states(catalog) == {("a", "rpo"): (True, later), ("b", "rpo"): (False, NOW)}


def test_nothing_to_note_is_no_transaction(catalog: Catalog) -> None:
    assert record(catalog, [], NOW) == 0


def test_rules_that_flip_together_are_counted_and_a_newer_or_pending_row_is_kept(
    catalog: Catalog,
) -> None:
    jobs = ("a", "b", "c")
    assert write(catalog, [observed(job, "rpo", True) for job in jobs], NOW) == 0
    newer, older = NOW + timedelta(minutes=2), NOW + timedelta(minutes=1)
    assert write(catalog, [observed("b", "rpo", False)], newer, jobs=["b"]) == 1
    [b] = pending(catalog)
    assert record(catalog, [(b, 1, [])], newer) == 1
    assert write(catalog, [observed("c", "rpo", False)], NOW, jobs=["c"]) == 1  # pending
    # An evaluation that started before b's: a flips; b's newer row and c's pending one stay.
    flips = [observed("a", "rpo", False), observed("b", "rpo", True), observed("c", "rpo", True)]
    assert write(catalog, flips, older) == 1
    assert states(catalog) == {
        ("a", "rpo"): (False, older),
        ("b", "rpo"): (False, newer),
        ("c", "rpo"): (False, NOW),
    }
    assert [(t.job, t.ok) for t in pending(catalog)] == [("c", False), ("a", False)]
    many = [f"j{n:03d}" for n in range(200)]
    write(catalog, [observed(job, "copies", True) for job in many], NOW)
    assert write(catalog, [observed(job, "copies", False) for job in many], older) == 200
