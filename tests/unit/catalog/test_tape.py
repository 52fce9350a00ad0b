"""The tape catalog on SQLite and PostgreSQL: cartridges, media sets, tape files, and where
each repository file sits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from drorch.catalog import Catalog
from drorch.catalog.database import create_catalog_engine, migrate
from drorch.catalog.models import CartridgeLocation, CartridgeState, TapeFileKind
from drorch.catalog.tape import (
    Placement,
    RepositoryFile,
    Sighting,
    cartridge,
    cartridges,
    close_media_set,
    files_on_media_set,
    label_cartridge,
    media_set,
    media_sets,
    open_media_set,
    placements,
    record_tape_file,
    see_cartridges,
    set_cartridge_state,
    set_media_set_expiry,
    tape_files,
)
from drorch.errors import CatalogError
from tests.catalog_rows import upgrade_to

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
KEEP = timedelta(days=28)
SHA_A, SHA_B = "a" * 64, "b" * 64


@pytest.fixture
def catalog(any_catalog: Catalog) -> Catalog:
    return any_catalog


def labelled(catalog: Catalog, barcode: str, *, at: datetime = T0, sequence: int = 1) -> str:
    """A new media set of pool weekly for target vault, with `barcode` labelled into it."""
    see_cartridges(catalog, [Sighting(barcode, CartridgeLocation.SLOT, 1)], at=at)
    media = open_media_set(catalog, pool="weekly", target="vault", at=at, expires_at=at + KEEP)
    label_cartridge(
        catalog, barcode, media_set_id=media.id, sequence=sequence, at=at,
        session_id="s1", label_bytes=512,
    )  # fmt: skip
    return media.id


def archive(
    catalog: Catalog, barcode: str, number: int, files: list[RepositoryFile], at: datetime
) -> None:
    record_tape_file(
        catalog, barcode=barcode, file_number=number, kind=TapeFileKind.ARCHIVE,
        bytes_written=sum(f.size for f in files) + 1024, written_at=at, session_id="s1",
        expires_at=at + KEEP, target="vault", files=files,
    )  # fmt: skip


def test_a_cartridge_seen_then_labelled_then_written(catalog: Catalog) -> None:
    see_cartridges(catalog, [Sighting("DRO001L8", CartridgeLocation.SLOT, 3)], at=T0)
    seen = cartridge(catalog, "DRO001L8")
    assert seen is not None
    assert (seen.state, seen.location, seen.element, seen.last_seen_at) == (
        CartridgeState.UNKNOWN, CartridgeLocation.SLOT, 3, T0,
    )  # fmt: skip
    assert (seen.pool, seen.media_set_id, seen.write_protected, seen.bytes_written) == (
        None, None, False, 0,
    )  # fmt: skip
    later = T0 + timedelta(minutes=5)
    see_cartridges(
        catalog, [Sighting("DRO001L8", CartridgeLocation.DRIVE, 0, write_protected=True)], at=later
    )
    moved = cartridge(catalog, "DRO001L8")
    assert moved is not None
    assert (moved.location, moved.element, moved.write_protected) == (
        CartridgeLocation.DRIVE, 0, True,
    )  # fmt: skip
    set_cartridge_state(catalog, "DRO001L8", CartridgeState.BLANK, write_protected=False)

    media = open_media_set(catalog, pool="weekly", target="vault", at=T0, expires_at=T0 + KEEP)
    done = label_cartridge(
        catalog, "DRO001L8", media_set_id=media.id, sequence=1, at=later,
        session_id="s1", label_bytes=512, run_id=None,
    )  # fmt: skip
    assert (done.state, done.pool, done.media_set_id, done.sequence, done.labelled_at) == (
        CartridgeState.LABELLED, "weekly", media.id, 1, later,
    )  # fmt: skip
    written_at = T0 + timedelta(hours=1)
    files = [
        RepositoryFile("config", 155, SHA_A),
        RepositoryFile("data/ab/ab" + "1" * 62, 4096, SHA_B),
    ]
    archive(catalog, "DRO001L8", 1, files, written_at)

    after = cartridge(catalog, "DRO001L8")
    assert after is not None and after.bytes_written == 512 + 155 + 4096 + 1024
    assert [(f.file_number, f.kind, f.bytes) for f in tape_files(catalog, "DRO001L8")] == [
        (0, TapeFileKind.LABEL, 512), (1, TapeFileKind.ARCHIVE, 155 + 4096 + 1024),
    ]  # fmt: skip
    now = media_set(catalog, media.id)
    assert now is not None
    assert (now.last_written_at, now.expires_at, now.closed) == (
        written_at, written_at + KEEP, False,
    )  # fmt: skip
    assert files_on_media_set(catalog, media.id, "vault") == {
        "config": SHA_A, "data/ab/ab" + "1" * 62: SHA_B,
    }  # fmt: skip
    assert files_on_media_set(catalog, media.id, "other") == {}


def test_placements_name_the_cartridges_newest_media_set_first(catalog: Catalog) -> None:
    old = labelled(catalog, "DRO001L8")
    archive(catalog, "DRO001L8", 1, [RepositoryFile("index/01", 10, SHA_A)], T0)
    new = labelled(catalog, "DRO002L8", at=T0 + timedelta(days=8))
    archive(catalog, "DRO002L8", 1, [RepositoryFile("keys/k", 5, SHA_B)], T0 + timedelta(days=8))
    archive(catalog, "DRO002L8", 2, [RepositoryFile("index/01", 10, SHA_A)], T0 + timedelta(days=8))
    found = placements(catalog, "vault", ["index/01", "keys/k", "data/missing"])
    assert found == {
        "index/01": (
            Placement("vault", "index/01", 10, SHA_A, "DRO002L8", 2, new),
            Placement("vault", "index/01", 10, SHA_A, "DRO001L8", 1, old),
        ),
        "keys/k": (Placement("vault", "keys/k", 5, SHA_B, "DRO002L8", 1, new),),
    }
    assert placements(catalog, "elsewhere", ["index/01"]) == {}


def test_placements_of_many_paths_and_the_longest_names(catalog: Catalog) -> None:
    """More paths than one IN (...) takes, and a barcode, pool and path at their column
    lengths: PostgreSQL refuses what does not fit where SQLite would not."""
    barcode, pool, target = "B" * 32, "p" * 200, "t" * 200
    see_cartridges(catalog, [Sighting(barcode, CartridgeLocation.IMPORT_EXPORT, 9)], at=T0)
    media = open_media_set(catalog, pool=pool, target=target, at=T0, expires_at=None)
    label_cartridge(
        catalog, barcode, media_set_id=media.id, sequence=1, at=T0, session_id="s" * 36,
        label_bytes=512,
    )  # fmt: skip
    paths = [f"data/{n:02x}/{n:064x}" for n in range(1200)] + ["x" * 255]
    record_tape_file(
        catalog, barcode=barcode, file_number=1, kind=TapeFileKind.ARCHIVE, bytes_written=1,
        written_at=T0, session_id="s" * 36, expires_at=None, target=target,
        files=[RepositoryFile(path, 1, SHA_A) for path in paths],
    )  # fmt: skip
    found = placements(catalog, target, [*paths, "absent"])
    assert sorted(found) == sorted(paths)
    assert {p.barcode for places in found.values() for p in places} == {barcode}
    assert cartridges(catalog, pool=pool)[0].barcode == barcode


def test_labelling_again_forgets_what_was_on_the_cartridge(catalog: Catalog) -> None:
    first = labelled(catalog, "DRO001L8")
    archive(catalog, "DRO001L8", 1, [RepositoryFile("index/01", 10, SHA_A)], T0)
    second = labelled(catalog, "DRO001L8", at=T0 + timedelta(days=40))
    assert placements(catalog, "vault", ["index/01"]) == {}
    assert files_on_media_set(catalog, first, "vault") == {}
    assert [f.file_number for f in tape_files(catalog, "DRO001L8")] == [0]
    again = cartridge(catalog, "DRO001L8")
    assert again is not None and (again.media_set_id, again.bytes_written) == (second, 512)
    assert [c.barcode for c in cartridges(catalog, media_set_id=first)] == []
    assert [c.barcode for c in cartridges(catalog, media_set_id=second)] == ["DRO001L8"]


def test_found_blank_forgets_its_content_and_export_comes_back(catalog: Catalog) -> None:
    labelled(catalog, "DRO001L8")
    archive(catalog, "DRO001L8", 1, [RepositoryFile("index/01", 10, SHA_A)], T0)
    set_cartridge_state(catalog, "DRO001L8", CartridgeState.EXPORTED)
    see_cartridges(catalog, [Sighting("DRO001L8", CartridgeLocation.IMPORT_EXPORT, 9)], at=T0)
    leaving = cartridge(catalog, "DRO001L8")  # in the mail slot, the operator yet to take it
    assert leaving is not None and leaving.state is CartridgeState.EXPORTED
    see_cartridges(catalog, [Sighting("DRO001L8", CartridgeLocation.SLOT, 2)], at=T0)
    back = cartridge(catalog, "DRO001L8")
    assert back is not None and back.state is CartridgeState.FULL  # its set is still on it
    assert (back.location, back.element) == (CartridgeLocation.SLOT, 2)
    blank = set_cartridge_state(catalog, "DRO001L8", CartridgeState.BLANK)
    assert (blank.state, blank.media_set_id, blank.pool, blank.bytes_written) == (
        CartridgeState.BLANK, None, None, 0,
    )  # fmt: skip
    assert placements(catalog, "vault", ["index/01"]) == {}


def test_media_sets_close_and_filter(catalog: Catalog) -> None:
    first = labelled(catalog, "DRO001L8")
    second = labelled(catalog, "DRO002L8", at=T0 + timedelta(days=1))
    closed = close_media_set(catalog, first, at=T0 + timedelta(days=7))
    assert close_media_set(catalog, first, at=T0 + timedelta(days=9)).closed_at == closed.closed_at
    assert [m.id for m in media_sets(catalog, target="vault")] == [first, second]
    assert [m.id for m in media_sets(catalog, target="vault", open_only=True)] == [second]
    assert media_sets(catalog, pool="monthly") == []
    assert set_media_set_expiry(catalog, first, None).expires_at is None


def test_refusals(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match="cartridge NOPE0001 is not in the catalog"):
        set_cartridge_state(catalog, "NOPE0001", CartridgeState.RETIRED)
    see_cartridges(catalog, [Sighting("DRO001L8", CartridgeLocation.SLOT, 1)], at=T0)
    with pytest.raises(CatalogError, match="DRO001L8 is UNKNOWN, not labelled"):
        archive(catalog, "DRO001L8", 1, [], T0)
    with pytest.raises(CatalogError, match="by label_cartridge"):
        set_cartridge_state(catalog, "DRO001L8", CartridgeState.LABELLED)
    with pytest.raises(CatalogError, match="no media set nope"):
        label_cartridge(
            catalog, "DRO001L8", media_set_id="nope", sequence=1, at=T0, session_id="s",
            label_bytes=1,
        )  # fmt: skip
    labelled(catalog, "DRO001L8")
    archive(catalog, "DRO001L8", 1, [RepositoryFile("index/01", 10, SHA_A)], T0)
    with pytest.raises(CatalogError, match="file 1 of DRO001L8 is already recorded"):
        archive(catalog, "DRO001L8", 1, [], T0)
    assert len(placements(catalog, "vault", ["index/01"])["index/01"]) == 1  # nothing half-done
    with pytest.raises(CatalogError, match="file 0 is the label"):
        record_tape_file(
            catalog, barcode="DRO001L8", file_number=0, kind=TapeFileKind.LABEL, bytes_written=1,
            written_at=T0, session_id="s", expires_at=None,
        )  # fmt: skip


def test_migration_0008_keeps_the_data_of_a_0007_catalog(catalog_url: str) -> None:
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            upgrade_to(connection, "0007")
            connection.execute(
                text(
                    "INSERT INTO runs (id, job, action, target, status, created_at, host, actor) "
                    "VALUES (1, 'a', 'replicate:vault', 'vault', 'SUCCEEDED', '2026-01-01', "
                    "'h', 't')"
                )
            )
        migrate(engine)
        catalog = Catalog(engine)
        assert [(r.id, r.action) for r in catalog.runs()] == [(1, "replicate:vault")]
        see_cartridges(catalog, [Sighting("DRO001L8", CartridgeLocation.SLOT, 1)], at=T0)
        media = open_media_set(catalog, pool="weekly", target="vault", at=T0, expires_at=None)
        label_cartridge(
            catalog, "DRO001L8", media_set_id=media.id, sequence=1, at=T0, session_id="s",
            label_bytes=512, run_id=1,
        )  # fmt: skip
        assert [f.run_id for f in tape_files(catalog, "DRO001L8")] == [1]
    finally:
        engine.dispose()
