"""`drorch node`: the daemons sharing the catalog, and draining one for maintenance."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from drorch.actions.lifecycle import default_actor
from drorch.catalog.nodes import NodeStatus, NodeView, Overview, overview, set_draining
from drorch.cli.commands import _catalog, _config
from drorch.cli.render import RED, iso_utc, local, print_json, print_table
from drorch.errors import EXIT_FAILED, UsageError

WAIT_EVERY = 1.0  # seconds between looks while `drain --wait` waits


def cmd_node_list(args: argparse.Namespace) -> int:
    seen = overview(_catalog(_config(args, check_secrets=False)))
    if args.json:
        print_json(
            {"epoch": seen.epoch, "leader": seen.leader, "nodes": [_json(n) for n in seen.nodes]}
        )
        return 0
    print(leader_line(seen))
    print_table(
        ("node", "status", "role", "drained", "running", "heartbeat", "host", "pid", "version"),
        [
            (
                n.name,
                n.status.value,
                "leader" if n.leader else "-",
                "yes" if n.draining else "no",
                n.running,
                local(n.heartbeat_at),
                n.host,
                n.pid,
                n.version,
            )
            for n in seen.nodes
        ],
        empty="no daemon has run on this catalog yet",
        colors={"silent": RED},
    )
    return 0


def leader_line(seen: Overview) -> str:
    """Who leads, in words (also in `drorch status`)."""
    if seen.leader is not None:
        return f"leader: {seen.leader} (epoch {seen.epoch}, since {local(seen.since)})"
    if seen.named is None:
        return "leader: none (no daemon has led this catalog yet)"
    last = next((n for n in seen.nodes if n.name == seen.named), None)
    how = f"; the last leader, {seen.named}, is {last.status.value}" if last else ""
    return f"leader: none (epoch {seen.epoch}{how})"


def cmd_node_drain(args: argparse.Namespace) -> int:
    catalog = _catalog(_config(args, check_secrets=False))
    seen = overview(catalog)
    others = [
        n.name
        for n in seen.nodes
        if n.name != args.name and n.status is NodeStatus.UP and not n.draining
    ]
    if not others and not args.force and any(n.name == args.name for n in seen.nodes):
        raise UsageError(
            f"no other node is up to take over from {args.name}: draining it would stop "
            "all scheduling, and the jobs' RPOs would run out. Start another node first "
            "(`drorch node list` shows them), or drain anyway with --force"
        )
    set_draining(catalog, args.name, draining=True, by=default_actor())
    node = _node(overview(catalog), args.name)
    if node.status is not NodeStatus.UP:
        print(f"node {args.name} is drained; it is {node.status.value} now and will start no")
        print("runs and not lead when its daemon comes back, until `drorch node resume`")
        return 0
    print(
        f"node {args.name} is drained: its daemon finishes its {node.running} running run(s), "
        "starts no new ones and hands leadership over"
        + (f" (standing by: {', '.join(others)})" if others else "")
    )
    if args.wait is None:
        return 0
    return _wait_idle(catalog, args.name, args.wait)


def _wait_idle(catalog: Any, name: str, wait: float) -> int:
    """Wait until the node runs nothing and leads nothing; a line each time that changes."""
    deadline = time.monotonic() + wait
    said = None
    while True:
        node = _node(overview(catalog), name)
        busy = node.running > 0 or node.leader
        state = (node.running, node.leader)
        if not busy or node.status is not NodeStatus.UP:
            print(f"node {name} runs nothing and leads nothing: it can be stopped")
            return 0
        if state != said:
            print(
                f"waiting: {name} runs {node.running} run(s)"
                + (" and still leads" if node.leader else ""),
                flush=True,
            )
            said = state
        if time.monotonic() >= deadline:
            print(
                f"drorch: node {name} still runs {node.running} run(s)"
                + (" and leads" if node.leader else "")
                + f" after {wait:.0f} s; it stays drained",
                file=sys.stderr,
            )
            return EXIT_FAILED
        time.sleep(WAIT_EVERY)


def cmd_node_resume(args: argparse.Namespace) -> int:
    catalog = _catalog(_config(args, check_secrets=False))
    set_draining(catalog, args.name, draining=False, by=default_actor())
    print(f"node {args.name} is resumed: its daemon may start runs and lead again")
    return 0


def _node(seen: Overview, name: str) -> NodeView:
    return next(n for n in seen.nodes if n.name == name)


def _json(n: NodeView) -> dict[str, Any]:
    return {
        "name": n.name,
        "status": n.status.value,
        "leader": n.leader,
        "draining": n.draining,
        "running": n.running,
        "host": n.host,
        "pid": n.pid,
        "version": n.version,
        "started_at": iso_utc(n.started_at),
        "heartbeat_at": iso_utc(n.heartbeat_at),
        "stopped_at": iso_utc(n.stopped_at),
        "drain_changed_at": iso_utc(n.drain_changed_at),
        "drain_changed_by": n.drain_changed_by,
    }
