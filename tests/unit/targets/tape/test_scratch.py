"""The scratch folders of tape readers: a dead reader's is removed by the next reader, a
living one's never, and a pid reused since the folder was made is not its reader."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from drorch.targets.tape.target import remove_dead_scratch, scratch_folder


def made(folder: Path, *, at: float | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "data").write_bytes(b"a copy of a media set")
    if at is not None:
        os.utime(folder, (at, at))
    return folder


def test_only_the_folders_of_readers_that_died_are_removed(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    later = subprocess.Popen(["sleep", "30"])  # started after the folder below was made
    try:
        alive = made(scratch_folder(tmp_path, "vault", os.getpid()))
        dead = made(scratch_folder(tmp_path, "vault", gone.pid))
        reused = made(scratch_folder(tmp_path, "vault", later.pid), at=time.time() - 3600)
        other = made(scratch_folder(tmp_path, "other", gone.pid))
        assert sorted(remove_dead_scratch(tmp_path, "vault")) == sorted([dead, reused])
        assert alive.is_dir() and other.is_dir()
        assert not dead.exists() and not reused.exists()
    finally:
        later.kill()
        later.wait()
