"""Tape files 1 and on: POSIX pax tar archives of restic repository files, in fixed records.

    with ArchiveWriter(drive) as archive:           # at the start of a tape file
        archive.add_file("data/ab/abcd…", repository / "data/ab/abcd…")
        written = archive.finish()                  # the last record, then the filemark
    extract(drive, written.file_number, written.members, staging)

Members keep their repository-relative paths, so the archives of a media set extracted
into one folder are the repository. The writer streams: no archive is held in memory; it
reads each file straight into the record buffers and hashes it (SHA-256) in a second
thread while the records are written (hashing.py). It writes what tarfile writes
(tarfile's headers, its padding, its end of archive) without tarfile's copies. The reader
checks every member it extracts against the size and SHA-256 it is given.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tarfile
from dataclasses import dataclass
from io import RawIOBase
from pathlib import Path, PurePosixPath
from types import TracebackType

from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import EndOfMedia, TapeError
from drorch.targets.tape.format.errors import (
    ArchiveDamaged,
    ArchiveInterrupted,
    ChecksumMismatch,
    MemberMissing,
    TapeFormatError,
    UnsafeMemberPath,
)
from drorch.targets.tape.format.hashing import HashThread
from drorch.targets.tape.format.records import (
    TAR_BLOCK,
    EarlyWarning,
    RecordReader,
    RecordWriter,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One file in one archive, as written."""

    path: str  # repository-relative, "/"-separated
    size: int
    sha256: str  # hex
    file_number: int  # the tape file holding it
    offset: int  # where its tar header starts in the tape file, in bytes


@dataclass(frozen=True)
class Archive:
    """One tape file written whole. `early_warning`: its last record reached the early
    warning zone, so the next archive belongs on the next cartridge."""

    file_number: int
    members: tuple[Member, ...]
    records: int
    early_warning: bool


class ArchiveWriter:
    """One tape file, written from the head: members go in one by one, `finish()` ends it.

    The head must be at the start of a tape file (usually end of data). With
    `stop_at_early_warning` (archives of data), the early warning or the end of media
    before the archive is whole raises ArchiveInterrupted and puts the head back at the
    archive's start; labels and indexes are written into the early-warning zone, which is
    there for them.
    """

    def __init__(
        self,
        drive: Drive,
        *,
        file_number: int | None = None,
        record_size: int | None = None,
        stop_at_early_warning: bool = True,
    ) -> None:
        self.drive = drive
        self.file_number = _file_number(drive, file_number)
        self._start = drive.tell()
        self._records = RecordWriter(
            drive, record_size or drive.record_size, stop_at_early_warning=stop_at_early_warning
        )
        self._members: list[Member] = []
        self._done = False

    def add_file(self, path: str, source: Path) -> Member:
        """Stream the regular file `source` into the archive as `path`."""
        check_member_path(path)
        with source.open("rb", buffering=0) as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise TapeFormatError(f"{source} is not a regular file")
            return self._add(path, info.st_size, int(info.st_mtime), handle)

    def add_bytes(self, path: str, data: bytes, *, mtime: int) -> Member:
        """A member from memory (a label, an index)."""
        check_member_path(path)
        return self._add(path, len(data), mtime, data)

    def finish(self) -> Archive:
        """End the archive (tar's two zero blocks, the last record padded) and the tape
        file (a filemark)."""
        try:
            # tarfile's end of archive: two zero blocks, then zeros to its 10240-byte
            # record (its default blocking), then the tape record's padding
            self._records.write_zeros(2 * TAR_BLOCK)
            self._records.write_zeros(-self._records.tell() % tarfile.RECORDSIZE)
            self._records.finish()
            self.drive.weof()
        except (EarlyWarning, EndOfMedia) as exc:
            raise self._interrupted(None, exc) from exc
        self._done = True
        return Archive(
            self.file_number,
            tuple(self._members),
            self._records.records,
            self.drive.status().early_warning,
        )

    def _add(self, path: str, size: int, mtime: int, source: RawIOBase | bytes) -> Member:
        if self._done:
            raise TapeFormatError(f"tape file {self.file_number} is already finished")
        info = tarfile.TarInfo(path)
        info.size, info.mtime, info.mode = size, mtime, 0o600
        digest = hashlib.sha256()
        offset = self._records.tell()
        try:
            self._records.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            if isinstance(source, bytes):
                digest.update(source)
                self._records.write(source)
                written = size
            else:
                with HashThread() as hasher:
                    written = self._records.write_from(source, size, digest, hasher)
                    hasher.wait()
            if written == size:
                self._records.write_zeros(-size % TAR_BLOCK)
        except (EarlyWarning, EndOfMedia) as exc:
            raise self._interrupted(path, exc) from exc
        except OSError as exc:
            self._abandon()
            raise TapeFormatError(f"{path} could not be read while it was written: {exc}") from exc
        if written != size:
            self._abandon()
            raise TapeFormatError(
                f"{path} changed while it was written: {written} of its {size} bytes were there"
            )
        member = Member(path, size, digest.hexdigest(), self.file_number, offset)
        self._members.append(member)
        return member

    def _interrupted(self, path: str | None, cause: TapeError) -> ArchiveInterrupted:
        self._abandon()
        what = "early warning" if isinstance(cause, EarlyWarning) else "end of media"
        where = f" while writing {path}" if path else " while ending it"
        return ArchiveInterrupted(
            f"tape file {self.file_number} is incomplete: {what}{where} ({cause}); "
            "write the archive whole on the next cartridge",
            file_number=self.file_number,
            member=path,
        )

    def _abandon(self) -> None:
        """Put the head back at the start of the incomplete tape file, so that the next
        write replaces it. The drive first ends what was written with a filemark; at the
        end of media even that may not fit, and the drive gives up the filemark (st does
        too), so the second try moves."""
        self._done = True
        try:
            self.drive.seek(self._start)
        except EndOfMedia:
            self.drive.seek(self._start)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._done and kind is not None:
            try:
                self._abandon()
            except TapeError as exc:
                log.warning("tape file %d left incomplete: %s", self.file_number, exc)


