"""Action keys: the one name of a job's action in the config, the scheduler and the catalog.

Most actions are named by their verb alone ("snapshot", "prune", "restore-test"); a
replication also names its destination ("replicate:replica"): each destination has its own
schedule, lock and history. The catalog keeps the spelled key in its `action` columns,
which are as wide as the longest key a valid config can produce (ACTION_MAX).

Only this module spells and parses a key; it imports nothing of drorch, so that every
layer (config, catalog, actions, scheduler, cli) may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

NAME_MAX = 64  # the longest name of a job, target, policy, pool or runbook in a config root
SEPARATOR = ":"
REPLICATE = "replicate"  # the one verb that names a target: each destination its own key
ACTION_MAX = len(REPLICATE) + len(SEPARATOR) + NAME_MAX  # the longest key: a catalog width


@dataclass(frozen=True)
class ActionKey:
    """An action of a job: its verb ("snapshot", "replicate", ...) and, for a replication
    towards one destination, that target."""

    verb: str
    target: str | None = None

    @classmethod
    def parse(cls, text: str) -> ActionKey:
        verb, sep, target = text.partition(SEPARATOR)
        return cls(verb, target if sep and target else None)

    @classmethod
    def replicate(cls, target: str) -> ActionKey:
        return cls(REPLICATE, target)

    def spell(self) -> str:
        return self.verb if self.target is None else f"{self.verb}{SEPARATOR}{self.target}"

    def __str__(self) -> str:
        return self.spell()


def verb_of(action: str) -> str:
    """The verb of a spelled key: "replicate" for "replicate:replica"."""
    return ActionKey.parse(action).verb


def replicate_key(target: str) -> str:
    """The spelled key of a replication towards `target`: "replicate:replica"."""
    return ActionKey.replicate(target).spell()
