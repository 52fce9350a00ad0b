"""The daemons sharing a catalog as an operator sees them: each node by name, whether it is
up, whether it leads, whether it is drained, and what it runs; and the drain itself.

A node is a name (`daemon: {node: NAME}`, default the host name); each start of its daemon
adds a row to `nodes`, and the newest row says how the node is now. Its heartbeat says
whether it is up (catalog.daemon.UP_WITHIN). The leader is the node the leadership row
names, if that very daemon process is still up: a leader that died leaves the row naming
it until a standby takes over, and is then shown as no leader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select

from drorch.catalog import models
from drorch.catalog.daemon import UP_WITHIN
from drorch.catalog.fencing import LEADERSHIP_ID
from drorch.catalog.models import RunStatus
from drorch.catalog.store import Catalog, utc_now
from drorch.errors import UnknownNode


class NodeStatus(StrEnum):
    UP = "up"  # heartbeat within UP_WITHIN
    SILENT = "silent"  # not stopped, but no heartbeat for longer: killed, hung or cut off
    STOPPED = "stopped"  # its daemon stopped cleanly


@dataclass(frozen=True)
class NodeView:
    name: str
    status: NodeStatus
    leader: bool
    draining: bool
    running: int  # RUNNING runs its daemons started
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    drain_changed_at: datetime | None
    drain_changed_by: str | None


@dataclass(frozen=True)
class Overview:
    epoch: int  # 0: no daemon has led this catalog yet
    leader: str | None  # the node that leads now; None when none does
    named: str | None  # the node the leadership row names (the leader, or the last one)
    since: datetime | None
    nodes: tuple[NodeView, ...]


def overview(
    catalog: Catalog, *, up_within: timedelta = UP_WITHIN, now: datetime | None = None
) -> Overview:
    """Every node that ever ran a daemon on this catalog, by name, in a few queries; up
    or silent as of `now` (default: the clock)."""
    node, state = models.Node, models.NodeState
    newest = select(func.max(node.id)).group_by(node.name)
    running = (
        select(models.Run.node, func.count())
        .where(models.Run.status == RunStatus.RUNNING, models.Run.node.is_not(None))
        .group_by(models.Run.node)
    )
    with catalog.session() as session:
        rows = session.scalars(select(node).where(node.id.in_(newest)).order_by(node.name)).all()
        states = {s.name: s for s in session.scalars(select(state))}
        counts = {name: n for name, n in session.execute(running) if name is not None}
        lead = session.get_one(models.Leadership, LEADERSHIP_ID)
    since = (now or utc_now()) - up_within
    views = []
    for row in rows:
        if row.stopped_at is not None:
            status = NodeStatus.STOPPED
        else:
            status = NodeStatus.UP if row.heartbeat_at >= since else NodeStatus.SILENT
        drained = states.get(row.name)
        views.append(
            NodeView(
                name=row.name,
                status=status,
                leader=status is NodeStatus.UP and lead.node_id == row.id,
                draining=bool(drained and drained.draining),
                running=counts.get(row.name, 0),
                host=row.host,
                pid=row.pid,
                version=row.version,
                started_at=row.started_at,
                heartbeat_at=row.heartbeat_at,
                stopped_at=row.stopped_at,
                drain_changed_at=drained.changed_at if drained else None,
                drain_changed_by=drained.changed_by if drained else None,
            )
        )
    leader = next((v.name for v in views if v.leader), None)
    return Overview(lead.epoch, leader, lead.node, lead.since, tuple(views))


def set_draining(catalog: Catalog, name: str, *, draining: bool, by: str) -> None:
    """Drain the node `name` (its daemon finishes its runs, starts none, hands leadership
    over) or resume it. UnknownNode for a name no daemon ever had: a typo must not drain
    nothing and look done."""
    with catalog.session() as session, session.begin():
        known = session.scalars(select(models.Node.name).distinct()).all()
        if name not in known:
            listed = ", ".join(sorted(known)) or "none has run a daemon on this catalog yet"
            raise UnknownNode(f"no node named {name!r} (nodes: {listed})")
        row = session.get(models.NodeState, name)
        if row is None:
            session.add(
                models.NodeState(name=name, draining=draining, changed_at=utc_now(), changed_by=by)
            )
        elif row.draining != draining:
            row.draining, row.changed_at, row.changed_by = draining, utc_now(), by
