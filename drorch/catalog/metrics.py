"""What the metrics need from the catalog, read in a handful of aggregate queries."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from drorch.catalog import Catalog, RunStatus
from drorch.catalog import models as m
from drorch.catalog.evidence import head
from drorch.catalog.nodes import Overview, overview
from drorch.catalog.outbox import Backlog, backlog


@dataclass(frozen=True)
class Success:
    """The newest SUCCEEDED run of one action of a job."""

    job: str
    action: str
    at: datetime  # finished_at, else started_at, else created_at
    duration_s: float | None
    bytes_processed: int | None
    bytes_added: int | None


@dataclass(frozen=True)
class Evidence:
    records: int
    checkpoint_at: datetime | None
    checkpoint_size: int | None


@dataclass(frozen=True)
class CatalogFacts:
    successes: tuple[Success, ...]
    runs: Mapping[tuple[str, RunStatus], int]  # (action, status) -> runs
    evidence: Evidence
    outbox: Backlog
    nodes: Overview  # the daemons, as `drorch node list` shows them


def _success(row: Any) -> Success:
    started, finished = row.started_at, row.finished_at
    duration = (finished - started).total_seconds() if started and finished else None
    at = finished or started or row.created_at
    return Success(row.job, row.action, at, duration, row.bytes_processed, row.bytes_added)


def read_catalog(catalog: Catalog, jobs: Collection[str], now: datetime) -> CatalogFacts:
    """The catalog's side of the metrics at `now`; successes only of `jobs` (those
    configured)."""
    run, last = m.Run, aliased(m.Run)
    pairs = select(run.job, run.action).group_by(run.job, run.action).subquery()
    # Walks the (job, action, id) index backwards: a row or two per pair, not a scan.
    newest_success = (
        select(last.id)
        .where(last.job == pairs.c.job, last.action == pairs.c.action)
        .where(last.status == RunStatus.SUCCEEDED)
        .order_by(last.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    times = (run.created_at, run.started_at, run.finished_at)
    columns = (run.job, run.action, *times, run.bytes_processed, run.bytes_added)
    by_status = select(run.action, run.status, func.count()).group_by(run.action, run.status)
    successes: list[Success] = []
    with catalog.session() as session:
        newest = session.execute(select(pairs.c.job, newest_success).select_from(pairs)).all()
        ids = sorted(i for job, i in newest if i is not None and job in jobs)
        for start in range(0, len(ids), 500):
            query = select(*columns).where(run.id.in_(ids[start : start + 500]))
            successes += (_success(row) for row in session.execute(query))
        runs = {(action, status): n for action, status, n in session.execute(by_status)}
    log = head(catalog)
    checkpoint = log.checkpoint
    evidence = Evidence(
        log.last_seq,
        checkpoint.at if checkpoint else None,
        checkpoint.tree_size if checkpoint else None,
    )
    successes.sort(key=lambda s: (s.job, s.action))
    nodes = overview(catalog, now=now)
    return CatalogFacts(tuple(successes), runs, evidence, backlog(catalog), nodes)
