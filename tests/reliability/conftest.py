"""The fault-injection suite's fixtures: those of the CLI tests (`cli`, drorch as a
subprocess) and of the integration tests (`make_env`, `env`: a config root with its
catalog, actions called in-process), re-exported rather than copied, so that a fault case
sets up exactly as the case without the fault does."""

from __future__ import annotations

from tests.e2e.conftest import cli
from tests.integration.conftest import env, make_env

__all__ = ["cli", "env", "make_env"]
