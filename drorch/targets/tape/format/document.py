"""A tape file holding one JSON document: a pax tar archive of one member, readable with
`tar -xO`. Labels and indexes are such files."""

from __future__ import annotations

import json
import tarfile
from typing import Any

from drorch.targets.tape.drive import Drive
from drorch.targets.tape.errors import RecordSizeError
from drorch.targets.tape.format.archive import Archive, ArchiveWriter
from drorch.targets.tape.format.errors import NotADocument
from drorch.targets.tape.format.records import RecordReader

MAX_DOCUMENT = 64 * 1024 * 1024  # an index of a few hundred thousand members fits


def encode(document: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, UTF-8, indented so that a person reads it on a terminal."""
    return (json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def write_document(
    drive: Drive,
    name: str,
    document: dict[str, Any],
    *,
    mtime: int,
    record_size: int | None = None,
    file_number: int | None = None,
) -> Archive:
    """One tape file at the head holding `document` as member `name`. Written into the
    early-warning zone too: that zone is kept for the label and the index."""
    with ArchiveWriter(
        drive, file_number=file_number, record_size=record_size, stop_at_early_warning=False
    ) as writer:
        writer.add_bytes(name, encode(document), mtime=mtime)
        return writer.finish()


def read_document(drive: Drive, name: str, *, first: bytes | None = None) -> dict[str, Any]:
    """The JSON object held as `name` by the tape file at the head (whose first record
    may already have been read: `first`). NotADocument says what is there instead."""
    records = RecordReader(drive, first)
    try:
        with tarfile.open(fileobj=records, mode="r|") as tar:  # type: ignore[call-overload]
            info = tar.next()
            if info is None:
                raise _not(name, "an empty tar archive")
            if info.name != name or not info.isreg():
                raise _not(name, f"a tar archive whose first member is {info.name!r}")
            if info.size > MAX_DOCUMENT:
                raise _not(name, f"a tar archive with a {info.name} of {info.size} bytes")
            source = tar.extractfile(info)
            assert source is not None  # a regular file
            data = source.read()
    except tarfile.TarError as exc:
        raise _not(name, f"not a tar archive ({_sample(records, exc)})") from exc
    except RecordSizeError as exc:
        raise _not(name, f"a tape file of records larger than {drive.record_size} bytes") from exc
    if len(data) != info.size:
        raise _not(name, f"a truncated {name}")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _not(name, f"a {name} that is not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise _not(name, f"a {name} that is not a JSON object")
    return document


def _not(name: str, found: str) -> NotADocument:
    return NotADocument(f"expected a tar archive holding {name}, found {found}", found=found)


def _sample(records: RecordReader, exc: Exception) -> str:
    return f"{records.records} record(s) read: {exc}"
