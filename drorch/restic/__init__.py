"""The only place that runs restic. See commands (argv), runner (execution), errors (table)."""

from drorch.restic.commands import Repo
from drorch.restic.models import BackupSummary, SnapshotInfo, Version
from drorch.restic.runner import ArtifactDir, Restic

__all__ = ["ArtifactDir", "BackupSummary", "Repo", "Restic", "SnapshotInfo", "Version"]
