"""full_snapshot_id: a snapshot is confirmed by the file restic stores it under."""

from pathlib import Path

import pytest

from drorch.targets.disk import full_snapshot_id

REAL = "98ccb6e9365e92598be14db0742fab94e47ef3721275a0cb6bd48a92ee5d9d87"
OTHER = "98ccb6e9aaaa92598be14db0742fab94e47ef3721275a0cb6bd48a92ee5d9d87"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / REAL).write_text("x")
    return tmp_path


def test_a_short_or_full_id_of_a_snapshot_held_gives_its_full_id(repo: Path) -> None:
    assert full_snapshot_id(repo, "98ccb6e9") == REAL
    assert full_snapshot_id(repo, REAL) == REAL


@pytest.mark.parametrize("made_up", ["deadbeef", "deadbeef" * 8])
def test_an_id_the_repository_does_not_hold_is_none(repo: Path, made_up: str) -> None:
    assert full_snapshot_id(repo, made_up) is None


def test_a_temporary_file_restic_left_is_not_a_snapshot(repo: Path) -> None:
    (repo / "snapshots" / REAL).unlink()
    (repo / "snapshots" / f"{REAL}-tmp-3571056238").write_text("x")
    assert full_snapshot_id(repo, REAL) is None
    assert full_snapshot_id(repo, "98ccb6e9") is None


def test_an_ambiguous_prefix_is_none(repo: Path) -> None:
    (repo / "snapshots" / OTHER).write_text("x")
    assert full_snapshot_id(repo, "98ccb6e9") is None
    assert full_snapshot_id(repo, "98ccb6e93") == REAL


@pytest.mark.parametrize("garbage", ["", "../config", "98CCB6E9", REAL + "0"])
def test_an_id_that_is_not_lowercase_hex_is_none(repo: Path, garbage: str) -> None:
    assert full_snapshot_id(repo, garbage) is None


def test_an_unlistable_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        full_snapshot_id(tmp_path, "98ccb6e9")
