"""Verifying a restored folder: the checks a restore test makes, for whoever restored it.

A restore test runs them on a folder that `restic restore` filled from a snapshot, and so
does a runbook's `verify` step, each giving a named pass/fail with its detail:

    checks = verify_restored(restic, repo, snapshot, folder, wanted=("canary", "listing"))

- `canary`: the canary planted at snapshot time came back byte for byte;
- `listing`: the regular files and bytes restored match what `restic ls` lists (a
  restorer can start that listing before it restores, with PendingListing: it needs only
  the snapshot id, so it need not wait for the restore);
- a job's command check: its argv with `{restore_dir}` substituted, no shell, a timeout.

`restic` (restic's own `--verify` of the restore) is the restorer's to report: only it
saw restic's verdict.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from drorch import process
from drorch.catalog import SnapshotRecord
from drorch.config.model import CommandCheck
from drorch.errors import DrorchError
from drorch.restic import Repo, Restic
from drorch.restic.models import Listing


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


class PendingListing:
    """`restic ls` of a snapshot, running in a thread from its creation, for the listing
    check: started before the restore, it costs the restore test no time of its own (ls
    and restore each take a shared lock, so they run side by side).

    `wait()` gives the listing (or raises what restic ls raised); `close()` stops an ls
    still running (the restore failed, or the run is unwinding) and waits for it, so that
    restic never outlives the run that started it. The run's cancel reaches ls through
    `wait()`; ls gets its own event so that `close()` can stop it alone.
    """

    def __init__(self, restic: Restic, repo: Repo, snapshot_id: str) -> None:
        self._run_cancel = restic.cancel
        self._cancel = threading.Event()
        self._listing: Listing | None = None
        self._error: BaseException | None = None
        # A daemon thread: a second Ctrl-C during close() must still let drorch exit (its
        # restic then dies with it, drorch.process.die_with_parent).
        self._thread = threading.Thread(
            target=self._list,
            args=(replace(restic, cancel=self._cancel), repo, snapshot_id),
            name=f"restic ls {snapshot_id[:8]}",
            daemon=True,
        )
        self._thread.start()

    def _list(self, restic: Restic, repo: Repo, snapshot_id: str) -> None:
        try:
            self._listing = restic.ls(repo, snapshot_id)
        except BaseException as exc:  # handed to the thread that waits
            self._error = exc

    def _join(self) -> None:
        while self._thread.is_alive():
            self._thread.join(0.1)
            if self._run_cancel is not None and self._run_cancel.is_set():
                self._cancel.set()

    def wait(self) -> Listing:
        self._join()
        if self._error is not None:
            raise self._error
        assert self._listing is not None
        return self._listing

    def close(self) -> None:
        if self._thread.is_alive():
            self._cancel.set()
        self._join()


def verify_restored(
    restic: Restic,
    repo: Repo,
    snapshot: SnapshotRecord,
    folder: Path,
    wanted: Iterable[str | CommandCheck],
    *,
    listing: PendingListing | None = None,
) -> list[Check]:
    """The checks in `wanted`, in order, on `folder` restored from `snapshot` of `repo`;
    only those asked for run (`listing` costs a restic call, or waits for `listing`'s).
    "restic" is skipped here."""
    checks = []
    for item in wanted:
        if item == "canary":
            checks.append(canary_check(snapshot, folder))
        elif item == "listing":
            checks.append(listing_check(restic, repo, snapshot, folder, pending=listing))
        elif isinstance(item, CommandCheck):
            checks.append(command_check(item, folder))
    return checks


def canary_check(snapshot: SnapshotRecord, folder: Path) -> Check:
    if not snapshot.canary_path or not snapshot.canary_sha256:
        return Check("canary", False, "the catalog has no canary for this snapshot")
    restored = folder / Path(snapshot.canary_path).relative_to("/")
    try:
        digest = hashlib.sha256(restored.read_bytes()).hexdigest()
    except OSError as exc:
        return Check("canary", False, f"canary missing from the restore: {exc.strerror}")
    if digest != snapshot.canary_sha256:
        return Check(
            "canary",
            False,
            f"canary differs: sha256 {digest[:16]}…, expected {snapshot.canary_sha256[:16]}…",
        )
    return Check("canary", True, f"canary sha256 {digest[:16]}… matches")


def listing_check(
    restic: Restic,
    repo: Repo,
    snapshot: SnapshotRecord,
    folder: Path,
    *,
    pending: PendingListing | None = None,
) -> Check:
    try:
        listed = pending.wait() if pending is not None else restic.ls(repo, snapshot.snapshot_id)
    except DrorchError as exc:
        return Check("listing", False, f"restic ls failed: {exc}")
    return listing_verdict(folder, listed.files, listed.bytes)


def listing_verdict(folder: Path, listed_files: int, listed_bytes: int) -> Check:
    """Whether `folder` holds the regular files and bytes a snapshot's listing counts."""
    files = size = 0
    for parent, _dirs, names in os.walk(folder):
        for name in names:
            info = os.lstat(os.path.join(parent, name))
            if stat.S_ISREG(info.st_mode):
                files += 1
                size += info.st_size
    detail = (
        f"{files} files, {size} bytes restored; the snapshot lists {listed_files} files, "
        f"{listed_bytes} bytes"
    )
    return Check("listing", (files, size) == (listed_files, listed_bytes), detail)


def command_check(check: CommandCheck, folder: Path) -> Check:
    argv = [arg.replace("{restore_dir}", str(folder)) for arg in check.command]
    name = f"command {check.command[0]}"
    try:
        done = process.run(argv, cwd=folder, timeout=check.timeout.total_seconds(), grace=5)
    except OSError as exc:
        return Check(name, False, f"{argv[0]} could not start: {exc.strerror}")
    if done.timed_out:
        return Check(name, False, f"timed out after {check.timeout.total_seconds():.0f}s")
    output = (done.stdout[-1] if done.stdout else "") or done.stderr_tail
    return Check(name, done.returncode == 0, f"exit {done.returncode}: {output[:200]}")
