"""Helpers shared by the config tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from drorch.config import load_config
from drorch.errors import EXIT_USAGE, ConfigError


def problems(root: Path, *, check_secrets: bool = False, check_metrics: bool = False) -> list[str]:
    """The issues load_config reports, as the user sees them."""
    with pytest.raises(ConfigError) as caught:
        load_config(root, check_secrets=check_secrets, check_metrics=check_metrics)
    assert caught.value.exit_code == EXIT_USAGE
    shown = [str(issue) for issue in caught.value.issues]
    assert str(caught.value) == "\n".join(shown)
    return shown
