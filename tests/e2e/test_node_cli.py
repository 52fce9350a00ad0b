"""`drorch node list/drain/resume` and the nodes in `drorch status`, as processes, on a
catalog whose daemons are written behind them (the daemons themselves:
tests/reliability/test_nodes.py)."""

from __future__ import annotations

from pathlib import Path

from drorch.catalog import Catalog, models, open_catalog
from drorch.catalog.daemon import heartbeat, register_node
from drorch.catalog.leadership import take_on
from tests.conftest import RootFactory
from tests.e2e.conftest import Cli, as_json


def two_nodes(root: Path) -> tuple[Catalog, int, int]:
    """node-a leads at epoch 1, node-b stands by; both up."""
    catalog = open_catalog(None, root / "state")
    a = register_node(catalog, host="host-1", pid=11, version="1.0", name="node-a")
    b = register_node(catalog, host="host-2", pid=22, version="1.0", name="node-b")
    take_on(catalog, node="node-a", node_id=a)
    return catalog, a, b


def test_list_shows_each_node_its_role_and_the_epoch(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    two_nodes(root)[0].close()

    listed = as_json(cli("node", "list", "--json", root=root, check_rc=0))
    assert (listed["epoch"], listed["leader"]) == (1, "node-a")
    assert [(n["name"], n["status"], n["leader"]) for n in listed["nodes"]] == [
        ("node-a", "up", True),
        ("node-b", "up", False),
    ]
    table = cli("node", "list", root=root, check_rc=0).stdout
    assert table.startswith("leader: node-a (epoch 1, since ")
    assert [line.split()[:3] for line in table.splitlines()[2:]] == [
        ["node-a", "up", "leader"],
        ["node-b", "up", "-"],
    ]
    status = cli("status", root=root, check_rc=0).stdout
    assert "daemon: up on host-1 as node node-a, leader (pid 11" in status
    assert "daemon: up on host-2 as node node-b, standby (pid 22" in status
    shown = as_json(cli("status", "--json", root=root, check_rc=0))["daemon"]
    assert (shown["leader"], [n["role"] for n in shown["nodes"]]) == (
        "node-a",
        ["leader", "standby"],
    )


def test_drain_wait_and_resume(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    catalog, _, b = two_nodes(root)
    take_on(catalog, node="node-b", node_id=b)  # node-b leads; node-a runs nothing
    catalog.close()

    drained = cli("node", "drain", "node-a", "--wait", "30", root=root, check_rc=0).stdout
    assert "node node-a is drained: its daemon finishes its 0 running run(s)" in drained
    assert "(standing by: node-b)" in drained
    assert drained.endswith("node node-a runs nothing and leads nothing: it can be stopped\n")
    listed = as_json(cli("node", "list", "--json", root=root, check_rc=0))["nodes"]
    assert [(n["name"], n["draining"]) for n in listed] == [("node-a", True), ("node-b", False)]
    assert listed[0]["drain_changed_by"]

    cli("node", "resume", "node-a", root=root, check_rc=0)
    listed = as_json(cli("node", "list", "--json", root=root, check_rc=0))["nodes"]
    assert [n["draining"] for n in listed] == [False, False]


def test_drain_wait_gives_up_on_a_node_that_still_leads(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    two_nodes(root)[0].close()  # node-a leads; no daemon here to hand leadership over
    done = cli("node", "drain", "node-a", "--wait", "1", root=root, check_rc=1)
    assert "waiting: node-a runs 0 run(s) and still leads" in done.stdout
    assert "node node-a still runs 0 run(s) and leads after 1 s; it stays drained" in done.stderr


def test_draining_the_last_node_up_needs_force(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    catalog, _, b = two_nodes(root)
    heartbeat(catalog, b, stopped=True)  # node-b is stopped: nobody would take over
    catalog.close()

    refused = cli("node", "drain", "node-a", root=root, check_rc=2)
    assert "no other node is up to take over from node-a" in refused.stderr
    assert "--force" in refused.stderr
    catalog = open_catalog(None, root / "state")
    with catalog.session() as session:
        assert session.get(models.NodeState, "node-a") is None  # nothing written
    catalog.close()
    cli("node", "drain", "node-a", "--force", root=root, check_rc=0)
    assert as_json(cli("node", "list", "--json", root=root, check_rc=0))["nodes"][0]["draining"]


def test_an_unknown_node_is_refused(cli: Cli, make_root: RootFactory) -> None:
    root = make_root()
    two_nodes(root)[0].close()
    for verb in ("drain", "resume"):
        done = cli("node", verb, "node-z", root=root, check_rc=2)
        assert "no node named 'node-z' (nodes: node-a, node-b)" in done.stderr
