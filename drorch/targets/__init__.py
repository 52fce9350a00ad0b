"""Where backup data lives: disk repositories now; tape libraries behind the same idea later."""

from drorch.targets.disk import open_disk_repository

__all__ = ["open_disk_repository"]
