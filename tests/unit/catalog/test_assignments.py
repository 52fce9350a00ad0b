"""Slots the leader assigns to another node (node affinity), on SQLite and PostgreSQL: the
assigned node's run takes the claim, no other run can, and a slot whose run was
interrupted is assigned again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from drorch.catalog import Catalog, models
from drorch.catalog.assignments import adopt, assign, move, waiting_for
from drorch.catalog.daemon import interrupt_run
from drorch.catalog.fencing import Fence
from drorch.errors import Deposed, SlotTaken
from tests.unit.catalog.test_leadership import SLOT, lead, start


def as_node(catalog: Catalog, node: str, epoch: int | None) -> Catalog:
    """The catalog as node `node` writes a run it was assigned at `epoch`."""
    return catalog.fenced(Fence(node, epoch))


def holder(catalog: Catalog) -> tuple[int | None, str | None]:
    c = models.SlotClaim
    with catalog.session() as session:
        run_id, node = session.execute(select(c.run_id, c.node)).one()
        return run_id, node


def test_the_assigned_node_takes_the_slot_and_no_other_can(any_catalog: Catalog) -> None:
    fence = lead(any_catalog, "leader")
    assert assign(any_catalog, job="app", action="snapshot", slot_at=SLOT, node="tape-host")
    assert not assign(any_catalog, job="app", action="snapshot", slot_at=SLOT, node="other")
    [waiting] = waiting_for(any_catalog, "tape-host")
    assert (waiting.job, waiting.slot_at, waiting.epoch) == ("app", SLOT, fence.epoch)
    assert waiting_for(any_catalog, "other") == []

    with pytest.raises(SlotTaken):  # a run of another node cannot take it
        start(as_node(any_catalog, "other", fence.epoch))
    run = start(as_node(any_catalog, "tape-host", fence.epoch))
    assert holder(any_catalog) == (run, "tape-host")
    assert waiting_for(any_catalog, "tape-host") == []
    with pytest.raises(SlotTaken):  # taken once
        start(as_node(any_catalog, "tape-host", fence.epoch))


def test_an_assignment_of_a_deposed_leader_is_refused_until_adopted(
    any_catalog: Catalog,
) -> None:
    old = lead(any_catalog, "old")
    assert assign(any_catalog, job="app", action="snapshot", slot_at=SLOT, node="tape-host")
    new = lead(any_catalog, "new")  # a takeover: the assignment carries the old epoch
    with pytest.raises(Deposed):
        start(as_node(any_catalog, "tape-host", old.epoch))
    assert holder(any_catalog) == (None, "tape-host")  # nothing written
    adopt(any_catalog, new.epoch)  # type: ignore[arg-type]
    [waiting] = waiting_for(any_catalog, "tape-host")
    assert waiting.epoch == new.epoch
    run = start(as_node(any_catalog, "tape-host", waiting.epoch))
    assert holder(any_catalog) == (run, "tape-host")
    with pytest.raises(Deposed):  # the old leader can assign nothing more
        assign(
            any_catalog.fenced(old),
            job="app",
            action="snapshot",
            slot_at=SLOT.replace(hour=13),
            node="x",
        )


def test_a_slot_whose_run_was_interrupted_is_assigned_again(any_catalog: Catalog) -> None:
    fence = lead(any_catalog, "leader")
    assign(any_catalog, job="app", action="snapshot", slot_at=SLOT, node="tape-host")
    run = start(as_node(any_catalog, "tape-host", fence.epoch))
    assert not assign(any_catalog, job="app", action="snapshot", slot_at=SLOT, node="tape-2")
    interrupt_run(any_catalog, run, error="its node died")
    assert assign(any_catalog, job="app", action="snapshot", slot_at=SLOT, node="tape-2")
    assert holder(any_catalog) == (None, "tape-2")
    assert move(any_catalog, waiting_for(any_catalog, "tape-2")[0].id, "tape-3")
    again = start(as_node(any_catalog, "tape-3", fence.epoch))
    assert holder(any_catalog) == (again, "tape-3")
    assert not move(any_catalog, 1, "tape-4")  # taken: not moved
