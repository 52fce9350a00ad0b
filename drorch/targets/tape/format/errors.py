"""Typed errors of the on-tape format: what was found on a cartridge that is not what the
format promises, named so that a caller acts on the class, never on a message."""

from __future__ import annotations

from drorch.targets.tape.errors import TapeError


class TapeFormatError(TapeError):
    """A cartridge's content does not follow drorch's tape format; the root of these."""


class ForeignLabel(TapeFormatError):
    """File 0 of the cartridge is not a drorch label; `found` says what it is instead."""

    def __init__(self, found: str) -> None:
        self.found = found
        super().__init__(f"the cartridge is not labelled by drorch: file 0 is {found}")


class UnsupportedFormat(TapeFormatError):
    """A drorch label or index of a format version this drorch does not read."""


class ArchiveDamaged(TapeFormatError):
    """A tape file that should be a tar archive cannot be read as one."""


class MemberMissing(TapeFormatError):
    """An archive does not hold a member it was expected to hold."""


class UnsafeMemberPath(TapeFormatError):
    """A member's path would land outside the folder it is extracted to, or is not a
    repository-relative path (absolute, `..`, empty)."""


class ChecksumMismatch(TapeFormatError):
    """A member read back is not what was written: its SHA-256 or its size differs."""

    def __init__(self, message: str, *, member: str, file_number: int, records: range) -> None:
        self.member = member
        self.file_number = file_number
        self.records = records
        super().__init__(message)


class ArchiveInterrupted(TapeFormatError):
    """The cartridge reached its early warning or its end in the middle of an archive.

    The archive is incomplete and must be written whole on the next cartridge. Every tape
    file before `file_number` is untouched; the head is back at the start of `file_number`,
    so that the next write (the session's index) replaces the incomplete archive.
    """

    def __init__(self, message: str, *, file_number: int, member: str | None) -> None:
        self.file_number = file_number
        self.member = member
        super().__init__(message)


class NotADocument(TapeFormatError):
    """A tape file that should hold one JSON document (a label, an index) does not;
    `found` says what it holds instead."""

    def __init__(self, message: str, *, found: str) -> None:
        self.found = found
        super().__init__(message)
