"""Where backup data lives: disk repositories and tape libraries behind one interface.

Actions get a Target from open_target/targets_of and ask it for what they need (its
repository to write or read, its placement, what it can do); they never test its kind.
"""

from drorch.targets.base import Capability, Target
from drorch.targets.disk import free_bytes
from drorch.targets.factory import open_target, targets_of
from drorch.targets.locks import remove_locks_of, remove_stale_locks, restic_for

__all__ = [
    "Capability",
    "Target",
    "free_bytes",
    "open_target",
    "remove_locks_of",
    "remove_stale_locks",
    "restic_for",
    "targets_of",
]
