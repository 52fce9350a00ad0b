"""The nodes as `drorch node list` shows them, and the drain, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from drorch.catalog import Catalog, models, utc_now
from drorch.catalog.daemon import heartbeat, register_node
from drorch.catalog.leadership import take_on
from drorch.catalog.nodes import NodeStatus, overview, set_draining
from drorch.errors import UnknownNode


def node(catalog: Catalog, name: str, *, pid: int = 100) -> int:
    return register_node(catalog, host="host-1", pid=pid, version="1.0", name=name)


def silence(catalog: Catalog, node_id: int, seconds: float) -> None:
    with catalog.session() as session, session.begin():
        session.execute(
            update(models.Node)
            .where(models.Node.id == node_id)
            .values(heartbeat_at=utc_now() - timedelta(seconds=seconds))
        )


def running_on(catalog: Catalog, name: str) -> None:
    run = catalog.create_run(
        job="app", action="snapshot", target="primary", host="host-1", pid=1, actor="t"
    )
    with catalog.session() as session, session.begin():
        session.execute(update(models.Run).where(models.Run.id == run.id).values(node=name))


def test_each_node_by_its_newest_daemon_with_leader_drain_and_runs(any_catalog: Catalog) -> None:
    old_a = node(any_catalog, "node-a", pid=1)
    heartbeat(any_catalog, old_a, stopped=True)  # an earlier daemon of node-a stopped
    a = node(any_catalog, "node-a", pid=2)  # node-a's daemon now
    b = node(any_catalog, "node-b")
    c = node(any_catalog, "node-c")
    heartbeat(any_catalog, c, stopped=True)
    assert take_on(any_catalog, node="node-a", node_id=a) == 1
    assert take_on(any_catalog, node="node-b", node_id=b) == 2  # node-b took over
    silence(any_catalog, b, 120)  # ... and then fell silent
    running_on(any_catalog, "node-b")
    running_on(any_catalog, "node-b")
    running_on(any_catalog, "node-a")
    set_draining(any_catalog, "node-a", draining=True, by="alice")

    seen = overview(any_catalog)

    by_name = {n.name: n for n in seen.nodes}
    assert list(by_name) == ["node-a", "node-b", "node-c"]
    assert (by_name["node-a"].pid, by_name["node-a"].status) == (2, NodeStatus.UP)
    assert by_name["node-b"].status is NodeStatus.SILENT
    assert by_name["node-c"].status is NodeStatus.STOPPED
    assert [n.running for n in seen.nodes] == [1, 2, 0]
    assert (by_name["node-a"].draining, by_name["node-a"].drain_changed_by) == (True, "alice")
    assert not by_name["node-b"].draining
    # the row names node-b at epoch 2, but node-b is silent: nobody leads
    assert (seen.epoch, seen.named, seen.leader) == (2, "node-b", None)
    assert not any(n.leader for n in seen.nodes)

    take_on(any_catalog, node="node-a", node_id=a)
    seen = overview(any_catalog)
    assert (seen.epoch, seen.leader) == (3, "node-a")
    assert [n.name for n in seen.nodes if n.leader] == ["node-a"]


def test_a_leader_row_naming_an_older_daemon_of_the_node_is_not_a_leader(
    any_catalog: Catalog,
) -> None:
    first = node(any_catalog, "node-a", pid=1)
    take_on(any_catalog, node="node-a", node_id=first)
    heartbeat(any_catalog, first, stopped=True)
    node(any_catalog, "node-a", pid=2)  # restarted: a standby until it wins again
    assert overview(any_catalog).leader is None


def test_drain_and_resume_by_name(any_catalog: Catalog) -> None:
    node(any_catalog, "node-a")
    set_draining(any_catalog, "node-a", draining=True, by="alice")
    set_draining(any_catalog, "node-a", draining=True, by="bob")  # already: nothing changes
    [seen] = overview(any_catalog).nodes
    assert (seen.draining, seen.drain_changed_by) == (True, "alice")
    set_draining(any_catalog, "node-a", draining=False, by="bob")
    [seen] = overview(any_catalog).nodes
    assert (seen.draining, seen.drain_changed_by) == (False, "bob")


def test_draining_a_name_no_daemon_had_is_refused(any_catalog: Catalog) -> None:
    node(any_catalog, "node-a")
    with pytest.raises(UnknownNode, match=r"no node named 'node-z' \(nodes: node-a\)"):
        set_draining(any_catalog, "node-z", draining=True, by="alice")
    with any_catalog.session() as session:
        assert session.get(models.NodeState, "node-z") is None
