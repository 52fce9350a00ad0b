"""Which nodes may run an action: those that reach every target it uses (`nodes:`)."""

from __future__ import annotations

import pytest

from drorch.config import load_config
from drorch.config.placement import allowed_nodes
from tests.conftest import DRORCH_YAML, RootFactory
from tests.unit.config.conftest import problems

PLACED = DRORCH_YAML.replace(
    "site: dc1, jurisdiction: ML, min_free: 1MiB}",
    "site: dc1, jurisdiction: ML, min_free: 1MiB, nodes: [n1, n2]}",
).replace(
    "site: dc2, jurisdiction: ML, min_free: 1MiB}",
    "site: dc2, jurisdiction: ML, min_free: 1MiB, nodes: [NODES]}",
)

JOB = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 15m"}
replicate: [{to: replica}]
restore_test: {from: [replica]}
prune: {schedule: "0 3 * * *"}
"""


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ("snapshot", {"n1", "n2"}),  # its target's nodes
        ("replicate:replica", {"n2"}),  # both ends: {n1, n2} and {n2, n3}
        ("restore-test", {"n2", "n3"}),  # the copy it tests
        ("prune", {"n2"}),  # every copy
        ("drill", None),  # a runbook: anywhere
    ],
)
def test_an_action_runs_on_the_nodes_common_to_its_targets(
    make_root: RootFactory, action: str, allowed: set[str] | None
) -> None:
    root = make_root(drorch=PLACED.replace("NODES", "n2, n3"), jobs={"app": JOB})
    config = load_config(root, check_secrets=False)
    found = allowed_nodes(config.targets, config.jobs["app"], action)
    assert found == (None if allowed is None else frozenset(allowed))


def test_targets_without_nodes_are_reached_from_everywhere(make_root: RootFactory) -> None:
    config = load_config(make_root(jobs={"app": JOB}), check_secrets=False)
    assert allowed_nodes(config.targets, config.jobs["app"], "replicate:replica") is None


def test_an_action_no_node_could_run_is_refused_with_its_file_and_field(
    make_root: RootFactory,
) -> None:
    root = make_root(drorch=PLACED.replace("NODES", "n3"), jobs={"app": JOB})
    assert problems(root) == [
        "jobs/app.yaml:4: replicate[0].to: no node reaches all of primary (nodes: n1, n2), "
        "replica (nodes: n3): replicate:replica could run nowhere",
        "jobs/app.yaml:6: prune: no node reaches all of primary (nodes: n1, n2), "
        "replica (nodes: n3): prune could run nowhere",
    ]
