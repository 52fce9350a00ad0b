"""A config root's catalog, opened knowing what its config says about earlier use."""

from __future__ import annotations

from pathlib import Path

from drorch.catalog import Catalog, open_catalog
from drorch.config import Config
from drorch.targets import targets_of


def repository_paths(config: Config) -> list[Path]:
    """Where the targets' restic repositories lie on this host's filesystems: one found
    there shows that a catalog recorded it, so a missing catalog is lost, not new."""
    folders = (target.repository_folder for target in targets_of(config).values())
    return [folder for folder in folders if folder is not None]


def open_config_catalog(config: Config) -> Catalog:
    """The config root's catalog; CatalogLost rather than a new, empty one in its place."""
    return open_catalog(
        config.settings.catalog, config.state_dir, repositories=repository_paths(config)
    )
