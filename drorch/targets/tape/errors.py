"""Typed tape errors: what a drive or a changer refused, named so callers can act on it.

Each error a drive raises names the condition the Linux st driver reports (an errno, a
sense key) in the drive's own words: a caller tells "the cartridge is full" from "the
cartridge is damaged" by the class, never by parsing a message.
"""

from __future__ import annotations

from drorch.errors import DrorchError, LockBusy


class TapeError(DrorchError):
    """A tape drive, a cartridge or a changer failed; the root of the tape errors."""


class NoCartridge(TapeError):
    """The drive holds no cartridge, or holds one that is ejected (ENOMEDIUM, not ready)."""


class WriteProtected(TapeError):
    """The cartridge's write-protect tab is set: nothing was written (EACCES/EROFS)."""


class EndOfMedia(TapeError):
    """The physical end of the cartridge: the record or filemark was not written, nothing of
    it is on tape, and end of data is where the write began."""


class BlankCheck(TapeError):
    """Reading or spacing forward ran into end of data: there is nothing recorded here."""


class BeginningOfMedia(TapeError):
    """Spacing backward reached the beginning of the tape before the count was done."""


class FilemarkCrossed(TapeError):
    """Spacing over records met a filemark: the head is past it (forward) or before it
    (backward), and `remaining` records of the count were not spaced (None: not known)."""

    def __init__(self, message: str, *, remaining: int | None) -> None:
        self.remaining = remaining
        super().__init__(message)


class RecordSizeError(TapeError):
    """A record is empty or larger than the drive's record size (EINVAL, ENOMEM)."""


class TapeIOError(TapeError):
    """A medium or hardware error: the record here cannot be read or written (EIO)."""


class DriveBusy(TapeError, LockBusy):
    """Another process has the drive open; the message names it where it can be known."""


class LibraryStateError(TapeError):
    """A virtual library's files are missing, damaged or contradict each other."""


class ChangerError(TapeError):
    """The changer (robot) refused or failed a move, or its inventory cannot be read."""


class NoSuchElement(ChangerError):
    """A slot or drive number the library does not have."""


class ElementEmpty(ChangerError):
    """The source of a move holds no cartridge."""


class ElementFull(ChangerError):
    """The destination of a move already holds a cartridge."""


class DriveNotUnloaded(ChangerError):
    """The cartridge is still loaded in the drive: unload it there first (`mt offline`)."""


class CleaningCartridge(ChangerError):
    """A cleaning cartridge (barcode CLN...) was asked for where data goes."""


class CartridgeNotInLibrary(ChangerError):
    """No slot or drive of the library holds the cartridge with this barcode."""

    def __init__(self, barcode: str) -> None:
        self.barcode = barcode
        super().__init__(f"cartridge {barcode} is not in the library")


class CartridgeRefused(TapeError):
    """A cartridge chosen for writing holds what drorch may not write over or append to (a
    foreign label, another pool's or media set's label); the message names its barcode."""

    def __init__(self, barcode: str, why: str) -> None:
        self.barcode = barcode
        super().__init__(f"cartridge {barcode} refused: {why}")


class TapeOutFailed(TapeError):
    """A tape-out stopped: the message names the cartridge and the position on it. The
    archives verified before it are recorded and stay readable."""
