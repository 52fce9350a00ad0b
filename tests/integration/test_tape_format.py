"""Proof from outside: a restic repository written to a virtual cartridge in drorch's tape
format comes back with the standard tools alone. contrib/tape/awstape-cat.py (standard
library only, no drorch) reads tape file N of the cartridge image, GNU tar extracts it,
and restic restores from the folder the archives were extracted into."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from drorch.targets.tape.format.archive import ArchiveWriter
from drorch.targets.tape.format.index import ArchiveEntry, Index, write_index
from drorch.targets.tape.format.label import LABEL_NAME, Label, write_label
from drorch.targets.tape.virtual import VirtualLibrary

RECORD = 256 * 1024
AWSTAPE_CAT = Path(__file__).parents[2] / "contrib" / "tape" / "awstape-cat.py"
AT = datetime(2026, 5, 9, 7, 35, 25, tzinfo=UTC)


def restic(restic_bin: str, repository: Path, password: Path, *args: str) -> None:
    subprocess.run(
        [restic_bin, "--repo", str(repository), "--no-cache", "--quiet", *args],
        env={**os.environ, "RESTIC_PASSWORD_FILE": str(password)},
        check=True,
        capture_output=True,
    )


def tape_file(image: Path, number: int) -> bytes:
    """Tape file `number` of the cartridge image, read without drorch."""
    return subprocess.run(
        [sys.executable, str(AWSTAPE_CAT), str(image), str(number)],
        check=True,
        capture_output=True,
    ).stdout


def make_repository(tmp_path: Path, restic_bin: str) -> tuple[Path, Path, Path]:
    tree = tmp_path / "source"
    for number in range(24):
        path = tree / f"dir{number % 3}" / f"file{number}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + number * 37_000))  # up to ~850 kB, 9.3 MB in all
    password = tmp_path / "restic.pass"
    password.write_text("correct horse battery staple\n", encoding="utf-8")
    password.chmod(0o600)
    repository = tmp_path / "repo"
    restic(restic_bin, repository, password, "init")
    restic(restic_bin, repository, password, "backup", str(tree))
    return tree, password, repository


def test_gnu_tar_and_restic_recover_the_repository_from_a_raw_tape_file(
    tmp_path: Path, restic_bin: str
) -> None:
    tree, password, repository = make_repository(tmp_path, restic_bin)
    files = sorted(
        p.relative_to(repository).as_posix()
        for p in repository.rglob("*")
        if p.is_file() and not p.relative_to(repository).as_posix().startswith("locks/")
    )
    data = [name for name in files if name.startswith("data/")]
    metadata = [name for name in files if not name.startswith("data/")]
    groups = [metadata, data[: len(data) // 2], data[len(data) // 2 :]]
    assert all(groups) and {"config"} <= set(metadata)

    library = VirtualLibrary.create(tmp_path / "vtl", slots=1, capacity=200 * 1024 * 1024)
    library.changer().load(1, 0)
    label = Label("DRO001L8", "weekly", uuid.uuid4(), 1, AT, RECORD)
    entries = []
    with library.drive(0, record_size=RECORD) as drive:
        write_label(drive, label)
        for names in groups:
            with ArchiveWriter(drive) as writer:
                for name in names:
                    writer.add_file(name, repository / name)
                written = writer.finish()
            entries.append(ArchiveEntry(written.file_number, written.members))
        write_index(drive, Index(label, 4, AT, tuple(entries)))
    image = library.cartridge_path("DRO001L8")
    listing = subprocess.run(
        [sys.executable, str(AWSTAPE_CAT), "--list", str(image)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert listing[0] == "file 0: 1 records, 10240 bytes"  # the label: one tar record
    assert len(listing) == 5  # label, three archives, index

    # file 0: GNU tar and Python's tarfile both list the label
    label_file = tape_file(image, 0)
    listed = subprocess.run(
        ["tar", "-t"], input=label_file, check=True, capture_output=True
    ).stdout.decode()
    assert listed.split() == [LABEL_NAME]
    with tarfile.open(fileobj=io.BytesIO(label_file)) as tar:
        assert tar.getnames() == [LABEL_NAME]
        member = tar.extractfile(LABEL_NAME)
        assert member is not None
        assert json.loads(member.read())["record_size"] == RECORD

    # files 1-3: extracted by GNU tar into one folder, which is the repository
    staging = tmp_path / "staging"
    staging.mkdir()
    for number in (1, 2, 3):
        raw = tape_file(image, number)
        assert len(raw) % RECORD == 0 and raw
        if number == 1:  # from a pipe, tar's default blocking
            subprocess.run(["tar", "-x", "-C", str(staging)], input=raw, check=True)
        else:  # as from the drive: one 256 KiB record per read, blocking factor 512
            path = tmp_path / f"file{number}.tar"
            path.write_bytes(raw)
            subprocess.run(
                ["tar", "-x", "-b", "512", "-f", str(path), "-C", str(staging)], check=True
            )
    assert (
        sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        == files
    )

    # file 4: the index names every member with its checksum
    index = subprocess.run(
        ["tar", "-xO", "DRORCH-INDEX.json"],
        input=tape_file(image, 4),
        check=True,
        capture_output=True,
    ).stdout
    document = json.loads(index)
    assert [a["file"] for a in document["archives"]] == [1, 2, 3]
    assert sorted(m["path"] for a in document["archives"] for m in a["members"]) == files

    target = tmp_path / "restored"
    restic(restic_bin, staging, password, "restore", "latest", "--target", str(target))
    restored = target / tree.relative_to(tree.anchor)
    originals = sorted(p for p in tree.rglob("*") if p.is_file())
    assert len(originals) == 24
    for original in originals:
        assert (restored / original.relative_to(tree)).read_bytes() == original.read_bytes()
