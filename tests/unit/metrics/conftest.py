"""A config root and a catalog filled through drorch's own APIs, on a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drorch.catalog import Catalog, RunStatus, open_catalog, outbox
from drorch.catalog import models as m
from drorch.catalog.leadership import take_on
from drorch.catalog.nodes import set_draining
from drorch.config import Config, load_config
from drorch.evidence.log import EvidenceLog
from tests import catalog_rows as rows
from tests.conftest import write_root

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = NOW.timestamp()

DRORCH = """\
site: dc1
jurisdiction: ML
state_dir: state
targets:
  primary: {kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: dc1, jurisdiction: ML}
  replica: {kind: disk, path: repos/replica, password_file: keys/replica.pass,
            site: dc2, jurisdiction: ML}
"""

APP = """\
policy: strict
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 15m"}
replicate: [{to: replica}]
"""

IDLE = """\
policy: strict
source: {paths: [data]}
snapshot: {target: primary}
"""

POLICY = """\
rpo: 1h
rto: 30m
residency: [ML]
"""

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse(text: str | bytes) -> Samples:
    """{family name: {sorted label pairs: value}}, every family present even when empty."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    parsed: Samples = {}
    for family in text_string_to_metric_families(text):
        found = parsed.setdefault(family.name, {})
        for sample in family.samples:
            found[tuple(sorted(sample.labels.items()))] = sample.value
    return parsed


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    root = write_root(
        tmp_path / "root",
        drorch=DRORCH,
        jobs={"app": APP, "idle": IDLE},
        policies={"strict": POLICY},
    )
    return load_config(root, check_secrets=False)


@pytest.fixture
def catalog(config: Config) -> Iterator[Catalog]:
    catalog = open_catalog(None, config.state_dir)
    yield catalog
    catalog.close()


def run(catalog: Catalog, action: str, status: RunStatus, at: datetime, **fields: Any) -> int:
    """A run that took 90 s unless told otherwise."""
    return rows.run(catalog, action, status, at, **{"took": timedelta(seconds=90), **fields})


def delivery(catalog: Catalog, created: datetime, **fields: Any) -> None:
    with catalog.session() as session, session.begin():
        session.add(
            m.Delivery(
                kind="webhook",
                url="http://127.0.0.1:9/hook",
                event="policy-violation",
                job="app",
                payload={},
                created_at=created,
                attempts=1,
                next_attempt_at=created,
                **fields,
            )
        )


def node(catalog: Catalog, host: str, heartbeat: datetime, **fields: Any) -> int:
    """A daemon of node `host` on host `host`; its id."""
    with catalog.session() as session, session.begin():
        row = m.Node(
            host=host,
            name=host,
            pid=1,
            started_at=heartbeat - timedelta(hours=1),
            heartbeat_at=heartbeat,
            version="0.1.0",
            **fields,
        )
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def filled(config: Config, catalog: Catalog) -> Catalog:
    """`app` is stale on primary (snapshot 3 h old, RPO 1 h) and fresh on replica; `idle`
    never ran; `gone` is in the catalog only. Every metric family has a sample."""
    three_h = NOW - timedelta(hours=3)
    run(catalog, "snapshot", RunStatus.SUCCEEDED, three_h, bytes_processed=1000, bytes_added=200)
    run(catalog, "snapshot", RunStatus.FAILED, NOW - timedelta(hours=1))
    run(catalog, "replicate:replica", RunStatus.SUCCEEDED, NOW - timedelta(minutes=31))
    rows.snapshot(catalog, "primary", "a" * 64, three_h)
    rows.snapshot(catalog, "replica", "b" * 64, NOW - timedelta(minutes=30))
    run(
        catalog,
        "restore-test",
        RunStatus.SUCCEEDED,
        NOW - timedelta(hours=2),
        took=timedelta(seconds=30),
        details={"evidence": {"rto": {"projected_s": 1200.5}}},
    )
    run(catalog, "snapshot", RunStatus.SUCCEEDED, three_h, job="gone", bytes_added=5)
    evidence = EvidenceLog(catalog, config.settings.evidence_key, clock=lambda: NOW)
    evidence.append_many([("restore-test", {"job": "app", "n": n}) for n in range(3)])
    delivery(catalog, NOW - timedelta(hours=5), delivered_at=NOW - timedelta(hours=4))
    delivery(catalog, NOW - timedelta(hours=2))
    delivery(catalog, NOW - timedelta(minutes=5))
    delivery(catalog, NOW - timedelta(days=1), gave_up_at=NOW - timedelta(hours=20))
    superseded = f"{outbox.SUPERSEDED} #9"
    delivery(
        catalog,
        NOW - timedelta(hours=7),
        gave_up_at=NOW - timedelta(hours=6),
        last_error=superseded,
    )
    node(catalog, "a", NOW - timedelta(days=1), stopped_at=NOW - timedelta(days=1))
    leader = node(catalog, "a", NOW - timedelta(seconds=5))
    node(catalog, "b", NOW - timedelta(hours=2), stopped_at=NOW - timedelta(hours=2))
    node(catalog, "c", NOW - timedelta(seconds=60))  # silent: killed, or cut off
    take_on(catalog, node="a", node_id=leader)
    set_draining(catalog, "c", draining=True, by="alice")
    return catalog
