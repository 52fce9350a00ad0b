"""A target's kind is chosen here, once, from its config; nothing else asks it again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drorch.config import Config
from drorch.config.model import DiskTarget, TapeTarget
from drorch.targets.base import Target
from drorch.targets.disk import DiskRepositoryTarget
from drorch.targets.tape.target import TapeLibraryTarget

KINDS: dict[type[Any], Callable[[str, Any, Config], Target]] = {
    DiskTarget: lambda name, spec, _config: DiskRepositoryTarget(name, spec),
    TapeTarget: lambda name, spec, config: TapeLibraryTarget(
        name, spec, pool=config.settings.pool(spec.pool), state_dir=config.state_dir
    ),
}


def open_target(name: str, config: Config) -> Target:
    """The target named `name` in the config (UnknownTarget naming the known ones)."""
    spec = config.target(name)
    return KINDS[type(spec)](name, spec, config)


def targets_of(config: Config) -> dict[str, Target]:
    """Every target of the config, by name, in the config's order."""
    return {name: KINDS[type(spec)](name, spec, config) for name, spec in config.targets.items()}
