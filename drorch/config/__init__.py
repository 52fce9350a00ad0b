"""The config root, parsed at the edge into frozen objects."""

from drorch.config.loader import Config, load_config, resolve_root

__all__ = ["Config", "load_config", "resolve_root"]
