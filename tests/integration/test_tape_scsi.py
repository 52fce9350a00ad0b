"""A tape target on real device names, `drive: /dev/nst0` and `changer: /dev/sg3`, run
through drorch's actions exactly as a site would run it. Only the lowest layer is
substituted: the st driver's system calls (st.OsDeviceIO, LinuxDrive's default DeviceIO)
by FakeSt over a virtual library folder, and the `mtx` executable, found on PATH as at a
site, by fake_mtx.py over that folder. Everything between the action and those two,
LinuxTapeLibrary, LinuxDrive's errno and status logic and MtxChanger's argv and parser,
is drorch's own code, unchanged."""

from __future__ import annotations

import errno
import filecmp
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drorch.actions import RestoreOptions, RestoreTestOptions
from drorch.catalog import RunStatus, open_catalog
from drorch.catalog import tape as tape_catalog
from drorch.config import load_config
from drorch.targets.tape import mtio, st
from drorch.targets.tape.format.label import read_label
from drorch.targets.tape.library import LinuxTapeLibrary, open_library
from drorch.targets.tape.mtx import MtxChanger
from drorch.targets.tape.virtual import VirtualLibrary
from tests.conftest import write_root
from tests.integration.conftest import Env
from tests.integration.test_tape_out import TAPE_JOB, move_disk_repositories_away, replicate
from tests.unit.targets.tape import fake_mtx
from tests.unit.targets.tape.fake_st import FakeSt

DRIVE = "/dev/nst0"
CHANGER = "/dev/sg3"

SCSI_YAML = f"""\
site: dc1
jurisdiction: ML
state_dir: state
evidence_key: keys/evidence.ed25519
targets:
  primary: {{kind: disk, path: repos/primary, password_file: keys/primary.pass,
            site: dc1, jurisdiction: ML, min_free: 1MiB}}
  vault: {{kind: tape, drive: {DRIVE}, changer: {CHANGER}, pool: weekly,
          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}}
pools:
  weekly: {{retention: 28d}}
"""


OPERATIONS = {
    getattr(mtio, name): name
    for name in [
        "MTFSF",
        "MTBSF",
        "MTFSR",
        "MTBSR",
        "MTWEOF",
        "MTREW",
        "MTOFFL",
        "MTEOM",
        "MTSETBLK",
        "MTSEEK",
        "MTLOAD",
    ]
}


class StDevice(FakeSt):
    """/dev/nst0 as the st driver presents drive 0 of the hidden library; any other path
    does not exist. Records the MTIOCTOP operations it was asked for."""

    def __init__(self, library: VirtualLibrary, operations: list[str]) -> None:
        super().__init__(library, 0)
        self.operations = operations

    def open(self, path: str, flags: int) -> int:
        if path != DRIVE:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return super().open(path, flags)

    def ioctl(self, fd: int, request: int, argument: bytes) -> bytes:
        if request == mtio.MTIOCTOP:
            self.operations.append(OPERATIONS[mtio.MTOP.unpack(argument)[0]])
        return super().ioctl(fd, request, argument)


def install_mtx(folder: Path, library: VirtualLibrary, log: Path) -> None:
    """An `mtx` that logs its arguments and answers for /dev/sg3 from the hidden library,
    and, as the real one does for a device that is not there, fails for any other."""
    folder.mkdir()
    script = folder / "mtx"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {shlex.quote(str(log))}\n'
        f'if [ "$1" != -f ] || [ "$2" != {CHANGER} ]; then\n'
        "  echo \"mtx: cannot open SCSI device '$2' - No such file or directory\" >&2\n"
        "  exit 1\n"
        "fi\n"
        "shift 2\n"
        f"exec {shlex.quote(sys.executable)} {shlex.quote(fake_mtx.__file__ or '')} "
        f'-f {shlex.quote(str(library.folder))} "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)


