"""Tape file 0 of every cartridge: the label, a tar archive holding DRORCH-LABEL.json.

The label is one record of 10240 bytes, tar's default record (blocking factor 20), so
that `mt rewind; tar -xOf /dev/nst0 DRORCH-LABEL.json` prints it without knowing anything
about the cartridge; it then says the record size of the archives after it
(`tar -b record_size/512`). A fixed-size text record would be shorter to read, but needs
dd and a description to be understood; a tar archive is what every other file of the
cartridge is too, and what an operator already reads.

    DRORCH-LABEL.json  {"format": "drorch-tape-label", "version": 1, "barcode": "DRO001L8",
                        "pool": "weekly", "media_set": "<uuid>", "sequence": 1,
                        "written_at": "2026-05-09T07:35:25Z", "record_size": 262144}

Writing a label rewinds and starts the cartridge over: everything after it is gone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import BlankCheck
from drorch.targets.tape.format.document import read_document, write_document
from drorch.targets.tape.format.errors import (
    ForeignLabel,
    NotADocument,
    TapeFormatError,
    UnsupportedFormat,
)
from drorch.targets.tape.format.records import check_record_size

LABEL_NAME = "DRORCH-LABEL.json"
LABEL_FORMAT = "drorch-tape-label"
FORMAT_VERSION = 1
LABEL_RECORD = 20 * 512  # tar's default record: `tar -f /dev/nst0` reads it without -b


@dataclass(frozen=True)
class Label:
    barcode: str
    pool: str
    media_set: uuid.UUID
    sequence: int  # 1 for the first cartridge of the media set
    written_at: datetime  # UTC
    record_size: int  # bytes per record of the archives after the label
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.written_at.utcoffset() is None:
            raise TapeFormatError("a label's time is timezone-aware (UTC)")
        # the label keeps whole seconds in UTC: what is read back equals what was written
        object.__setattr__(
            self, "written_at", self.written_at.astimezone(UTC).replace(microsecond=0)
        )
        if self.sequence < 1:
            raise TapeFormatError(
                f"a cartridge's sequence in its media set starts at 1, not {self.sequence}"
            )
        check_record_size(self.record_size)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": LABEL_FORMAT,
            "version": self.version,
            "barcode": self.barcode,
            "pool": self.pool,
            "media_set": str(self.media_set),
            "sequence": self.sequence,
            "written_at": utc_text(self.written_at),
            "record_size": self.record_size,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, what: str = LABEL_NAME) -> Label:
        """The label in `data`; UnsupportedFormat for a newer version, TapeFormatError for
        a field missing or of the wrong type."""
        version = data.get("version")
        if not isinstance(version, int) or version < 1:
            raise TapeFormatError(f"{what}: version {version!r} is not a format version")
        if version > FORMAT_VERSION:
            raise UnsupportedFormat(
                f"{what}: format version {version}; this drorch reads up to {FORMAT_VERSION}"
            )
        try:
            return cls(
                barcode=_field(data, "barcode", str),
                pool=_field(data, "pool", str),
                media_set=uuid.UUID(_field(data, "media_set", str)),
                sequence=_field(data, "sequence", int),
                written_at=parse_utc(_field(data, "written_at", str)),
                record_size=_field(data, "record_size", int),
                version=version,
            )
        except ValueError as exc:
            raise TapeFormatError(f"{what}: {exc}") from exc


def write_label(drive: Drive, label: Label) -> None:
    """Rewind and write `label` as tape file 0; the cartridge holds nothing else after."""
    if label.record_size != drive.record_size:
        raise TapeFormatError(
            f"the label says records of {label.record_size} bytes, the drive writes "
            f"{drive.record_size}"
        )
    drive.rewind()
    write_document(
        drive,
        LABEL_NAME,
        label.to_json(),
        mtime=int(label.written_at.timestamp()),
        record_size=min(LABEL_RECORD, drive.record_size),
        file_number=0,
    )


def read_label(drive: Drive) -> Label | None:
    """Rewind and read tape file 0: the label, or None for a blank cartridge.

    ForeignLabel names what file 0 holds when it is not a drorch label (another program's
    tape, or a drorch label damaged beyond reading)."""
    drive.rewind()
    try:
        first = drive.read_record()
    except BlankCheck:
        return None
    if not first:
        raise ForeignLabel("an empty tape file (a filemark at the beginning of tape)")
    try:
        data = read_document(drive, LABEL_NAME, first=first)
    except NotADocument as exc:
        raise ForeignLabel(f"{exc.found}; it begins {_peek(first)}") from exc
    if data.get("format") != LABEL_FORMAT:
        raise ForeignLabel(f"a {LABEL_NAME} whose format is {data.get('format')!r}")
    return Label.from_json(data)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.utcoffset() is None:
        raise ValueError(f"{text!r} has no timezone")
    return moment.astimezone(UTC)


def _field(data: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{name} is {value!r}, not a {kind.__name__}")
    return value


def _peek(record: bytes) -> str:
    head = record[:16]
    return repr(head.decode("latin-1")) if head.isascii() else head.hex(" ")
