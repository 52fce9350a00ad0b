"""How every command opens the catalog: the one place, so that all of them notice runs
left behind by a process that died."""

from __future__ import annotations

import os
import socket

from drorch.catalog import Catalog
from drorch.catalog.daemon import running_on
from drorch.config import Config
from drorch.state import open_config_catalog


def open_command_catalog(config: Config) -> Catalog:
    """The catalog, after marking INTERRUPTED the runs whose process is gone (whoever
    opens it first notices). One indexed query when nothing runs on this host; the
    process checks, and restic, only when something does."""
    catalog = open_config_catalog(config)
    if running_on(catalog, socket.gethostname()):
        from drorch.service.recovery import notice_dead_runs

        notice_dead_runs(config, catalog, noticed_by=f"a drorch command (pid {os.getpid()})")
    return catalog
