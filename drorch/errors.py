"""The one error hierarchy. Every domain failure is a DrorchError with an exit code.

Exit codes are the command-line contract: 1 a failed operation, 2 bad usage or
invalid configuration, 3 a policy violation found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_VIOLATION = 3


class DrorchError(Exception):
    """Root of every error drorch reports to a user."""

    exit_code = EXIT_FAILED


class UsageError(DrorchError):
    """The command line asked for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the config root, located by file, line and field path."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ConfigError(DrorchError):
    """The config root is invalid; carries every issue found, not just the first."""

    exit_code = EXIT_USAGE

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class UnknownJob(UsageError):
    pass


class UnknownTarget(UsageError):
    pass


class UnknownNode(UsageError):
    """No daemon ever ran on the catalog under that node name."""


class UnknownSnapshot(UsageError):
    pass


class DestinationNotEmpty(UsageError):
    pass


class SourceMissing(DrorchError):
    """A source path of a job does not exist (restic 0.14 would exit 0 and skip it)."""


class HookFailed(DrorchError):
    pass


class TargetOffline(DrorchError):
    """A target the catalog knows is not there: unmounted disk, missing repository."""


class TargetFull(DrorchError):
    pass


class CatalogError(DrorchError):
    pass


class CatalogUnreachable(CatalogError):
    """The catalog's server cannot be reached (down, refused, unknown host): a daemon waits
    and tries again; a command fails with the message, which names the catalog without
    its password."""


class CatalogLost(CatalogError):
    """The catalog is not the one this state dir has used: missing, empty, replaced, or
    removed while open. drorch refuses it rather than start a history silently anew."""


class CatalogCorrupt(CatalogError):
    """The catalog's file is damaged (truncated, overwritten): rebuild it, or put a copy back."""


class CatalogReadOnly(CatalogError):
    """The catalog, or the folder its journal goes in, cannot be written."""


class CatalogLocked(CatalogError):
    """Another process held the catalog's write lock longer than drorch waits."""


class ResticError(DrorchError):
    """restic failed. Carries the masked argv, the exit code and the tail of stderr."""

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        exit_code: int | None = None,
        stderr_tail: str = "",
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = exit_code
        self.stderr_tail = stderr_tail
        super().__init__(message)


class ResticNotFound(ResticError):
    pass


class WrongPassword(ResticError):
    pass


class RepositoryMissing(ResticError):
    pass


class RepositoryLocked(ResticError):
    pass


class RepositoryFull(ResticError, TargetFull):
    """restic could not write to a repository: its filesystem is full (or over its quota).

    A TargetFull too, like drorch's own min_free check before it writes."""


class PartialSnapshot(ResticError):
    """restic wrote a snapshot but could not read some source files (exit 3)."""

    def __init__(self, message: str, *, snapshot_id: str | None, **kwargs: object) -> None:
        self.snapshot_id = snapshot_id
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class Interrupted(ResticError):
    pass


class ResticTimeout(ResticError):
    pass


class LockBusy(DrorchError):
    """A lock is held by another live process; the message names the holder."""

    def __init__(
        self, message: str, *, holder_pid: int | None = None, holder_run: int | None = None
    ) -> None:
        self.holder_pid = holder_pid
        self.holder_run = holder_run
        super().__init__(message)


class ResidencyViolation(DrorchError):
    """Data would go to a target outside its policy's allowed jurisdictions."""


class MetricsError(DrorchError):
    """The metrics could not be published (the text file cannot be written)."""


class EvidenceError(DrorchError):
    """The evidence log cannot be written or read as asked (bad record, damaged log)."""


class EvidenceKeyError(EvidenceError):
    """The evidence signing key is missing, unreadable or not Ed25519: nothing can be signed."""

    exit_code = EXIT_USAGE


class Deposed(CatalogError):
    """A fenced write (a daemon's run start or evidence append) found that the leadership
    epoch is no longer the daemon's own: another node leads now. Nothing was written."""

    def __init__(self, message: str, *, leader: str | None = None, epoch: int | None = None):
        self.leader = leader
        self.epoch = epoch
        super().__init__(message)


class SlotTaken(DrorchError):
    """A scheduled slot of a job's action was claimed by another run already (it ran or
    runs elsewhere): this one is not started, and nothing was written."""
