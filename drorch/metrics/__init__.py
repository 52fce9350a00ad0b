"""Prometheus metrics: computed from the catalog and the policy evaluation, exposed as a
node-exporter text file and, optionally, over HTTP on loopback.

    families = collect(config, catalog, utc_now())
    publisher = Publisher(config.settings.metrics)   # starts the endpoint, if configured
    publisher.publish(families)                       # every minute
    publisher.close()

Every metric name is documented in contrib/prometheus/README.md (a test keeps it so).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prometheus_client.metrics_core import Metric

from drorch.catalog import Catalog
from drorch.catalog.metrics import read_catalog
from drorch.config import Config
from drorch.metrics.expose import Publisher, render, write_textfile
from drorch.metrics.families import families
from drorch.policy import JobCompliance, evaluate

__all__ = ["Publisher", "collect", "render", "write_textfile"]


def collect(
    config: Config,
    catalog: Catalog,
    now: datetime,
    compliance: Sequence[JobCompliance] | None = None,
) -> list[Metric]:
    """Every metric family at `now` (UTC-aware). `compliance` is evaluated here when None;
    the daemon passes the evaluation it has just made, so the policy is read once."""
    if compliance is None:
        compliance = evaluate(config, catalog, now)
    return families(read_catalog(catalog, set(config.jobs), now), compliance, now)
