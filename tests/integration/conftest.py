from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drorch.actions import ACTIONS, Request, execute
from drorch.catalog import Catalog, RunRecord, open_catalog
from drorch.config import Config, load_config


@dataclass
class Env:
    root: Path
    config: Config
    catalog: Catalog

    def run(self, job: str = "app", action: str = "snapshot", **kwargs: Any) -> RunRecord:
        return execute(
            self.config, self.catalog, Request(job=job, action=action, **kwargs), ACTIONS
        )

    def reload(self) -> None:
        self.config = load_config(self.root)


@pytest.fixture
def make_env(make_root: Callable[..., Path], restic_bin: str) -> Callable[..., Env]:
    def factory(**kwargs: Any) -> Env:
        root = make_root(**kwargs)
        config = load_config(root)
        return Env(root, config, open_catalog(None, config.state_dir))

    return factory


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()
