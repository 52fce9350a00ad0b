"""Which daemon leads: one interface, two kinds, chosen once by the catalog's backend.

- PostgreSQL (several daemons, one catalog): a session-level advisory lock held on a
  dedicated connection; the daemon that takes it raises the epoch and leads until that
  session ends. Standbys try again every RETRY seconds.
- SQLite (one daemon per state dir, hold_daemon_lock): that daemon always leads; it still
  raises the epoch at start, so that every run and evidence record it writes carries one.

The daemon asks `try_lead()` while it stands by and `holds()` while it leads; a fenced
write refused (Deposed) tells it sooner.
"""

from __future__ import annotations

import os
from typing import Protocol

from drorch.catalog import Catalog
from drorch.catalog.leadership import AdvisoryLock, lock_key, take_on

RETRY = float(os.environ.get("DRORCH_LEADERSHIP_EVERY", "3"))  # seconds between tries/checks


class Leadership(Protocol):
    def try_lead(self) -> int | None:
        """Lead if nobody does: the new epoch, or None. SQLAlchemyError: no catalog."""

    def holds(self) -> bool:
        """Whether this daemon still leads (it did at its last try_lead)."""

    def close(self) -> None: ...


class Solo:
    """SQLite: this daemon is the only one; it leads from start to stop."""

    def __init__(self, catalog: Catalog, node: str, node_id: int) -> None:
        self._catalog, self._node, self._node_id = catalog, node, node_id

    def try_lead(self) -> int | None:
        return take_on(self._catalog, node=self._node, node_id=self._node_id)

    def holds(self) -> bool:
        return True

    def close(self) -> None:
        pass


class Elected:
    """PostgreSQL: whoever holds the catalog's advisory lock leads."""

    def __init__(self, catalog: Catalog, node: str, node_id: int) -> None:
        assert catalog.anchor is not None
        self._lock = AdvisoryLock(catalog, lock_key(catalog.anchor.identity.id))
        self._node, self._node_id = node, node_id

    def try_lead(self) -> int | None:
        return self._lock.try_take(node=self._node, node_id=self._node_id)

    def holds(self) -> bool:
        return self._lock.holds()

    def close(self) -> None:
        self._lock.dispose()


def leadership_for(catalog: Catalog, node: str, node_id: int) -> Leadership:
    if catalog.engine.dialect.name == "postgresql":
        return Elected(catalog, node, node_id)
    return Solo(catalog, node, node_id)
