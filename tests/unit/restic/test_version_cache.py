"""restic's version is asked once per binary and remembered across processes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from drorch.restic import runner
from drorch.restic.models import Version
from drorch.restic.runner import Restic
from drorch.restic.version_cache import FILE_NAME, cached_version

RESTIC = shutil.which("restic")
pytestmark = pytest.mark.skipif(RESTIC is None, reason="restic is not installed")


SOME = Version(9, 8, 7)


class Asker:
    def __init__(self, version: Version = SOME) -> None:
        self.version = version
        self.calls = 0

    def __call__(self) -> Version:
        self.calls += 1
        return self.version


def copy_of_restic(tmp_path: Path) -> str:
    binary = tmp_path / "bin" / "restic"
    binary.parent.mkdir()
    shutil.copy2(str(RESTIC), binary)
    return str(binary)


def test_asked_once_then_read_from_the_file(tmp_path: Path) -> None:
    binary, ask = copy_of_restic(tmp_path), Asker()
    assert cached_version(binary, tmp_path / "cache", ask) == Version(9, 8, 7)
    assert cached_version(binary, tmp_path / "cache", ask) == Version(9, 8, 7)
    assert ask.calls == 1
    assert list(json.loads((tmp_path / "cache" / FILE_NAME).read_text()).values()) == ["9.8.7"]


def test_a_replaced_binary_is_asked_again(tmp_path: Path) -> None:
    binary = copy_of_restic(tmp_path)
    cached_version(binary, tmp_path, Asker(Version(0, 14, 0)))
    # An upgrade writes a new file: another inode, size or mtime.
    os.unlink(binary)
    shutil.copy(str(RESTIC), binary)
    with open(binary, "ab") as handle:
        handle.write(b"\0")
    newer = Asker(Version(0, 16, 4))
    assert cached_version(binary, tmp_path, newer) == Version(0, 16, 4)
    assert newer.calls == 1


@pytest.mark.parametrize("content", ["{not json", '["0.14.0"]', '{"KEY": "not a version"}'])
def test_a_damaged_file_means_asking_again(tmp_path: Path, content: str) -> None:
    binary = copy_of_restic(tmp_path)
    cached_version(binary, tmp_path, Asker())
    key = next(iter(json.loads((tmp_path / FILE_NAME).read_text())))
    (tmp_path / FILE_NAME).write_text(content.replace("KEY", key))
    ask = Asker(Version(1, 2, 3))
    assert cached_version(binary, tmp_path, ask) == Version(1, 2, 3)
    assert ask.calls == 1
    assert cached_version(binary, tmp_path, Asker()) == Version(1, 2, 3)  # rewritten


def test_no_folder_or_no_binary_asks_every_time(tmp_path: Path) -> None:
    ask = Asker()
    cached_version(copy_of_restic(tmp_path), None, ask)
    cached_version(str(tmp_path / "missing"), tmp_path, ask)
    assert ask.calls == 2
    assert not (tmp_path / FILE_NAME).exists()


def test_restic_version_is_remembered_in_its_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = copy_of_restic(tmp_path)
    monkeypatch.setattr(runner, "_versions", {})
    first = Restic(binary=binary, cache_dir=tmp_path / "cache").version()
    assert first.major == 0 and first.minor >= 14
    monkeypatch.setattr(runner, "_versions", {})  # as a new process would start
    asked: list[str] = []
    monkeypatch.setattr(Restic, "_ask_version", lambda self: asked.append("x") or first)
    assert Restic(binary=binary, cache_dir=tmp_path / "cache").version() == first
    assert asked == []


def test_a_process_sees_a_restic_upgraded_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A daemon runs for months; the restic binary its runs use may be upgraded meanwhile,
    # and the evidence records the version a restore test ran with.
    binary = copy_of_restic(tmp_path)
    monkeypatch.setattr(runner, "_versions", {})
    monkeypatch.setattr(Restic, "_ask_version", lambda self: Version(0, 14, 0))
    assert Restic(binary=binary, cache_dir=None).version() == Version(0, 14, 0)
    os.unlink(binary)
    shutil.copy(str(RESTIC), binary)
    with open(binary, "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr(Restic, "_ask_version", lambda self: Version(0, 16, 4))
    assert Restic(binary=binary, cache_dir=None).version() == Version(0, 16, 4)
