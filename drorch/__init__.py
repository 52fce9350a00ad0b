"""drorch: backup, replication and disaster-recovery orchestration around restic."""

__version__ = "0.1.0"
