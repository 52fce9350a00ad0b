"""The catalog archive: the index of a write session, written last, found again from the
cartridge alone."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drorch.targets.tape.format.archive import ArchiveWriter, position
from drorch.targets.tape.format.errors import NotADocument, TapeFormatError
from drorch.targets.tape.format.index import (
    INDEX_NAME,
    ArchiveEntry,
    Index,
    read_index,
    read_last_index,
    write_index,
)
from drorch.targets.tape.format.label import write_label
from drorch.targets.tape.virtual import VirtualDrive
from tests.unit.targets.tape.format_rig import a_label, loaded_library, open_drive, random_tree

AT = datetime(2026, 5, 9, 8, 0, 0, tzinfo=UTC)


def session(drive: VirtualDrive, repository: Path, groups: list[list[str]]) -> list[ArchiveEntry]:
    entries = []
    for names in groups:
        with ArchiveWriter(drive) as writer:
            for name in names:
                writer.add_file(name, repository / name)
            written = writer.finish()
        entries.append(ArchiveEntry(written.file_number, written.members))
    return entries


def test_an_index_reads_back_as_written(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    random_tree(tmp_path / "repo", {"config": 155, "data/ab/ab01": 40_000, "index/cd01": 900})
    with open_drive(library) as drive:
        write_label(drive, a_label())
        entries = session(drive, tmp_path / "repo", [["config", "data/ab/ab01"], ["index/cd01"]])
        index = Index(a_label(), file_number=3, written_at=AT, archives=tuple(entries))
        write_index(drive, index)
    with open_drive(library) as drive:
        assert read_index(drive, 3) == index
        assert read_last_index(drive) == index
        position(drive, 3)  # the index is a plain tar of one JSON document
        raw = b"".join(iter(drive.read_record, b""))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.extractfile(INDEX_NAME)
        assert member is not None
        document = json.loads(member.read())
    assert document["file"] == 3
    assert document["label"]["barcode"] == "FMT001L8"
    assert [a["file"] for a in document["archives"]] == [1, 2]
    assert document["archives"][0]["members"][1]["path"] == "data/ab/ab01"
    assert document["archives"][0]["members"][1]["sha256"] == entries[0].members[1].sha256


def test_the_last_index_of_two_sessions_lists_both(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    random_tree(tmp_path / "repo", {"config": 155, "data/ab/ab01": 40_000})
    with open_drive(library) as drive:
        write_label(drive, a_label())
        first = session(drive, tmp_path / "repo", [["config"]])
        write_index(drive, Index(a_label(), 2, AT, tuple(first)))
    with open_drive(library) as drive:  # the next session appends over the old index
        position(drive, 2)
        second = session(drive, tmp_path / "repo", [["data/ab/ab01"]])
        assert second[0].file_number == 2
        write_index(drive, Index(a_label(), 3, AT, tuple(first + second)))
    with open_drive(library) as drive:
        last = read_last_index(drive)
    assert last is not None
    assert [entry.file_number for entry in last.archives] == [1, 2]
    assert last.file_number == 3


def test_a_cartridge_with_only_its_label_has_no_index(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    with open_drive(library) as drive:
        write_label(drive, a_label())
        assert read_last_index(drive) is None


def test_a_session_that_ended_without_its_index_says_what_is_last(tmp_path: Path) -> None:
    library = loaded_library(tmp_path / "vtl")
    random_tree(tmp_path / "repo", {"config": 155})
    with open_drive(library) as drive:
        write_label(drive, a_label())
        session(drive, tmp_path / "repo", [["config"]])
        with pytest.raises(NotADocument, match="first member is 'config'"):
            read_last_index(drive)


def test_a_document_that_is_not_an_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TapeFormatError, match="not a drorch index"):
        Index.from_json({"format": "drorch-tape-index", "version": 1, "file": 2})
    with pytest.raises(TapeFormatError, match="format 'x'"):
        Index.from_json({"format": "x"})