class Scsi:
    def __init__(self, env: Env, library: VirtualLibrary, mtx_log: Path) -> None:
        self.env = env
        self.library = library
        self.mtx_log = mtx_log
        self.operations: list[str] = []

    def mtx_commands(self) -> list[str]:
        return self.mtx_log.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def scsi(
    tmp_path: Path, catalog_url: str, restic_bin: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scsi]:
    root = tmp_path / "root"
    write_root(root, drorch=SCSI_YAML, jobs={"app": TAPE_JOB})
    config = load_config(root)
    # the hardware: outside the config root, which names only the device files
    library = VirtualLibrary.create(tmp_path / "hardware", slots=8, capacity=6 << 20, drives=1)
    catalog = open_catalog(catalog_url, root / "state")
    rig = Scsi(Env(root, config, catalog), library, tmp_path / "mtx.log")
    monkeypatch.setattr(st, "OsDeviceIO", lambda: StDevice(library, rig.operations))
    install_mtx(tmp_path / "bin", library, rig.mtx_log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    try:
        yield rig
    finally:
        catalog.close()


def test_tape_out_restore_and_restore_test_through_st_and_mtx(scsi: Scsi, tmp_path: Path) -> None:
    env = scsi.env
    # the config alone chose the Linux path
    hardware = open_library(env.config.targets["vault"])  # type: ignore[arg-type]
    assert isinstance(hardware, LinuxTapeLibrary) and hardware.drives == (DRIVE,)
    assert isinstance(hardware.changer, MtxChanger) and hardware.changer.device == CHANGER

    assert env.run().status is RunStatus.SUCCEEDED
    out = replicate(env)
    assert out.status is RunStatus.SUCCEEDED, out.error
    assert out.details["written"]["files_written"] > 0
    [media_set] = tape_catalog.media_sets(env.catalog, target="vault")
    [cartridge] = tape_catalog.cartridges(env.catalog, media_set_id=media_set.id)
    # through MtxChanger: mtx -f /dev/sg3 moved the cartridge in and back to its slot
    slot = next(s.number for s in scsi.library.changer().inventory().slots if s.barcode)
    commands = scsi.mtx_commands()
    assert f"-f {CHANGER} load {slot} 0" in commands
    assert f"-f {CHANGER} unload {slot} 0" in commands
    assert all(c.startswith(f"-f {CHANGER} ") for c in commands)
    # through LinuxDrive: variable blocks, load, filemarks written, rewound, ejected
    assert {"MTSETBLK", "MTLOAD", "MTWEOF", "MTREW", "MTOFFL"} <= set(scsi.operations)
    # and what st wrote is on the cartridge: its label names it, back in its slot
    assert not scsi.library.changer().inventory().drive(0).full
    scsi.library.changer().load(slot, 0)
    with scsi.library.drive(0) as drive:
        label = read_label(drive)
        drive.unload()
    scsi.library.changer().unload(0)
    assert label is not None and label.barcode == cartridge.barcode

    # restore from the cartridge alone, byte-identical
    move_disk_repositories_away(env)
    scsi.operations.clear()
    restored = tmp_path / "restored"
    back = env.run(action="restore", options=RestoreOptions(to=restored, from_target="vault"))
    assert back.status is RunStatus.SUCCEEDED, back.error
    assert {"MTLOAD", "MTOFFL"} <= set(scsi.operations)
    data = env.root / "data"
    copy = restored / data.relative_to("/")
    names = ["hello.txt", "sub/blob.bin"]
    assert filecmp.cmpfiles(data, copy, names, shallow=False) == (names, [], [])
    assert not filecmp.dircmp(data, copy).left_only

    # a restore test from tape passes, and is evidence of the tape copy
    tested = env.run(action="restore-test", options=RestoreTestOptions(from_target="vault"))
    assert tested.status is RunStatus.SUCCEEDED, tested.error
    record = tested.details["evidence"]
    assert record["target"]["name"] == "vault" and record["result"] == "pass"
    assert record["durations_s"]["stage"] > 0
    assert scsi.mtx_commands().count(f"-f {CHANGER} load {slot} 0") == 3
