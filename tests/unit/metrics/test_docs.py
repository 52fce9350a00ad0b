"""contrib/prometheus cannot rot: every metric emitted is documented with its type and
labels, nothing else is, and the example alert rules use only metrics that exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from drorch.catalog import Catalog
from drorch.config import Config
from drorch.metrics import collect, render
from tests.conftest import REPO_ROOT
from tests.unit.metrics.conftest import NOW

CONTRIB = REPO_ROOT / "contrib" / "prometheus"
ROW = re.compile(r"^\| `(drorch_\w+)` \| (\w+) \| ([^|]*) \|", re.MULTILINE)
NAME = re.compile(r"\bdrorch_[a-z_]+\b")
LABEL = "drorch_job"  # a label, named so that Prometheus's own `job` never clashes


@pytest.fixture
def emitted(config: Config, filled: Catalog) -> dict[str, tuple[str, set[str]]]:
    """{family: (type, label names)}, from a catalog where every family has samples."""
    found = {}
    text = render(collect(config, filled, NOW)).decode("utf-8")
    for family in text_string_to_metric_families(text):
        assert family.samples, f"{family.name} has no sample to show its labels"
        labels = {name for sample in family.samples for name in sample.labels}
        found[family.name] = (family.type, labels)
    return found


def test_every_metric_is_documented_with_its_type_and_labels(
    emitted: dict[str, tuple[str, set[str]]],
) -> None:
    readme = (CONTRIB / "README.md").read_text(encoding="utf-8")
    documented = {
        name: (kind, set(re.findall(r"`(\w+)`", labels)))
        for name, kind, labels in ROW.findall(readme)
    }
    assert documented == emitted
    mentioned = set(NAME.findall(readme)) - {LABEL}
    assert mentioned <= set(emitted)  # no mention of a metric that is gone


def test_alert_rules_use_only_metrics_that_exist(
    emitted: dict[str, tuple[str, set[str]]],
) -> None:
    rules = yaml.safe_load((CONTRIB / "drorch.rules.yml").read_text(encoding="utf-8"))
    alerts: list[dict[str, Any]] = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    used: set[str] = set()
    for alert in alerts:
        assert alert["alert"].startswith("Drorch"), alert
        assert alert["labels"]["severity"] in {"warning", "critical"}, alert
        assert alert["annotations"]["summary"], alert
        used |= set(NAME.findall(alert["expr"])) - {LABEL}
    assert used <= set(emitted)
    readme = (CONTRIB / "README.md").read_text(encoding="utf-8")
    assert {a["alert"] for a in alerts} <= set(re.findall(r"`(Drorch\w+)`", readme))
