"""The catalog archive: the last tape file of each write session, a tar archive holding
DRORCH-INDEX.json. It repeats the cartridge's label and lists every archive written on
the cartridge for its media set so far, member by member, so that a catalog is rebuilt
from the cartridges alone (`drorch tape scan`), or a person finds a file with `tar -xO`.

    {"format": "drorch-tape-index", "version": 1, "file": 4,
     "written_at": "2026-05-09T08:00:00Z", "label": {...the label's fields...},
     "archives": [{"file": 1, "members": [{"path": "config", "size": 155,
                                           "sha256": "…", "offset": 0}, ...]}, ...]}

`file` is the index's own tape file number; `offset` is where a member's tar header
starts in its tape file, in bytes (its record: offset // record_size).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import BeginningOfMedia
from drorch.targets.tape.format.archive import Member, position
from drorch.targets.tape.format.document import read_document, write_document
from drorch.targets.tape.format.errors import TapeFormatError, UnsupportedFormat
from drorch.targets.tape.format.label import (
    FORMAT_VERSION,
    LABEL_NAME,
    Label,
    parse_utc,
    utc_text,
)

INDEX_NAME = "DRORCH-INDEX.json"
INDEX_FORMAT = "drorch-tape-index"


@dataclass(frozen=True)
class ArchiveEntry:
    file_number: int
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Index:
    label: Label
    file_number: int  # the index's own tape file
    written_at: datetime  # UTC, whole seconds
    archives: tuple[ArchiveEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": INDEX_FORMAT,
            "version": FORMAT_VERSION,
            "file": self.file_number,
            "written_at": utc_text(self.written_at),
            "label": self.label.to_json(),
            "archives": [
                {
                    "file": entry.file_number,
                    "members": [
                        {"path": m.path, "size": m.size, "sha256": m.sha256, "offset": m.offset}
                        for m in entry.members
                    ],
                }
                for entry in self.archives
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Index:
        if data.get("format") != INDEX_FORMAT:
            raise TapeFormatError(f"{INDEX_NAME}: format {data.get('format')!r}")
        version = data.get("version")
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise UnsupportedFormat(
                f"{INDEX_NAME}: format version {version}; this drorch reads up to {FORMAT_VERSION}"
            )
        try:
            label_data = data["label"]
            if not isinstance(label_data, dict):
                raise TypeError("label is not an object")
            return cls(
                label=Label.from_json(label_data, what=f"{INDEX_NAME} label"),
                file_number=_integer(data["file"]),
                written_at=parse_utc(data["written_at"]),
                archives=tuple(_entry(entry) for entry in data["archives"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TapeFormatError(f"{INDEX_NAME} is not a drorch index: {exc!r}") from exc


def write_index(drive: Drive, index: Index) -> None:
    """Write `index` as the tape file at the head (which must be its `file_number`)."""
    write_document(
        drive,
        INDEX_NAME,
        index.to_json(),
        mtime=int(index.written_at.timestamp()),
        file_number=index.file_number,
    )


def read_index(drive: Drive, file_number: int) -> Index:
    """The index in tape file `file_number`; NotADocument when it holds something else."""
    position(drive, file_number)
    return Index.from_json(read_document(drive, INDEX_NAME))


def read_last_index(drive: Drive) -> Index | None:
    """The index of the cartridge's last write session: its last tape file. None when
    the cartridge holds nothing after its label; NotADocument (naming what it holds) when
    the last session ended without its index."""
    drive.eom()
    try:
        drive.bsf(2)  # before the filemark ending the file before the last one
    except BeginningOfMedia:
        drive.rewind()  # the last file is file 0
    else:
        drive.fsf(1)
    if drive.status().bot:
        read_document(drive, LABEL_NAME)
        return None
    return Index.from_json(read_document(drive, INDEX_NAME))


def _entry(data: Any) -> ArchiveEntry:
    number = _integer(data["file"])
    return ArchiveEntry(
        number,
        tuple(
            Member(
                path=str(m["path"]),
                size=_integer(m["size"]),
                sha256=str(m["sha256"]),
                file_number=number,
                offset=_integer(m["offset"]),
            )
            for m in data["members"]
        ),
    )


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value