def extract(
    drive: Drive,
    file_number: int,
    members: tuple[Member, ...] | list[Member],
    folder: Path,
    *,
    barcode: str = "the cartridge",
) -> tuple[Path, ...]:
    """Read tape file `file_number` and extract `members` under `folder` by their paths,
    each checked against its size and SHA-256 before it takes its name."""
    wanted = {member.path: member for member in members}
    for path in wanted:
        check_member_path(path)
    position(drive, file_number)
    records = RecordReader(drive)
    record_size = drive.record_size
    done: list[Path] = []
    try:
        with tarfile.open(fileobj=records, mode="r|", bufsize=record_size) as tar:  # type: ignore[call-overload]
            for info in tar:
                member = wanted.pop(info.name, None)
                if member is None:
                    continue
                span = range(
                    info.offset_data // record_size,
                    (info.offset_data + max(info.size, 1) - 1) // record_size + 1,
                )
                where = f"{barcode} tape file {file_number} records {span.start}-{span.stop - 1}"
                done.append(_extract_one(tar, info, member, folder, where, span))
                if not wanted:
                    break
    except tarfile.TarError as exc:
        raise ArchiveDamaged(
            f"{barcode} tape file {file_number} is not a whole tar archive: {exc}"
        ) from exc
    if wanted:
        raise MemberMissing(
            f"{barcode} tape file {file_number} does not hold {', '.join(sorted(wanted))}"
        )
    return tuple(done)


def position(drive: Drive, file_number: int) -> None:
    """The head to the first record of tape file `file_number`."""
    drive.rewind()
    if file_number:
        drive.fsf(file_number)


def check_member_path(path: str) -> None:
    """A member path is relative, "/"-separated, without "." or ".." or empty parts."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\0" in path or "\\" in path:
        raise UnsafeMemberPath(f"{path!r} is not a repository-relative path")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafeMemberPath(f"{path!r} is not a repository-relative path")


def _extract_one(
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    member: Member,
    folder: Path,
    where: str,
    span: range,
) -> Path:
    target = folder.joinpath(*PurePosixPath(member.path).parts)
    source = tar.extractfile(info) if info.isreg() else None
    if source is None:
        raise ArchiveDamaged(f"{where}: {member.path} is not a regular file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    with partial.open("wb") as out:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    if size != member.size or digest.hexdigest() != member.sha256:
        partial.unlink()
        raise ChecksumMismatch(
            f"{where}: {member.path} read back as {size} bytes with SHA-256 "
            f"{digest.hexdigest()}, written as {member.size} bytes with {member.sha256}",
            member=member.path,
            file_number=member.file_number,
            records=span,
        )
    partial.replace(target)
    return target


def _file_number(drive: Drive, given: int | None) -> int:
    status = drive.status()
    if status.block_number not in (0, None):
        raise TapeFormatError(
            f"the head is at record {status.block_number} of tape file {status.file_number}, "
            "not at the start of a tape file"
        )
    if given is not None:
        if status.file_number not in (given, None):
            raise TapeFormatError(f"the head is at tape file {status.file_number}, not {given}")
        return given
    if status.file_number is None:
        raise TapeFormatError("the drive does not know its file number: name it")
    return status.file_number
