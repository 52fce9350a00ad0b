"""Run restic commands: environment, timeout, cancellation, JSON parsing, typed errors.

The argv comes from drorch.restic.commands; the process from drorch.process.
Each call can leave an artifact (masked argv, exit code, stderr, restic's JSON
messages) in a per-run folder, so that reports never parse log text.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drorch import process
from drorch.errors import (
    PartialSnapshot,
    RepositoryLocked,
    ResticError,
    ResticNotFound,
    ResticTimeout,
)
from drorch.restic import commands
from drorch.restic.commands import Repo
from drorch.restic.errors import error_for
from drorch.restic.models import (
    BackupProgress,
    BackupSummary,
    ForgetGroup,
    Listing,
    LockFile,
    SnapshotInfo,
    Version,
    parse_forget,
    parse_init_output,
    parse_lock,
    parse_snapshots,
    parse_version,
)
from drorch.restic.version_cache import binary_key, cached_version

log = logging.getLogger(__name__)

ProgressCallback = Callable[[BackupProgress], None]

# By the binary's path, inode, size and mtime (version_cache.binary_key): a daemon that runs
# for months sees an upgraded restic at its next run, and records that version.
_versions: dict[str, Version] = {}


@dataclass
class ArtifactDir:
    """A per-run folder (0700) where each restic call leaves a JSON record (0600)."""

    path: Path
    _count: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def write(self, name: str, record: dict[str, Any]) -> Path:
        with self._lock:
            self._count += 1
            number = self._count
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.path / f"{number:02d}-{name}.json"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1, sort_keys=True)
        return target


@dataclass(frozen=True)
class Restic:
    """How to run restic: which binary, its cache, limits, and where artifacts go."""

    binary: str = "restic"
    cache_dir: Path | None = None
    timeout: float | None = None
    cancel: threading.Event | None = None
    artifacts: ArtifactDir | None = None
    progress_fps: float = 0.2
    # Called when restic finds the repository locked; when it removed a lock (one it
    # proved stale), the call is tried once more. The policy lives in drorch.targets.
    on_locked: Callable[[Repo, Restic], Sequence[str]] | None = None
    # Called with restic's pid after a call was canceled or timed out, to remove a lock that
    # restic left (drorch.targets.locks: where the lock files are is the target's business).
    on_interrupted: Callable[[Repo, Restic, int], Sequence[str]] | None = None
    # The run's deadline (a time.monotonic() instant): every call gets what remains of it,
    # at most `timeout`, so that hooks, init and backup together never outlast the run.
    deadline: float | None = None
    # What sets the deadline, for the message when it fires: "5s (snapshot timeout of job x)".
    deadline_source: str | None = None
    # Where `binary` is configured, for the message when it cannot be found.
    binary_source: str | None = None

    # -- plumbing ---------------------------------------------------------------------

    def _env(self, repo: Repo | None) -> dict[str, str]:
        # TZ=UTC: times restic reads (--time) and prints are UTC, like everything inside drorch.
        ours = {"RESTIC_PROGRESS_FPS": str(self.progress_fps), "TZ": "UTC"}
        if repo is not None:
            ours["RESTIC_PASSWORD_FILE"] = str(repo.password_file)
        if self.cache_dir is not None:
            ours["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return ours

    def _resolve(self) -> str:
        found = shutil.which(self.binary)
        if found is not None:
            return found
        where = f" ({self.binary_source})" if self.binary_source else ""
        if os.sep in self.binary:  # a path: exec would not look it up on PATH either
            problem = "does not exist" if not os.path.lexists(self.binary) else "cannot be run"
            raise ResticNotFound(f"restic not found: {self.binary} {problem}{where}")
        raise ResticNotFound(
            f"restic not found: no {self.binary!r} on PATH{where}; "
            "install it with 'make install' or 'apt-get install restic'"
        )

    def _limit(self) -> str:
        """How long a call may run, as its timeout message says it."""
        if self.deadline is not None and self.deadline_source is not None:
            return f"at the run's deadline: {self.deadline_source}"
        return f"after {self.timeout:.0f}s" if self.timeout is not None else ""

    def _time_left(self, what: str, argv: tuple[str, ...]) -> float | None:
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ResticTimeout(f"{what}: not started, the run's deadline has passed", argv=argv)
        return left if self.timeout is None else min(self.timeout, left)

    def _exec(
        self,
        argv: tuple[str, ...],
        repo: Repo | None,
        *,
        what: str,
        on_stdout_line: Callable[[str], None] | None = None,
        retry_locked: bool = True,
    ) -> process.Completed:
        real = (self._resolve(), *argv[1:])
        started: list[int] = []
        try:
            completed = process.run(
                real,
                env=self._env(repo),
                unset_prefix="RESTIC_",
                timeout=self._time_left(what, argv),
                cancel=self.cancel,
                on_stdout_line=on_stdout_line,
                on_start=started.append,
            )
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM made one: restic had its SIGINT
            # Its lock is stale only once restic is gone (a second Ctrl-C may have cut the
            # wait for it short).
            gone = started and not process.pid_started_before(started[0], time.time())
            if gone and repo is not None and self.on_interrupted is not None:
                self.on_interrupted(repo, self, started[0])
            raise
        if self.artifacts is not None:
            self.artifacts.write(
                argv[3] if argv[1] == "--repo" else argv[1],
                {
                    "argv": list(completed.argv),
                    "env": sorted(self._env(repo)),
                    "exit_code": completed.returncode,
                    "duration_s": round(completed.duration, 3),
                    "timed_out": completed.timed_out,
                    "canceled": completed.canceled,
                    "stderr": list(completed.stderr),
                    "stdout": list(completed.stdout) if len(completed.stdout) < 2000 else [],
                },
            )
        # Canceled, timed out or killed (the OOM killer, an operator): the lock restic left,
        # naming a pid that is gone now, would block the next exclusive call until one
        # fails on it, and any `restic` the operator runs meanwhile.
        stopped = completed.canceled or completed.timed_out or completed.returncode < 0
        if stopped and repo is not None and self.on_interrupted is not None:
            self.on_interrupted(repo, self, completed.pid)
        error = error_for(
            completed, what=what, limit=self._limit(), password_files=_password_files(repo, argv)
        )
        if (
            isinstance(error, RepositoryLocked)
            and retry_locked
            and repo is not None
            and self.on_locked is not None
            and self.on_locked(repo, self)
        ):
            log.info("%s: trying again without the stale lock", what)
            return self._exec(
                argv, repo, what=what, on_stdout_line=on_stdout_line, retry_locked=False
            )
        if error is not None:
            raise error
        return completed

    # -- operations -------------------------------------------------------------------

    def version(self) -> Version:
        binary = self._resolve()
        key = binary_key(binary) or binary
        if key not in _versions:
            _versions[key] = cached_version(binary, self.cache_dir, self._ask_version)
        return _versions[key]

    def _ask_version(self) -> Version:
        completed = self._exec(commands.make_version_command(), None, what="restic version")
        return parse_version("\n".join(completed.stdout))

    def init(self, repo: Repo, *, chunker_from: Repo | None = None) -> str:
        """Create the repository and return restic's repository id.

        restic 0.14 prints only the first 10 hex digits of the id; asking for the whole id
        would cost another key derivation (~0.6 s), so the prefix is what is returned.
        """
        completed = self._exec(
            commands.make_init_command(repo, chunker_from=chunker_from),
            repo,
            what=f"init of {repo.location}",
        )
        return parse_init_output("\n".join(completed.stdout))

    def repository_id(self, repo: Repo) -> str:
        completed = self._exec(
            commands.make_cat_config_command(repo), repo, what=f"reading {repo.location}"
        )
        try:
            return str(json.loads("\n".join(completed.stdout))["id"])
        except (ValueError, KeyError) as exc:
            raise ResticError(f"cannot read the repository id of {repo.location}: {exc}") from exc

    def backup(
        self,
        repo: Repo,
        paths: Sequence[str],
        *,
        excludes: Sequence[str] = (),
        tags: Sequence[str] = (),
        host: str | None = None,
        time: datetime | None = None,
        what: str,
        on_progress: ProgressCallback | None = None,
    ) -> BackupSummary:
        """Back up paths; a PartialSnapshot error carries the id of the snapshot written."""
        summary: list[BackupSummary] = []
        messages: list[str] = []

        def on_line(line: str) -> None:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                messages.append(line)
                return
            kind = item.get("message_type") if isinstance(item, dict) else None
            if kind == "status":
                if on_progress is not None:
                    on_progress(_progress(item))
            elif kind == "summary":
                summary.append(BackupSummary.from_json(item))
            else:
                messages.append(line)

        argv = commands.make_backup_command(
            repo, paths, excludes=excludes, tags=tags, host=host, time=time
        )
        try:
            self._exec(argv, repo, what=what, on_stdout_line=on_line)
        except PartialSnapshot as exc:
            exc.snapshot_id = summary[0].snapshot_id if summary else None
            raise
        for message in messages:
            log.warning("restic: %s", message)
        if not summary:
            raise ResticError(f"{what}: restic exited 0 but printed no summary", argv=argv)
        return summary[0]

    def snapshots(
        self, repo: Repo, *, snapshot_ids: Sequence[str] = (), tags: Sequence[str] = ()
    ) -> list[SnapshotInfo]:
        argv = commands.make_snapshots_command(repo, snapshot_ids=snapshot_ids, tags=tags)
        completed = self._exec(argv, repo, what=f"listing snapshots of {repo.location}")
        return parse_snapshots("\n".join(completed.stdout))

    def restore(
        self,
        repo: Repo,
        snapshot_id: str,
        target_dir: Path,
        *,
        includes: Sequence[str] = (),
        verify: bool = False,
    ) -> process.Completed:
        argv = commands.make_restore_command(
            repo, snapshot_id, str(target_dir), includes=includes, verify=verify
        )
        return self._exec(argv, repo, what=f"restore of snapshot {snapshot_id[:8]}")

    def check(self, repo: Repo, *, read_data_subset: str | None = None) -> process.Completed:
        argv = commands.make_check_command(repo, read_data_subset=read_data_subset)
        return self._exec(argv, repo, what=f"check of {repo.location}")

    def forget(
        self,
        repo: Repo,
        *,
        tags: Sequence[str],
        keep_hourly: int = 0,
        keep_daily: int = 0,
        keep_weekly: int = 0,
        keep_monthly: int = 0,
        keep_yearly: int = 0,
        keep_within: timedelta | None = None,
        dry_run: bool = False,
    ) -> list[ForgetGroup]:
        """Forget, as one group, the snapshots carrying all of `tags` that no rule keeps.

        restic's keep-within counts back from the newest snapshot of the group, not from now.
        """
        argv = commands.make_forget_command(
            repo,
            tags=tags,
            keep_hourly=keep_hourly,
            keep_daily=keep_daily,
            keep_weekly=keep_weekly,
            keep_monthly=keep_monthly,
            keep_yearly=keep_yearly,
            keep_within=commands.restic_duration(keep_within) if keep_within else None,
            dry_run=dry_run,
        )
        completed = self._exec(argv, repo, what=f"forget of {','.join(tags)} in {repo.location}")
        return parse_forget("\n".join(completed.stdout))

    def prune(self, repo: Repo) -> process.Completed:
        return self._exec(commands.make_prune_command(repo), repo, what=f"prune of {repo.location}")

    def copy(self, dest: Repo, source: Repo, *, tags: Sequence[str], what: str) -> None:
        self._exec(commands.make_copy_command(dest, source, tags=tags), dest, what=what)

    def ls(self, repo: Repo, snapshot_id: str) -> Listing:
        """Count the snapshot's files and bytes, streaming (a listing can be millions long)."""
        listing = Listing()
        self._exec(
            commands.make_ls_command(repo, snapshot_id),
            repo,
            what=f"listing snapshot {snapshot_id[:8]}",
            on_stdout_line=listing.add_line,
        )
        return listing

    def lock_info(
        self, repo: Repo, lock_id: str, *, gone: threading.Event | None = None
    ) -> LockFile:
        """What a lock says. Read without this call's cancellation, deadline and artifacts,
        and never retried on a lock: a stale lock must not block its own inspection.
        `gone` set stops the reading (restic 0.14 tries again for minutes to read a lock
        file that its restic removed meanwhile)."""
        reader = replace(
            self,
            cancel=gone,
            timeout=60.0,
            deadline=None,
            artifacts=None,
            on_locked=None,
            on_interrupted=None,
        )
        argv = commands.make_cat_lock_command(repo, lock_id)
        completed = reader._exec(argv, repo, what=f"reading lock {lock_id[:8]} of {repo.location}")
        return parse_lock("\n".join(completed.stdout))


def _password_files(repo: Repo | None, argv: Sequence[str]) -> tuple[str, ...]:
    """The password files a call reads: its repository's, and a copy's source's."""
    files = [str(repo.password_file)] if repo is not None else []
    files += [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == "--from-password-file"]
    return tuple(files)


def _progress(item: dict[str, Any]) -> BackupProgress:
    return BackupProgress(
        percent_done=float(item.get("percent_done", 0.0)),
        files_done=int(item.get("files_done", 0)),
        total_files=int(item.get("total_files", 0)),
        bytes_done=int(item.get("bytes_done", 0)),
        total_bytes=int(item.get("total_bytes", 0)),
    )
