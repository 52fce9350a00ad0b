"""Where backup data lives: disk repositories now; tape libraries behind the same idea later."""

from drorch.targets.disk import open_disk_repository, repository_present
from drorch.targets.locks import remove_locks_of, remove_stale_locks

__all__ = ["open_disk_repository", "remove_locks_of", "remove_stale_locks", "repository_present"]
