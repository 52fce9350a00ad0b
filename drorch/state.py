"""A config root's catalog, opened knowing what its config says about earlier use."""

from __future__ import annotations

from pathlib import Path

from drorch.catalog import Catalog, open_catalog
from drorch.config import Config
from drorch.config.model import DiskTarget


def repository_paths(config: Config) -> list[Path]:
    """Where the disk targets' restic repositories are: one found there shows that a
    catalog recorded it, so a missing catalog is lost, not new."""
    return [target.path for target in config.targets.values() if isinstance(target, DiskTarget)]


def open_config_catalog(config: Config) -> Catalog:
    """The config root's catalog; CatalogLost rather than a new, empty one in its place."""
    return open_catalog(
        config.settings.catalog, config.state_dir, repositories=repository_paths(config)
    )
