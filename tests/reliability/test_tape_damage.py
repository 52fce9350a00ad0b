"""Tape media that fail as real media do: a corrupted record is caught by its checksum, a
write-protected cartridge records no copy, and an archive cut short by the early warning
goes whole to the next cartridge."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

from drorch.actions import RestoreOptions
from drorch.catalog import RunStatus
from drorch.catalog import tape as tape_catalog
from drorch.catalog.models import CartridgeState, TapeFileKind
from drorch.targets.tape.staging import repository_files, staging_folder
from tests.integration.conftest import Env
from tests.integration.test_tape_out import (
    cartridges_of_set,
    library,
    move_disk_repositories_away,
    replicate,
)
from tests.integration.test_tape_scsi import Scsi


def test_a_corrupted_record_is_caught_by_its_checksum(small: Env, tmp_path: Path) -> None:
    env = small
    assert env.run().status is RunStatus.SUCCEEDED
    assert replicate(env).status is RunStatus.SUCCEEDED
    [cartridge] = cartridges_of_set(env)
    staging = staging_folder(env.config.state_dir, "vault")
    pack = max(
        (f for f in repository_files(staging) if f.path.startswith("data/")), key=lambda f: f.size
    )
    content = (staging / pack.path).read_bytes()
    image = env.root / "vtl" / f"{cartridge.barcode}.aws"
    raw = bytearray(image.read_bytes())
    at = raw.find(content[1000:1064])
    assert at > 0
    raw[at + 10] ^= 0xFF
    image.write_bytes(bytes(raw))
    run = env.run(action="restore", options=RestoreOptions(to=tmp_path / "r", from_target="vault"))
    assert run.status is RunStatus.FAILED
    assert run.error is not None and "SHA-256" in run.error and pack.path in run.error
    assert cartridge.barcode in run.error
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_nothing_is_recorded_as_a_copy_when_the_tape_is_write_protected(small: Env) -> None:
    env = small
    assert env.run().status is RunStatus.SUCCEEDED
    vtl = library(env)
    for code in vtl.changer().inventory().barcodes():
        vtl.set_write_protect(code)
    run = replicate(env)
    assert run.status is RunStatus.FAILED
    assert env.catalog.snapshots(target="vault") == []


def test_an_archive_cut_short_by_the_early_warning_goes_whole_to_the_next_cartridge(
    scsi: Scsi, tmp_path: Path
) -> None:
    """st reports ENOSPC past the early warning, and forgets its file number on the seek
    back to the archive's start: the index still goes where the archive began."""
    env = scsi.env
    data = env.root / "data"
    (data / "first.bin").write_bytes(os.urandom(2_000_000))
    assert env.run().status is RunStatus.SUCCEEDED
    assert replicate(env).status is RunStatus.SUCCEEDED
    (data / "big.bin").write_bytes(os.urandom(4_500_000))  # 6.5 MB on 6 MiB cartridges
    assert env.run().status is RunStatus.SUCCEEDED
    scsi.operations.clear()
    out = replicate(env)
    assert out.status is RunStatus.SUCCEEDED, out.error
    assert out.details["written"]["rewritten"] == 1
    assert "MTSEEK" in scsi.operations
    [media_set] = tape_catalog.media_sets(env.catalog, target="vault")
    first, second = tape_catalog.cartridges(env.catalog, media_set_id=media_set.id)
    assert first.state is CartridgeState.FULL
    # the cut archive was overwritten by the index, in the tape file it had begun
    files = [(f.file_number, f.kind) for f in tape_catalog.tape_files(env.catalog, first.barcode)]
    label, archive, index = TapeFileKind.LABEL, TapeFileKind.ARCHIVE, TapeFileKind.INDEX
    assert files == [(0, label), (1, archive), (2, index), (3, index)]
    files = [(f.file_number, f.kind) for f in tape_catalog.tape_files(env.catalog, second.barcode)]
    assert files == [(0, label), (1, archive), (2, index)]
    move_disk_repositories_away(env)
    restored = tmp_path / "restored"
    back = env.run(action="restore", options=RestoreOptions(to=restored, from_target="vault"))
    assert back.status is RunStatus.SUCCEEDED, back.error
    copy = restored / data.relative_to("/")
    names = ["first.bin", "big.bin", "sub/blob.bin"]
    assert filecmp.cmpfiles(data, copy, names, shallow=False) == (names, [], [])
