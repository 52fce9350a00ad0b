"""Faults on tape, with the real restic and a real virtual library, through the CLI.

SIGKILL of drorch while it writes to a cartridge and while it reads one back for a
restore: the process is stopped there by tests.reliability.paused_drorch (after its N-th
record, on disk), then killed, so that the fault lands in the tape phase every time. And
SIGKILL of drorch's restic child restoring from the media set read back (slowed down by
tests.slow_restic, caught once it holds its lock on the scratch copy).
Then: no run left RUNNING, nothing recorded as a copy that is not whole on tape, the
earlier archives still readable, nothing half restored, and the next tape-out and
restore succeed with the drive still holding the cartridge.

A changer that lies: its state names a cartridge in a slot whose tape is not there, or
says a slot is empty that holds one, or its barcode names another cartridge than the
label on the tape. Each is a clear error naming the cartridge and slot, a non-zero exit,
and the catalog and library left as they were.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import DRORCH_YAML, POLICY_YAML
from tests.e2e.conftest import Cli, as_json
from tests.e2e.daemon_harness import wait_for
from tests.reliability.test_kill import newest_run
from tests.reliability.test_kill_actions import JOB, VAULT
from tests.slow_restic import gone, lock_files, throttled_restic

pytestmark = pytest.mark.heavy  # each case writes to tape first, on both catalogs

TAPE_OUT = ("run", "app", "replicate", "--to", "vault")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Site:
    root: Path
    cli: Cli

    def __call__(self, *args: str | Path, rc: int | None = 0) -> subprocess.CompletedProcess[str]:
        return self.cli(*args, root=self.root, check_rc=rc)

    @property
    def vtl(self) -> Path:
        return self.root / "vtl"

    def cartridge(self, barcode: str) -> Path:
        return self.vtl / f"{barcode}.aws"

    def library(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads((self.vtl / "library.json").read_text())
        return state

    def edit_library(self, change: Callable[[dict[str, Any]], None]) -> None:
        """The changer's state as a lying changer would report it (written aside, renamed)."""
        state = self.library()
        change(state)
        aside = self.vtl / "library.json.new"
        aside.write_text(json.dumps(state, indent=2))
        aside.replace(self.vtl / "library.json")

    def slot_of(self, barcode: str) -> int | None:
        return next((s["number"] for s in self.library()["slots"] if s["barcode"] == barcode), None)

    def cartridges(self) -> dict[str, dict[str, Any]]:
        """The catalog's cartridges, by barcode (`tape list --json`)."""
        listed = as_json(self("tape", "list", "--json"))
        found = [c for m in listed["media_sets"] for c in m["cartridges"]]
        found += listed["cartridges_without_media_set"]
        return {c["barcode"]: c for c in found}

    def vault_snapshots(self) -> set[str]:
        return {s["id"] for s in as_json(self("snapshots", "--target", "vault", "--json"))}

    def restored(self, into: Path, name: str) -> Path:
        return into / (self.root / "data" / name).relative_to("/")

    def paused(self, what: str, count: int, *args: str | Path) -> tuple[subprocess.Popen[str], str]:
        """drorch ARGS, stopped after its `count`-th cartridge record `what` (write, read);
        returns the process and what the flag says (barcode and block)."""
        flag = self.root.parent / f"paused-{what}"
        argv = [sys.executable, "-m", "tests.reliability.paused_drorch", str(flag), what]
        process = subprocess.Popen(
            [*argv, str(count), "--config", str(self.root), *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        deadline = time.monotonic() + 120
        while not flag.exists():
            if process.poll() is not None:
                raise AssertionError(("ended before the pause", process.communicate()))
            assert time.monotonic() < deadline, "drorch never reached the pause"
            time.sleep(0.05)
        return process, flag.read_text()


@pytest.fixture
def bare(make_root, cli: Cli, catalog_url: str) -> Site:  # type: ignore[no-untyped-def]
    """A job with one snapshot on primary and a virtual library of blank cartridges, on
    each catalog backend."""
    root = make_root(
        drorch=DRORCH_YAML + VAULT + f'catalog: "{catalog_url}"\n',
        jobs={"app": JOB},
        policies={"standard": POLICY_YAML},
    )
    made = Site(root, cli)
    made("run", "app", "snapshot")
    return made


@pytest.fixture
def site(bare: Site) -> Site:
    """The same, the snapshot written to tape (on DRO001L8, in slot 1)."""
    bare(*TAPE_OUT)
    assert bare.slot_of("DRO001L8") == 1
    return bare


def add_data(site: Site) -> None:
    """A snapshot with 1 MiB more (four records on tape), not yet on tape."""
    (site.root / "data" / "big.bin").write_bytes(os.urandom(1 << 20))
    site("run", "app", "snapshot")


def assert_big_restored(site: Site, into: Path) -> None:
    restored = site.restored(into, "big.bin").read_bytes()
    assert restored == (site.root / "data" / "big.bin").read_bytes()


def killed(process: subprocess.Popen[str], site: Site) -> dict[str, Any]:
    process.kill()
    process.communicate(timeout=30)
    run = newest_run(site.cli, site.root)  # the first command to look marks it
    assert run["status"] == "INTERRUPTED", run
    assert f"(pid {process.pid}) ended without finishing it" in run["error"]
    assert as_json(site("status", "--json"))["running"] == []
    return run


def back_in_its_slot(site: Site, barcode: str, slot: int) -> None:
    """The library and the catalog agree: the cartridge is in its slot, the drive empty."""
    assert site.slot_of(barcode) == slot
    assert [d["barcode"] for d in site.library()["drives"]] == [None]
    seen = site.cartridges()[barcode]
    assert (seen["location"], seen["element"]) == ("SLOT", slot), seen


# -- SIGKILL ------------------------------------------------------------------------------


def test_sigkill_mid_tape_out_while_it_writes_to_the_cartridge(site: Site, tmp_path: Path) -> None:
    add_data(site)
    on_tape = site.vault_snapshots()
    size = site.cartridge("DRO001L8").stat().st_size
    tape_out, where = site.paused("write", 2, *TAPE_OUT)
    assert where.split()[0] == "DRO001L8"
    assert site.cartridge("DRO001L8").stat().st_size > size  # two records of an archive
    killed(tape_out, site)

    assert site.vault_snapshots() == on_tape  # nothing recorded that is not whole on tape
    # the archives written before are still read back, the drive still holding the tape
    assert site.library()["drives"][0]["barcode"] == "DRO001L8"
    earlier = tmp_path / "earlier"
    site("restore", "app", "--from", "vault", "--to", earlier)
    assert site.restored(earlier, "hello.txt").read_text() == "hello drorch\n"
    assert not site.restored(earlier, "big.bin").exists()

    done = site(*TAPE_OUT)
    assert "copied 1 new snapshot(s)" in done.stdout, done.stdout
    assert lock_files(site.root / "state" / "tape" / "vault" / "staging") == []
    back = tmp_path / "back"
    site("restore", "app", "--from", "vault", "--to", back)
    assert_big_restored(site, back)
    back_in_its_slot(site, "DRO001L8", 1)
    assert [r for r in as_json(site("runs", "--json")) if r["status"] == "RUNNING"] == []


def test_sigkill_mid_tape_out_once_it_wrote_a_label_not_yet_recorded(
    bare: Site, tmp_path: Path
) -> None:
    """Killed after the label's record reached the blank DRO001L8, before the catalog
    recorded it: the tape holds drorch's label of the media set the catalog opened. The
    next tape-out takes the cartridge as its own, never as a foreign one."""
    tape_out, where = bare.paused("write", 1, *TAPE_OUT)
    assert where.split()[0] == "DRO001L8"
    killed(tape_out, bare)
    assert bare.vault_snapshots() == set()

    bare(*TAPE_OUT)
    known = bare.cartridges()["DRO001L8"]
    assert (known["state"], known["sequence"]) == ("LABELLED", 1), known
    back = tmp_path / "back"
    bare("restore", "app", "--from", "vault", "--to", back)
    assert bare.restored(back, "hello.txt").read_text() == "hello drorch\n"
    back_in_its_slot(bare, "DRO001L8", 1)


def test_sigkill_mid_tape_out_while_it_records_what_it_wrote(site: Site, tmp_path: Path) -> None:
    """Killed once the catalog took the new archive and before it took the index that
    closes the session: what a session wrote is recorded whole or not at all, so the next
    tape-out writes it again and a restore finds every file where the catalog says."""
    add_data(site)
    on_tape = site.vault_snapshots()
    tape_out, _ = site.paused("record", 2, *TAPE_OUT)
    killed(tape_out, site)
    assert site.vault_snapshots() == on_tape

    (site.root / "data" / "newer.txt").write_text("newer\n")
    site("run", "app", "snapshot")
    site(*TAPE_OUT)  # writes after what the catalog holds, and records it
    back = tmp_path / "back"
    site("restore", "app", "--from", "vault", "--to", back)
    assert_big_restored(site, back)
    assert site.restored(back, "newer.txt").read_text() == "newer\n"


def test_sigkill_mid_restore_from_tape(site: Site, tmp_path: Path) -> None:
    add_data(site)
    site(*TAPE_OUT)
    to = tmp_path / "restored"
    restore, where = site.paused("read", 4, "restore", "app", "--from", "vault", "--to", to)
    assert where.split()[0] == "DRO001L8"
    killed(restore, site)

    assert not to.exists()  # nothing half restored
    assert [p.name for p in tmp_path.iterdir() if "drorch-partial" in p.name] == []
    assert site.library()["drives"][0]["barcode"] == "DRO001L8"  # left in the drive
    scratch = site.root / "state" / "scratch"
    assert [p.name for p in scratch.iterdir()] != []  # what it had read of the tape

    site("restore", "app", "--from", "vault", "--to", to)
    assert_big_restored(site, to)
    assert list(scratch.iterdir()) == []  # the killed restore's copy of the tape is gone too
    back_in_its_slot(site, "DRO001L8", 1)


def restic_restoring(parent: int, scratch: Path) -> psutil.Process:
    """Wait until drorch (`parent`)'s restic restore runs on its scratch copy of the media
    set and holds its lock there."""

    def working() -> list[psutil.Process]:
        found = []
        for child in psutil.Process(parent).children():
            try:
                name, cmdline = child.name(), child.cmdline()
            except psutil.NoSuchProcess:
                continue  # an earlier restic call, ended meanwhile
            at = next((Path(a) for a in cmdline if Path(a).parent == scratch), None)
            if name == "restic" and "restore" in cmdline and at and lock_files(at):
                found.append(child)
        return found

    found = wait_for(working, 120, "restic restoring from the scratch copy, holding its lock")
    assert isinstance(found, list) and len(found) == 1, found
    return found[0]


def test_sigkill_of_restic_mid_restore_from_tape(site: Site, tmp_path: Path) -> None:
    add_data(site)
    site(*TAPE_OUT)
    binary, flag = throttled_restic(tmp_path / "bin", kib_per_s=16)
    with (site.root / "drorch.yaml").open("a") as config:
        config.write(f"restic: {{binary: {binary}}}\n")
    flag.touch()  # restic restores at 16 KiB/s: 1 MiB takes a minute
    to = tmp_path / "restored"
    argv = [sys.executable, "-m", "drorch", "--config", str(site.root)]
    restore = subprocess.Popen(
        [*argv, "restore", "app", "--from", "vault", "--to", str(to)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    scratch = site.root / "state" / "scratch"
    try:
        restic = restic_restoring(restore.pid, scratch)
        restic.send_signal(signal.SIGKILL)
        flag.unlink()
        out, err = restore.communicate(timeout=60)
    finally:
        if restore.poll() is None:
            restore.kill()
            restore.communicate(timeout=30)
    wait_for(lambda: gone(restic.pid), 10, f"restic {restic.pid} to end")

    assert restore.returncode == 1, (out, err)
    assert "restic was killed by SIGKILL (signal 9)" in err, err
    run = newest_run(site.cli, site.root)
    assert run["status"] == "FAILED", run
    assert "restic was killed by SIGKILL (signal 9)" in run["error"], run
    assert not to.exists()  # nothing half restored
    assert [p.name for p in tmp_path.iterdir() if "drorch-partial" in p.name] == []
    assert list(scratch.iterdir()) == []  # the scratch copy, its stale lock with it, is gone
    assert lock_files(site.root / "state" / "tape" / "vault" / "staging") == []
    back_in_its_slot(site, "DRO001L8", 1)

    site("restore", "app", "--from", "vault", "--to", to)
    assert_big_restored(site, to)
    assert site.restored(to, "hello.txt").read_text() == "hello drorch\n"
    assert list(scratch.iterdir()) == []
    back_in_its_slot(site, "DRO001L8", 1)


# -- a changer that lies, a cartridge missing -----------------------------------------------


def test_a_slot_the_changer_says_holds_a_cartridge_that_is_not_there(
    site: Site, tmp_path: Path
) -> None:
    """Slot 1 names DRO001L8, but its tape is gone: the load fails naming both, nothing
    moves (the library goes on working), and once the tape is back the restore works."""
    on_tape = site.vault_snapshots()
    away = tmp_path / "DRO001L8.aws"
    site.cartridge("DRO001L8").rename(away)
    to = tmp_path / "restored"
    failed = site("restore", "app", "--from", "vault", "--to", to, rc=1)
    assert "slot 1" in failed.stderr and "DRO001L8" in failed.stderr, failed.stderr
    assert not to.exists()
    assert site.vault_snapshots() == on_tape
    back_in_its_slot(site, "DRO001L8", 1)  # what the changer says, and the catalog with it
    site("tape", "status")  # the drive still opens

    away.rename(site.cartridge("DRO001L8"))
    site("restore", "app", "--from", "vault", "--to", to)
    assert site.restored(to, "hello.txt").read_text() == "hello drorch\n"


def test_a_cartridge_the_changer_no_longer_shows_is_named(site: Site, tmp_path: Path) -> None:
    """The changer says slot 1 is empty: the restore names the cartridge it needs, and the
    catalog keeps where it last saw it (not seeing it proves nothing)."""
    site.edit_library(lambda state: state["slots"][0].update(barcode=None))
    to = tmp_path / "restored"
    failed = site("restore", "app", "--from", "vault", "--to", to, rc=1)
    assert "cartridge DRO001L8 of media set" in failed.stderr, failed.stderr
    assert "is not in the library" in failed.stderr
    assert not to.exists()
    seen = site.cartridges()["DRO001L8"]
    assert (seen["state"], seen["location"], seen["element"]) == ("LABELLED", "SLOT", 1), seen


def test_a_barcode_that_names_another_cartridge_than_its_label(site: Site) -> None:
    """The changer hides DRO001L8 and reads its barcode as DRO002L8 in slot 2 (the tape
    there is DRO001L8's): the tape-out refuses it naming both, and records neither as
    foreign nor as anything else."""
    add_data(site)
    on_tape = site.vault_snapshots()
    site.edit_library(lambda state: state["slots"][0].update(barcode=None))
    site.cartridge("DRO001L8").replace(site.cartridge("DRO002L8"))
    site.cartridge("DRO001L8").touch()  # the hidden slot's file, never loaded

    failed = site(*TAPE_OUT, rc=1)
    assert "cartridge DRO002L8 refused" in failed.stderr, failed.stderr
    assert "its label says DRO001L8" in failed.stderr, failed.stderr
    assert site.vault_snapshots() == on_tape
    known = site.cartridges()
    assert known["DRO002L8"]["state"] == "UNKNOWN", known["DRO002L8"]
    assert (known["DRO001L8"]["state"], known["DRO001L8"]["sequence"]) == ("LABELLED", 1)
    assert site.slot_of("DRO002L8") == 2
