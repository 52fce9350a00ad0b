"""The config root and catalog of the compliance rule tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from drorch.catalog import Catalog
from drorch.config import Config, load_config
from tests.conftest import write_root
from tests.unit.policy.test_rules import DRORCH, JOB, POLICY


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """One job `app` (snapshots to primary, replicates to replica) under policy `strict`."""
    root = write_root(
        tmp_path / "root", drorch=DRORCH, jobs={"app": JOB}, policies={"strict": POLICY}
    )
    return load_config(root, check_secrets=False)


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    """Each test runs on SQLite and on PostgreSQL: the rules read the catalog's facts."""
    return any_catalog
