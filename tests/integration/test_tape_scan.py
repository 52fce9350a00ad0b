"""`tape scan`: a media set written through the format modules and recorded in one
catalog is found again, placement for placement, by scanning its cartridges into a new
catalog (on both backends)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drorch.catalog import Catalog, open_catalog
from drorch.catalog.models import CartridgeLocation, CartridgeState, TapeFileKind
from drorch.catalog.tape import (
    RepositoryFile,
    Sighting,
    cartridge,
    label_cartridge,
    media_set,
    open_media_set,
    placements,
    record_tape_file,
    see_cartridges,
    tape_files,
)
from drorch.config.model import Pool
from drorch.targets.tape.format.archive import ArchiveWriter
from drorch.targets.tape.format.index import ArchiveEntry, Index, write_index
from drorch.targets.tape.format.label import LABEL_RECORD, Label, write_label
from drorch.targets.tape.library import VirtualTapeLibrary
from drorch.targets.tape.scan import scan_cartridges, scannable
from drorch.targets.tape.virtual import VirtualLibrary

RECORD = 16384
AT = datetime(2026, 5, 9, 8, 0, 0, tzinfo=UTC)
POOL = Pool(retention="28d")
FILES = {
    "config": 155,
    "keys/k1": 400,
    "data/ab/ab01": 60_000,
    "data/cd/cd02": 30_000,
    "index/ef03": 900,
    "snapshots/aa04": 300,
}


def pool_of(name: str) -> Pool:
    if name != "weekly":
        raise KeyError(name)
    return POOL


def _write_media_set(tmp_path: Path, catalog: Catalog) -> tuple[VirtualTapeLibrary, str]:
    """Two cartridges of one media set, two archives and an index each, written with the
    format modules and recorded as tape-out records them."""
    repository = tmp_path / "repo"
    for name, size in FILES.items():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_bytes(os.urandom(size))
    virtual = VirtualLibrary.create(tmp_path / "vtl", slots=3, capacity=10_000_000)
    library = VirtualTapeLibrary(virtual, record_size=RECORD)
    see_cartridges(
        catalog,
        [Sighting(b, CartridgeLocation.SLOT, n) for n, b in enumerate(("DRO001L8", "DRO002L8"), 1)],
        at=AT,
    )
    ms = open_media_set(catalog, pool="weekly", target="vault", at=AT, expires_at=None)
    groups = [[["config", "keys/k1"], ["data/ab/ab01"]], [["data/cd/cd02", "index/ef03"],
              ["snapshots/aa04"]]]  # fmt: skip
    for sequence, (barcode, archives) in enumerate(
        zip(("DRO001L8", "DRO002L8"), groups, strict=True), 1
    ):
        session = str(uuid.uuid4())
        label = Label(barcode, "weekly", uuid.UUID(ms.id), sequence, AT, RECORD)
        virtual.changer().load(sequence, 0)
        with virtual.drive(0, record_size=RECORD) as drive:
            write_label(drive, label)
            label_cartridge(catalog, barcode, media_set_id=ms.id, sequence=sequence, at=AT,
                            session_id=session, label_bytes=LABEL_RECORD)  # fmt: skip
            entries = []
            for names in archives:
                with ArchiveWriter(drive) as writer:
                    for name in names:
                        writer.add_file(name, repository / name)
                    written = writer.finish()
                entries.append(ArchiveEntry(written.file_number, written.members))
                record_tape_file(
                    catalog, barcode=barcode, file_number=written.file_number,
                    kind=TapeFileKind.ARCHIVE, bytes_written=written.records * RECORD,
                    written_at=AT, session_id=session, expires_at=AT + timedelta(days=28),
                    target="vault",
                    files=[RepositoryFile(m.path, m.size, m.sha256) for m in written.members],
                )  # fmt: skip
            index = Index(label, len(archives) + 1, AT + timedelta(minutes=5), tuple(entries))
            write_index(drive, index)
            drive.unload()
        virtual.changer().unload(0, sequence)
    return library, ms.id


def _written(tmp_path: Path) -> tuple[VirtualTapeLibrary, str, dict[str, Any]]:
    """The media set, and its placements, as recorded in its own (then lost) catalog."""
    original = open_catalog(f"sqlite:///{tmp_path / 'original.sqlite'}", tmp_path / "orig")
    try:
        library, media_set_id = _write_media_set(tmp_path, original)
        return library, media_set_id, placements(original, "vault", FILES)
    finally:
        original.close()


def test_scan_rebuilds_the_placements_of_a_lost_catalog(
    tmp_path: Path, any_catalog: Catalog
) -> None:
    library, media_set_id, expected = _written(tmp_path)
    assert library.changer is not None
    barcodes = scannable(library.changer.inventory())
    assert barcodes == ["DRO001L8", "DRO002L8", "DRO003L8"]
    for _ in range(2):  # idempotent: the second scan records the same
        results = scan_cartridges(
            library, any_catalog, barcodes, target="vault", pool_of=pool_of, now=AT
        )
        assert [r.recorded for r in results] == [True, True, True]
        assert [(r.media_set, r.sequence, r.archives, r.files) for r in results] == [
            (media_set_id, 1, 2, 3),
            (media_set_id, 2, 2, 3),
            (None, None, 0, 0),
        ]
        assert results[2].found == "blank"
        assert placements(any_catalog, "vault", FILES) == expected
    assert set(expected) == set(FILES)
    found = media_set(any_catalog, media_set_id)
    assert found is not None and found.pool == "weekly" and found.target == "vault"
    assert found.expires_at == AT + timedelta(minutes=5) + timedelta(days=28)
    first = cartridge(any_catalog, "DRO001L8")
    assert first is not None and first.state is CartridgeState.LABELLED and first.sequence == 1
    assert first.location is CartridgeLocation.SLOT and first.element == 1
    assert [(f.file_number, f.kind) for f in tape_files(any_catalog, "DRO002L8")] == [
        (0, TapeFileKind.LABEL),
        (1, TapeFileKind.ARCHIVE),
        (2, TapeFileKind.ARCHIVE),
        (3, TapeFileKind.INDEX),
    ]
    blank = cartridge(any_catalog, "DRO003L8")
    assert blank is not None and blank.state is CartridgeState.BLANK
    assert library.changer.inventory().slot(1).barcode == "DRO001L8"  # put back


def test_a_damaged_label_is_recorded_foreign_and_the_rest_recorded(
    tmp_path: Path, any_catalog: Catalog
) -> None:
    library, _, _ = _written(tmp_path)
    path = library.library.cartridge_path("DRO001L8")
    data = bytearray(path.read_bytes())
    data[6 + 100 : 6 + 400] = os.urandom(300)  # the label's record, past its AWSTAPE header
    path.write_bytes(bytes(data))
    results = scan_cartridges(
        library, any_catalog, ["DRO001L8", "DRO002L8"], target="vault", pool_of=pool_of, now=AT
    )
    assert results[1].recorded and results[1].files == 3
    assert placements(any_catalog, "vault", ["data/cd/cd02"])["data/cd/cd02"][0].barcode == (
        "DRO002L8"
    )
    assert results[0].barcode == "DRO001L8"
    assert results[0].found.startswith("not drorch's")  # never taken for a blank one
    damaged = cartridge(any_catalog, "DRO001L8")
    assert damaged is not None and damaged.state is CartridgeState.FOREIGN
