"""The catalog's identity: a catalog that is not the one its state dir used is refused,
never silently replaced by a new, empty one. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from drorch.catalog import Catalog, open_catalog
from drorch.catalog.database import create_catalog_engine
from drorch.errors import CatalogError
from tests.catalog_rows import (
    drop_everything,
    undo_0010,
    undo_0012,
    undo_0014,
    undo_0015,
)

# Tables of the revisions after 0007, dropped to make a new catalog look like a 0006 one.
TABLES_AFTER_0007 = (
    "latest_runs",
    "runbook_steps",
    "tape_repository_files",
    "tape_files",
    "tape_cartridges",
    "tape_media_sets",
)


def _run(catalog: Catalog) -> int:
    return catalog.create_run(
        job="app", action="snapshot", target="primary", host="h", pid=1, actor="t"
    ).id


def test_a_first_open_creates_the_catalog_and_the_state_dir_records_it(
    catalog_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    catalog = open_catalog(catalog_url, state)
    run = _run(catalog)
    catalog.close()
    record = state / "catalog.id"
    assert record.stat().st_mode & 0o777 == 0o600
    recorded = record.read_text().strip()
    assert str(uuid.UUID(recorded)) == recorded
    again = open_catalog(catalog_url, state)  # the same catalog: opened without a word
    try:
        assert [r.id for r in again.runs()] == [run]
        assert again.anchor is not None and again.anchor.identity.id == recorded
    finally:
        again.close()
    assert record.read_text().strip() == recorded


@pytest.mark.parametrize("trace", ["catalog.id", "runs", "canaries", "repository"])
def test_a_missing_sqlite_catalog_in_a_used_state_dir_is_refused_and_not_created(
    tmp_path: Path, trace: str
) -> None:
    state, repo = tmp_path / "state", tmp_path / "repos" / "primary"
    kwargs = {}
    if trace == "catalog.id":
        open_catalog(None, state).close()
        for path in state.glob("catalog.sqlite*"):
            path.unlink()
    elif trace == "runs":
        (state / "runs" / "1").mkdir(parents=True)
    elif trace == "canaries":
        (state / "canaries" / "app").mkdir(parents=True)
        (state / "canaries" / "app" / "drorch-canary.bin").write_bytes(b"x")
    else:
        repo.mkdir(parents=True)
        (repo / "config").write_bytes(b"restic's config")
        kwargs["repositories"] = [repo]
    with pytest.raises(CatalogError) as caught:
        open_catalog(None, state, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"the catalog {state / 'catalog.sqlite'} is missing" in message
    assert "drorch catalog rebuild" in message
    assert not (state / "catalog.sqlite").exists()


def test_an_unused_state_dir_with_an_unrelated_folder_needs_no_ceremony(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)  # empty: nothing ran
    (state / "cache").mkdir()
    open_catalog(None, state, repositories=[tmp_path / "repos" / "primary"]).close()
    assert (state / "catalog.sqlite").exists() and (state / "catalog.id").exists()


def test_an_emptied_catalog_is_refused(catalog_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    open_catalog(catalog_url, state).close()
    drop_everything(catalog_url)
    with pytest.raises(CatalogError) as caught:
        open_catalog(catalog_url, state)
    assert "is empty" in str(caught.value) and "drorch catalog rebuild" in str(caught.value)


def test_a_different_catalog_is_refused(catalog_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    open_catalog(catalog_url, state).close()
    recorded = (state / "catalog.id").read_text().strip()
    drop_everything(catalog_url)
    open_catalog(catalog_url, tmp_path / "elsewhere").close()  # a new catalog at the same URL
    other = (tmp_path / "elsewhere" / "catalog.id").read_text().strip()
    with pytest.raises(CatalogError) as caught:
        open_catalog(catalog_url, state)
    message = str(caught.value)
    assert f"is catalog {other[:8]}" in message and f"not catalog {recorded[:8]}" in message
    assert str(state / "catalog.id") in message and "drorch catalog rebuild" in message


def test_a_catalog_from_before_identities_gets_one_and_keeps_its_rows(
    catalog_url: str, tmp_path: Path
) -> None:
    """A catalog at revision 0006 (made so by hand from a new one) is upgraded by 0007: it gets
    an identity, keeps its rows, and the state dir, which used it, records the identity."""
    state = tmp_path / "state"
    catalog = open_catalog(catalog_url, tmp_path / "before")
    run = _run(catalog)
    catalog.close()
    engine = create_catalog_engine(catalog_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE catalog_identity"))
            undo_0015(connection)
            undo_0014(connection)
            undo_0012(connection)
            undo_0010(connection)
            for table in TABLES_AFTER_0007:
                connection.execute(text(f"DROP TABLE {table}"))
            connection.execute(text("UPDATE alembic_version SET version_num = '0006'"))
    finally:
        engine.dispose()
    (state / "runs" / "1").mkdir(parents=True)  # it was used: an upgrade is not a new catalog
    catalog = open_catalog(catalog_url, state)
    try:
        assert [r.id for r in catalog.runs()] == [run]
        recorded = (state / "catalog.id").read_text().strip()
        assert catalog.anchor is not None and catalog.anchor.identity.id == recorded
        assert recorded != (tmp_path / "before" / "catalog.id").read_text().strip()
    finally:
        catalog.close()


def test_a_catalog_removed_under_an_open_process_fails_its_next_use(tmp_path: Path) -> None:
    state = tmp_path / "state"
    catalog = open_catalog(None, state)
    _run(catalog)
    for path in state.glob("catalog.sqlite*"):
        path.unlink()
    with pytest.raises(CatalogError, match=r"catalog .*catalog\.sqlite was removed"):
        _run(catalog)
    catalog.close()
    assert not (state / "catalog.sqlite").exists()  # not re-created empty behind our back


def test_the_check_sees_a_catalog_removed_or_replaced(catalog_url: str, tmp_path: Path) -> None:
    """What the daemon looks at with its heartbeat: the identity row (a file overwritten in
    place, a database recreated), then every later use fails."""
    state = tmp_path / "state"
    catalog = open_catalog(catalog_url, state)
    try:
        assert catalog.anchor is not None
        assert catalog.anchor.check(catalog.engine) is None
        drop_everything(catalog_url)
        reason = catalog.anchor.check(catalog.engine)
        assert reason is not None and "no identity" in reason
        open_catalog(catalog_url, tmp_path / "elsewhere").close()
        reason = catalog.anchor.check(catalog.engine)  # stays lost
        assert reason is not None and "no identity" in reason
        with pytest.raises(CatalogError, match="nothing more is recorded"):
            catalog.runs()
    finally:
        catalog.close()


def test_the_check_sees_a_catalog_overwritten_by_another(tmp_path: Path) -> None:
    state = tmp_path / "state"
    catalog = open_catalog(None, state)
    other = open_catalog(None, tmp_path / "other")
    other.close()
    try:
        assert catalog.anchor is not None
        path = state / "catalog.sqlite"
        os.replace(tmp_path / "other" / "catalog.sqlite", path)
        reason = catalog.anchor.check(catalog.engine)
        assert reason == f"the catalog {path} was replaced by another file after it was opened"
    finally:
        catalog.close()


def test_the_check_sees_a_removed_wal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    catalog = open_catalog(None, state)
    try:
        _run(catalog)
        assert catalog.anchor is not None
        wal = state / "catalog.sqlite-wal"
        assert wal.exists()
        wal.unlink()
        reason = catalog.anchor.check(catalog.engine)
        assert reason == f"{wal} was removed while the catalog was open"
    finally:
        catalog.close()


def test_a_catalog_removed_during_the_check_is_reported_as_removed(tmp_path: Path) -> None:
    """`rm catalog.sqlite*` while the heartbeat's check is reading the open handles: the
    check names the catalog removed, not one of its files removed while open, and a
    statement's guard in another thread reports the same verdict (seen in CI, where the
    daemon's log named the catalog file as a -wal-like part)."""
    state = tmp_path / "state"
    catalog = open_catalog(None, state)
    try:
        _run(catalog)
        anchor = catalog.anchor
        assert anchor is not None
        path = state / "catalog.sqlite"
        read_handles = anchor._removed_handles

        def removed_meanwhile() -> str | None:
            for part in sorted(state.glob("catalog.sqlite*")):
                part.unlink()
            return read_handles()

        anchor._removed_handles = removed_meanwhile  # type: ignore[method-assign]
        found = f"the catalog {path} was removed after it was opened"
        assert anchor.check(catalog.engine) == found
        with pytest.raises(CatalogError) as caught:
            catalog.runs()
        assert str(caught.value) == f"{found}; nothing more is recorded by this process"
    finally:
        catalog.close()
