"""A restic lock that its restic removes while drorch reads it (locks live a second or
two): restic 0.14 tries again for minutes to read a lock file that is gone, so a reader
that waited on it stalled a daemon's start past systemd's patience (found by
tests/reliability/test_nodes_demo.py: a restarted node never sent READY). The real restic, on a
real repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from drorch.catalog import RunStatus
from drorch.errors import Interrupted
from drorch.targets import targets_of
from drorch.targets.locks import Gone, restic_for
from tests.integration.conftest import Env

pytestmark = pytest.mark.heavy

VANISHED = "ab" * 32  # a lock id no file carries: what a lock removed meanwhile leaves


def test_reading_a_lock_that_is_gone_stops_at_once(env: Env) -> None:
    assert env.run().status is RunStatus.SUCCEEDED
    repo = targets_of(env.config)["primary"].repo  # type: ignore[attr-defined]
    restic = restic_for(env.config)
    path = Path(repo.location) / "locks" / VANISHED
    with pytest.raises(Interrupted):  # stopped for the file being gone, not by restic
        restic.lock_info(repo, VANISHED, gone=Gone(path))  # giving up after 45 s
