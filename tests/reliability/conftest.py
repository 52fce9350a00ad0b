"""The fault-injection suite's fixtures: those of the CLI tests (`cli`, drorch as a
subprocess) and of the integration tests (`make_env`, `env`: a config root with its
catalog, actions called in-process), re-exported rather than copied, so that a fault case
sets up exactly as the case without the fault does (the runbook and tape roots too)."""

from __future__ import annotations

from tests.e2e.conftest import cli
from tests.e2e.test_runbook_cli import root
from tests.integration.conftest import env, make_env
from tests.integration.test_runbooks import runbook_env
from tests.integration.test_tape_out import small
from tests.integration.test_tape_scsi import scsi

__all__ = ["cli", "env", "make_env", "root", "runbook_env", "scsi", "small"]
