"""The daemon's lifecycle: check, recover, schedule, READY, serve signals, stop cleanly.

systemd Type=notify: READY=1 only after the config, the catalog and the targets were
checked; WATCHDOG=1 from the scheduler's own loop; STOPPING=1 on the way out.
SIGTERM stops new runs, interrupts running restic with SIGINT (its runs become
CANCELED) and exits 0. SIGHUP reloads the config root, keeping the old one if the
new one is invalid. A catalog removed or replaced under the daemon (checked with the
heartbeat) stops it loudly: no more WATCHDOG, running runs canceled, exit 1.

Several daemons may share a PostgreSQL catalog: one leads (service.leadership) and
schedules; the others stand by (heartbeat, metrics, their own host's dead runs) and try
for leadership every few seconds. A leader that finds itself deposed (its lock session
gone, or a fenced write refused) stops starting runs, cancels its running ones and stands
by again.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from drorch import __version__
from drorch.actions import ACTIONS, can_run, execute, request_for
from drorch.actions.context import Cancel
from drorch.actions.restore_test import remove_leftover_scratch
from drorch.catalog import Catalog, RunRecord, RunStatus, outbox, utc_now
from drorch.catalog.assignments import adopt, assign, move, waiting_for
from drorch.catalog.daemon import HEARTBEAT, heartbeat, record_missed_slots, register_node
from drorch.catalog.fencing import Fence
from drorch.catalog.identity import hold_daemon_lock
from drorch.catalog.leadership import Leader, draining, interrupted_slots, leader
from drorch.catalog.nodes import NodeStatus, overview
from drorch.config import Config, load_config
from drorch.config.placement import allowed_nodes
from drorch.errors import (
    EXIT_FAILED,
    CatalogUnreachable,
    ConfigError,
    Deposed,
    DrorchError,
    LockBusy,
    SlotTaken,
)
from drorch.evidence.log import EvidenceLog
from drorch.metrics import Publisher, collect
from drorch.notify.sender import Sender, endpoints
from drorch.policy.watch import AfterRuns, Watch
from drorch.runbooks.drill import DRILL, run_drill
from drorch.scheduler import calls
from drorch.scheduler.engine import Engine
from drorch.scheduler.plan import Entry, job_and_action, make_plan
from drorch.scheduler.timing import next_slot, slots_between
from drorch.service import recovery
from drorch.service.in_hand import InHand
from drorch.service.leadership import RETRY, leadership_for
from drorch.service.notify import (
    READY,
    STOPPING,
    WATCHDOG,
    notify,
    reloading,
    status,
    watchdog_interval,
)
from drorch.state import open_config_catalog
from drorch.targets import targets_of

log = logging.getLogger(__name__)

STOP_TIMEOUT = float(os.environ.get("DRORCH_STOP_TIMEOUT", "600"))
COMPLIANCE_EVERY = float(os.environ.get("DRORCH_COMPLIANCE_EVERY", "60"))  # seconds
CATALOG_RETRY_MAX = 30.0  # seconds between tries to reach the catalog at start, at most
# How often a daemon looks for the slots the leader assigned to its node (node affinity).
ASSIGNMENTS_EVERY = float(os.environ.get("DRORCH_ASSIGNMENTS_EVERY", "1"))


class Daemon:
    def __init__(self, root: Path) -> None:
        self.root = root
        # ConfigError: exit 2 before READY
        self.config: Config = load_config(root, check_metrics=True)
        # Held while we live: `drorch catalog rebuild` refuses to run under a daemon.
        self._state_lock = hold_daemon_lock(self.config.state_dir)
        # CatalogLost (exit 1) for a catalog that is not the one this state dir used.
        self.catalog: Catalog = _open_catalog(self.config)
        self._lost: str | None = None  # what happened to the catalog, once it is gone
        self._notify_lock = threading.Lock()  # no WATCHDOG=1 after the loss is announced
        # A daemon that cannot sign must not run tests it cannot prove: EvidenceKeyError, exit 2.
        self.evidence = EvidenceLog(self.catalog, self.config.settings.evidence_key)
        self.node = self.config.settings.daemon.node or socket.gethostname()
        self.node_id = register_node(
            self.catalog,
            host=socket.gethostname(),
            name=self.node,
            pid=os.getpid(),
            version=__version__,
        )
        # Run starts and evidence appends through this catalog are fenced by our epoch.
        self.fence = Fence(self.node)
        self.catalog.fence = self.fence
        self.leadership = leadership_for(self.catalog, self.node, self.node_id)
        self._deposed: str | None = None  # why a run found us deposed; the main loop acts
        self._handing_over = False  # drained while leading: its runs finish, then it steps down
        self._stand_by_line = ""  # while handing over: what its runs still do
        self._standing_by = "standby"  # what STATUS says while this daemon does not lead
        self._entries: dict[tuple[str, str], Entry] = {}
        # The current term's: set when it ends (leadership lost, stop); a new term, a new one.
        self.cancel = Cancel()
        self.cancel.set()  # no term yet
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._running = InHand()
        self._taking_lock = threading.Lock()
        # Assigned slots in this node's run pool (node affinity), and what stops their runs
        # (not the leadership term's: a standby runs them too).
        self._taking: set[tuple[str, str, datetime]] = set()
        self.worker_cancel = Cancel()
        self.sender = Sender(self.catalog, lambda: endpoints(self.config.settings.notify))
        self.watch = Watch(self.catalog, self.evidence, self.sender.wake)
        self.after_runs = AfterRuns(self.watch, lambda: self.config)
        # An endpoint address that cannot be bound is a ConfigError: exit 2 before READY.
        self.publisher = Publisher(self.config.settings.metrics)
        self.engine = Engine(
            workers=self.config.settings.daemon.workers,
            misfire_grace=self.config.settings.daemon.misfire_grace.total_seconds(),
            on_missed=self._missed,
            on_step=self._clock_stepped,
        )

    # -- start ----------------------------------------------------------------------------

    def serve(self) -> int:
        self._recover()
        self._check_targets()
        calls.bind(self)
        for signum, handler in (
            (signal.SIGTERM, self._on_term),
            (signal.SIGINT, self._on_term),
            (signal.SIGHUP, self._on_hup),
        ):
            signal.signal(signum, handler)
        interval = watchdog_interval()
        if interval is not None:
            self.engine.every(calls.watchdog, interval, "internal:watchdog")
        self.engine.every(calls.housekeeping, HEARTBEAT.total_seconds(), "internal:heartbeat")
        self.engine.every(calls.assignments, ASSIGNMENTS_EVERY, "internal:assignments")
        self.engine.every(
            calls.compliance, COMPLIANCE_EVERY, "internal:compliance", between_slots=True
        )
        self.sender.start()
        self.after_runs.start()
        self.engine.start()
        self._campaign()  # a leader loads its plan before READY
        settle_heap(collect=False)
        notify(READY, status(self._status_line()))
        log.info("drorch %s ready: %s", __version__, self._status_line())
        threading.Thread(target=self._self_check, name="evidence-self-check", daemon=True).start()
        next_look = time.monotonic() + RETRY
        try:
            while not self._stop.is_set():
                self._stop.wait(0.5)
                if self._reload.is_set():
                    self._reload.clear()
                    self._do_reload()
                if self._deposed is not None or time.monotonic() >= next_look:
                    self._campaign()
                    next_look = time.monotonic() + RETRY
        finally:
            self._shutdown()
        return EXIT_FAILED if self._lost else 0

    # -- leadership (from the main thread only) -------------------------------------------

    @property
    def leading(self) -> bool:
        return self.fence.epoch is not None

    def _campaign(self) -> None:
        """While leading: step down when the lock is gone or a run was refused. Otherwise
        try to lead (not while this node is drained)."""
        if self._stop.is_set() or self._lost:
            return
        if self.leading:
            why = self._deposed
            if why is None and not self.leadership.holds():
                why = "lost the leadership lock (its catalog session ended)"
            if why is not None:
                self._step_down(why)
            elif self._handing_over or self._drained():
                self._hand_over()
            return
        self._deposed = None
        try:
            if draining(self.catalog, self.node):
                self._stand_by(f"standby; node {self.node} is draining")
                return
            epoch = self.leadership.try_lead()
        except Exception as exc:  # the catalog is unreachable: try again later
            log.warning("could not try for leadership: %s", str(exc).splitlines()[0])
            self.leadership.close()
            return
        if epoch is None:
            self._stand_by_behind()
            return
        try:
            self._lead(epoch)
        except Exception as exc:  # the catalog went away meanwhile: stand by, try again
            log.warning("node %s could not take up leadership", self.node, exc_info=True)
            self._step_down(f"could not take up leadership: {str(exc).splitlines()[0]}")

    def _lead(self, epoch: int) -> None:
        """What a starting leader does: recover, run again what its node's death
        interrupted (RPO at risk), load the plan, catch up."""
        self.fence.epoch = epoch
        self.cancel = Cancel()
        log.info("node %s leads at epoch %d", self.node, epoch)
        self._recover_dead_nodes()
        self._adopt_assignments(epoch)
        entries = self._load_plan(self.config)
        self._rerun()
        self._catch_up(entries)
        notify(status(self._status_line()))

    def _step_down(self, why: str) -> None:
        """Deposed: start nothing more, cancel what runs, stand by and try again."""
        epoch = self.fence.epoch
        self.fence.epoch = None
        self.engine.unload()
        try:
            now: Leader | None = leader(self.catalog)
        except Exception:  # the catalog is unreachable too
            now = None
        reason = (
            f"leadership lost to {now.node} at epoch {now.epoch}"
            if now is not None and now.epoch != epoch and now.node
            else f"leadership lost: {why}"
        )
        self.cancel.cancel(reason)  # restic gets SIGINT; its runs end CANCELED with reason
        self.leadership.close()
        self._deposed = None
        log.error("node %s no longer leads (epoch %s): %s; %s", self.node, epoch, why, reason)
        self._stand_by("standby; " + reason)

    def _drained(self) -> bool:
        try:
            return draining(self.catalog, self.node)
        except Exception as exc:  # the catalog is unreachable: the lock check will tell
            log.warning("could not read whether node %s is drained: %s", self.node, exc)
            return False

    def _hand_over(self) -> None:
        """Drained while leading (`drorch node drain`): start nothing new, let what runs
        finish (its evidence is still appended under this epoch), then give leadership
        up for a standby to take; this node does not try again until it is resumed. The
        slots that fall meanwhile are caught up by the next leader."""
        if not self._handing_over:
            self._handing_over = True
            self.engine.unload()
            log.warning(
                "node %s is drained: no new runs; leadership is handed over once its "
                "running runs end",
                self.node,
            )
        running = len(self._running)
        if running:
            self._stand_by_line = f"draining: {running} run(s) to finish before the handover"
            notify(status(self._status_line()))
            return
        epoch = self.fence.epoch
        self.fence.epoch = None
        self._handing_over = False
        self.leadership.close()  # the advisory lock goes with the session
        log.warning("node %s handed leadership over (it led at epoch %s)", self.node, epoch)
        self._stand_by(f"standby; node {self.node} is draining")

    def _stand_by_behind(self) -> None:
        try:
            now = leader(self.catalog)
        except Exception:
            return
        self._stand_by(f"standby; leader {now.node} (epoch {now.epoch})")

    def _stand_by(self, line: str) -> None:
        if line != self._standing_by:
            log.info("node %s: %s", self.node, line)
            self._standing_by = line
            notify(status(self._status_line()))

    def _deposed_by(self, exc: Deposed) -> None:
        """From a run's thread: the main loop steps down at its next look."""
        if self._deposed is None:
            self._deposed = str(exc)

    def _notice_dead_runs(self) -> list[RunRecord]:
        """recovery.notice_dead_runs, telling it what this daemon runs at this moment (the
        "job:action" keys): those runs are alive whatever the clock says."""
        return recovery.notice_dead_runs(
            self.config, self.catalog, noticed_by="the daemon", running_here=self._running.keys()
        )

    def _recover(self) -> None:
        noticed = self._notice_dead_runs()
        remove_leftover_scratch(self.config.state_dir)
        if noticed:
            return  # their stale restic locks were looked for with them
        try:  # a restic killed on its own (the OOM killer) while no drorch ran
            recovery.remove_stale_restic_locks(self.config, recovery.recovery_restic(self.config))
        except DrorchError as exc:
            log.error("could not look for stale restic locks: %s", exc)

    def _recover_dead_nodes(self) -> list[RunRecord]:
        """The leader's: runs of this host's dead processes and of dead nodes, INTERRUPTED;
        returns them."""
        found: list[RunRecord] = []
        try:
            found += self._notice_dead_runs()
            found += recovery.notice_dead_nodes(self.config, self.catalog, leader=self.node)
        except Exception:
            log.exception("could not look for runs left by dead nodes")
        return found

    def _rerun(self) -> list[Entry]:
        """Run again at once, under its slot, a scheduled run interrupted with its node or
        process (the newest slot of its job action): a slot is not lost with its node. Its
        claim moves to the new run (compare-and-swap on the INTERRUPTED run's status): one
        slot never has two live runs. Returns the entries whose next slot has fallen since
        (a dead node's run is noticed 30 s on): those are for _catch_up, which runs the
        newest slot once and records the others as missed."""
        now = utc_now()
        later: list[Entry] = []
        try:
            interrupted = interrupted_slots(self.catalog)
        except Exception:
            log.exception("could not look for interrupted slots")
            return later
        for job, action, slot, run_id in interrupted:
            entry = self._entries.get((job, action))
            if entry is None:
                continue
            following = next_slot(entry.schedule, slot + timedelta(seconds=1))
            if following is not None and following <= now:
                later.append(entry)
                continue
            log.warning(
                "%s of %s: run %d was interrupted with its node; running its %s slot again now",
                action,
                job,
                run_id,
                slot.isoformat(),
            )
            self.engine.run_now(entry, {"rerun_of": run_id}, slot=slot)
        return later

    def _check_targets(self) -> None:
        """An offline target is reported; the daemon starts anyway, its runs will fail."""
        for name, target in targets_of(self.config).items():
            known = self.catalog.repository(name)
            if known is not None and not target.repository_present():
                log.error(
                    "target %s is offline: repository %s missing at %s; its runs will "
                    "fail until it is back",
                    name,
                    known.repo_id[:10],
                    target.location,
                )

    def _load_plan(self, config: Config) -> list[Entry]:
        entries, notes = make_plan(config, can_run(config))
        for note in notes:
            log.warning("%s", note)
        self._entries = {(entry.job, entry.action): entry for entry in entries}
        if self.leading and not self._handing_over:  # a standby schedules nothing
            self.engine.load(entries)
        return entries

    def _catch_up(
        self,
        entries: list[Entry],
        since: Mapping[tuple[str, str], datetime] | None = None,
        why: str = "no daemon ran it",
    ) -> None:
        """Run once what fell due since the newest run of each entry's job action (while
        no daemon ran, or no node led, or its run was interrupted), or since the time
        `since` gives it, and record every missed slot."""
        if since is None:
            since = {key: run.created_at for key, run in self.catalog.last_runs().items()}
        now = utc_now()
        for entry in entries:
            after = since.get((entry.job, entry.action))
            if after is None:
                continue  # never ran: `compliance` reports it; the schedule starts it
            slots, count = slots_between(entry.schedule, after, now)
            if not slots:
                continue
            record_missed_slots(self.catalog, entry.job, entry.action, slots)
            log.warning(
                "%s of %s missed %d slot(s) from %s (%s); running it once now",
                entry.action,
                entry.job,
                count,
                slots[0].isoformat(),
                why,
            )
            self.engine.run_now(
                entry,
                {
                    "catch_up": {
                        "missed_slots": count,
                        "first": slots[0].isoformat(),
                        "last": slots[-1].isoformat(),
                    }
                },
                slot=slots[-1],
            )

    def _clock_stepped(self, step: timedelta, skipped: Mapping[str, datetime]) -> None:
        """From the scheduler's thread, before it looks for due runs: the system clock
        stepped. The schedule follows the clock it now reads (a slot that ran already is
        not run again: its claim refuses it); the slots a step forward skipped are caught
        up as after downtime, once, and recorded as missed."""
        now = utc_now()
        if step < timedelta(0):
            log.warning(
                "the system clock stepped back by %s, to %s: runs follow the clock; a slot "
                "that ran already is skipped; what ran is dated ahead of the clock and ages "
                "count as 0 until the clock is past it",
                -step,
                now.isoformat(),
            )
            return
        log.warning(
            "the system clock stepped forward by %s, to %s: the slots it skipped are "
            "recorded as missed and each action skipped runs once now",
            step,
            now.isoformat(),
        )
        if not self.leading or self._handing_over:
            return
        since = {
            job_and_action(key): slot - timedelta(microseconds=1) for key, slot in skipped.items()
        }
        self._catch_up(list(self._entries.values()), since, "the clock stepped forward")

    # -- scheduled calls (from APScheduler's threads) -------------------------------------

    def run_action(
        self, job: str, action: str, details: Mapping[str, Any], slot: datetime | None = None
    ) -> None:
        cancel = self.cancel  # this term's
        if cancel.is_set() or not self.leading or self._handing_over:  # drained: none new
            return
        config = self.config
        if job not in config.jobs:
            log.warning("%s of %s skipped: the job is no longer configured", action, job)
            return
        allowed = allowed_nodes(config.targets, config.jobs[job], action)
        if allowed is not None and self.node not in allowed:  # only other nodes reach it
            self._assign(job, action, slot or utc_now(), allowed)
            return
        with self._running.holding(f"{job}:{action}"):
            if action == DRILL:  # a runbook run, of no one job: not through execute
                self._drill(config, job, cancel)
            else:
                self._run(config, job, action, details, slot, cancel)

    def _run(
        self,
        config: Config,
        job: str,
        action: str,
        details: Mapping[str, Any],
        slot: datetime | None,
        cancel: Cancel,
    ) -> None:
        started: list[RunRecord] = []

        def on_start(run: RunRecord) -> None:
            started.append(run)
            self._ping(config, job, action, "start")

        request = request_for(
            job,
            action,
            actor="scheduler",
            cancel=cancel,
            details=details,
            on_start=on_start,
            slot=slot,
        )
        try:
            run = self._in_turn(
                job,
                action,
                None if "catch_up" in details else slot,  # a catch-up's slots are recorded
                cancel,
                lambda: execute(config, self.catalog, request, ACTIONS),
            )
            if run is None:
                return
        except SlotTaken as exc:
            log.info("%s of %s skipped: %s (it ran or runs elsewhere)", action, job, exc)
            return
        except Deposed as exc:
            log.error("%s of %s not started: %s", action, job, exc)
            self._deposed_by(exc)
            return
        except Exception as exc:
            log.exception("%s of %s could not run", action, job)
            if started:  # the check heard "start": it must hear how it ended
                self._ping(config, job, action, "fail", f"{action} could not run: {exc}")
            return
        level = logging.INFO if run.status is RunStatus.SUCCEEDED else logging.ERROR
        log.log(
            level,
            "run %d: %s of %s %s%s",
            run.id,
            action,
            job,
            run.status.value,
            f": {run.error}" if run.error else "",
        )
        self._ended(config, job, action, run)

    def _in_turn(
        self,
        job: str,
        action: str,
        missed: datetime | None,
        cancel: Cancel,
        start: Callable[[], RunRecord],
    ) -> RunRecord | None:
        """`start()` the run; while another run of its job action holds the action's lock
        (the slot before it still running, a catch-up, a rerun, an operator's `drorch run`,
        a dead node's run not yet recovered), wait for it, up to the action's misfire grace.
        Past the grace the slot `missed` is recorded as missed: a slot that could not run is
        never silent. A stop or a lost leadership ends the wait (the next leader catches
        up). So does a drain: a drained leader finishes what runs and starts nothing more,
        not even a run that was waiting for its turn."""
        entry = self._entries.get((job, action))
        grace = entry.misfire_grace if entry else self.config.settings.daemon.misfire_grace
        # From now (a catch-up's or a rerun's slot is long past), on the monotonic clock:
        # a step of the wall clock neither ends the wait nor makes it an hour longer.
        until = time.monotonic() + grace.total_seconds()
        waiting = False
        while True:
            if self._handing_over:  # also after a wait: the run it waited for ended
                log.info("%s of %s not started: node %s is drained", action, job, self.node)
                return None
            try:
                return start()
            except LockBusy as exc:
                ended = cancel.is_set() or self._stop.is_set() or not self.leading
                if ended or time.monotonic() >= until:
                    log.warning("%s of %s skipped: %s", action, job, exc)
                    if not ended and missed is not None:
                        record_missed_slots(self.catalog, job, action, [missed])
                    return None
                if not waiting:
                    log.info("%s of %s waits for its turn: %s", action, job, exc)
                    waiting = True
                cancel.wait(1.0)

    # -- node affinity: slots for the nodes that reach a target --------------------------

    def _assign(self, job: str, action: str, slot: datetime, allowed: frozenset[str]) -> None:
        """The leader's, for a run only other nodes can make: claim its slot for a live,
        undrained one of them (the least busy), whose daemon runs it."""
        try:
            live = [
                n
                for n in overview(self.catalog).nodes
                if n.name in allowed and n.status is NodeStatus.UP and not n.draining
            ]
            if not live:
                log.error(
                    "%s of %s: no node that reaches its targets is up (%s); the %s slot is missed",
                    action,
                    job,
                    ", ".join(sorted(allowed)),
                    slot.isoformat(),
                )
                record_missed_slots(self.catalog, job, action, [slot])
                return
            node = min(live, key=lambda n: (n.running, n.name)).name
            made = assign(self.catalog, job=job, action=action, slot_at=slot, node=node)
        except Deposed as exc:
            self._deposed_by(exc)
            return
        except Exception:
            log.exception("%s of %s: could not assign its slot", action, job)
            return
        if made:
            log.info("%s of %s: the %s slot goes to node %s", action, job, slot.isoformat(), node)

    def _adopt_assignments(self, epoch: int) -> None:
        """A new leader's: the slots assigned and not yet taken carry its epoch now, and
        those of nodes that are not up go to one that is (and reaches their targets)."""
        try:
            adopt(self.catalog, epoch)
            self._move_stranded()
        except Exception:
            log.exception("could not adopt the assigned slots")

    def _move_stranded(self) -> None:
        nodes = overview(self.catalog).nodes
        up = {n.name: n for n in nodes if n.status is NodeStatus.UP and not n.draining}
        gone = {n.name for n in nodes} - set(up)
        config = self.config
        for name in sorted(gone):
            for waiting in waiting_for(self.catalog, name):
                if waiting.job not in config.jobs:
                    continue
                allowed = allowed_nodes(config.targets, config.jobs[waiting.job], waiting.action)
                heirs = sorted(n for n in up if allowed is None or n in allowed)
                if heirs and move(self.catalog, waiting.id, heirs[0]):
                    log.warning(
                        "%s of %s: the %s slot assigned to node %s (not up) goes to %s",
                        waiting.action,
                        waiting.job,
                        waiting.slot_at.isoformat(),
                        name,
                        heirs[0],
                    )

    def assignments(self) -> None:
        """Every second: start the slots the leader assigned to this node."""
        if self._stop.is_set() or self._lost or self._handing_over:
            return
        try:
            waiting = waiting_for(self.catalog, self.node)
        except Exception as exc:
            log.warning("could not look for assigned slots: %s", str(exc).splitlines()[0])
            return
        for slot in waiting:
            key = (slot.job, slot.action, slot.slot_at)
            with self._taking_lock:
                if key in self._taking:
                    continue
                self._taking.add(key)
            self.engine.run_assigned(slot.id, slot.job, slot.action, slot.slot_at, slot.epoch)

    def run_assigned(self, job: str, action: str, slot: datetime, epoch: int | None) -> None:
        """A slot the leader assigned to this node: its run takes the claim, fenced by the
        epoch of the leader that assigned it (a new leader adopts what is left)."""
        taking = (job, action, slot)
        config = self.config
        try:
            if self.worker_cancel.is_set() or job not in config.jobs:
                return
            with self._running.holding(f"{job}:{action}"):
                run = execute(
                    config,
                    self.catalog.fenced(Fence(self.node, epoch)),
                    request_for(
                        job,
                        action,
                        actor="scheduler",
                        cancel=self.worker_cancel,
                        details={"assigned_at_epoch": epoch},
                        slot=slot,
                    ),
                    ACTIONS,
                )
        except LockBusy as exc:  # its previous run still goes on: the next look tries again
            log.debug("assigned %s of %s waits: %s", action, job, exc)
            return
        except SlotTaken as exc:
            log.info("assigned %s of %s skipped: %s", action, job, exc)
            return
        except Deposed as exc:
            log.warning(
                "assigned %s of %s not started: %s; the leader adopts the slot", action, job, exc
            )
            return
        except Exception:
            log.exception("assigned %s of %s could not run", action, job)
            return
        finally:
            with self._taking_lock:
                self._taking.discard(taking)
        log.log(
            logging.INFO if run.status is RunStatus.SUCCEEDED else logging.ERROR,
            "run %d: %s of %s (assigned at epoch %s) %s%s",
            run.id,
            action,
            job,
            epoch,
            run.status.value,
            f": {run.error}" if run.error else "",
        )
        self._ended(config, job, action, run)

    def _drill(self, config: Config, job: str, cancel: Cancel) -> None:
        try:
            done = run_drill(config, self.catalog, job, cancel=cancel)
        except LockBusy as exc:
            log.warning("drill of %s skipped: %s", job, exc)
            return
        except Deposed as exc:
            log.error("drill of %s not started: %s", job, exc)
            self._deposed_by(exc)
            return
        except DrorchError as exc:
            log.error("drill of %s could not start: %s", job, exc)
            return
        except Exception:
            log.exception("drill of %s could not run", job)
            return
        ok = done.status is RunStatus.SUCCEEDED
        log.log(
            logging.INFO if ok else logging.ERROR,
            "runbook run %d: drill of %s %s%s",
            done.id,
            job,
            done.status.value,
            f": {done.run.error}" if done.run.error else "",
        )
        if self.leading:
            self.after_runs.ended(job)

    def _ended(self, config: Config, job: str, action: str, run: RunRecord) -> None:
        """Ping the job's check; its compliance is looked at again shortly (with the other
        jobs whose runs end meanwhile): the run may change it."""
        if run.status is not RunStatus.CANCELED:  # a stop is not the job's failure
            ok = run.status is RunStatus.SUCCEEDED
            body = f"run {run.id}: {action} {run.status.value}" + (
                f": {run.error}" if run.error else ""
            )
            self._ping(config, job, action, "success" if ok else "fail", body)
        if self.leading:  # the watch is the leader's (a deposed one's appends are refused)
            self.after_runs.ended(job)

    def _ping(self, config: Config, job: str, action: str, event: str, body: str = "") -> None:
        spec = config.jobs[job].ping
        if spec is None or action not in spec.actions:
            return
        try:
            outbox.enqueue_now(self.catalog, [outbox.ping(spec.url, event, job, body)], utc_now())
        except Exception:
            log.exception("could not enqueue the %s ping of %s", event, job)
            return
        self.sender.wake()

    def compliance(self) -> None:
        """Every minute: every job against its policy; transitions recorded and announced;
        the metrics published from the same evaluation."""
        config, now = self.config, utc_now()
        results = None
        try:  # the leader's alone: one record and one notification per transition
            results = self.watch.run(config, now) if self.leading else None
        except Deposed as exc:
            self._deposed_by(exc)
        except Exception:
            log.exception("the compliance evaluation failed")
        metrics = config.settings.metrics
        if metrics.textfile is None and metrics.listen is None:
            return
        try:  # on their own: a watch in trouble must not also blind the metrics
            self.publisher.publish(collect(config, self.catalog, now, results))
        except Exception:
            log.exception("could not publish the metrics")

    def _self_check(self) -> None:
        """Recompute the evidence log (hashes, chain, signatures, checkpoint) once at start:
        a catalog edited by hand is reported, loudly, while protection goes on."""
        try:
            damaged = self.evidence.self_check()
        except Exception:
            log.exception("the evidence self-check could not run")
            return
        if damaged is not None:
            notify(status(f"evidence log damaged at record {damaged}; {self._status_line()}"))
        else:
            log.info("evidence self-check: the log is intact")

    def housekeeping(self) -> None:
        if self._catalog_lost():
            return
        try:
            heartbeat(self.catalog, self.node_id)
        except Exception:
            log.exception("could not write the heartbeat")
        if self.leading:  # runs of dead processes here, and of dead nodes
            if self._recover_dead_nodes():
                self._catch_up(self._rerun())
            try:
                self._move_stranded()
            except Exception:
                log.exception("could not move the slots assigned to nodes that are gone")
            return
        try:  # a `drorch run` killed meanwhile: its run is not left RUNNING for long
            self._notice_dead_runs()
        except Exception:
            log.exception("could not look for runs left by dead processes")

    def watchdog(self) -> None:
        with self._notify_lock:
            if self._lost is None:
                notify(WATCHDOG, status(self._status_line()))

    def _catalog_lost(self) -> bool:
        """Whether the catalog was removed or replaced since it was opened. If so, stop
        loudly: what runs now cannot be recorded truthfully, so they are canceled, nothing
        new starts, systemd hears no more WATCHDOG, and the daemon exits 1."""
        anchor = self.catalog.anchor
        reason = anchor.check(self.catalog.engine) if anchor is not None else None
        if reason is None:
            return False
        with self._notify_lock:
            if self._lost is None:
                self._lost = reason
                log.critical(
                    "%s. Stopping: running runs are canceled and nothing more is recorded; "
                    "what this daemon recorded since is not in the catalog at that path. "
                    "Rebuild it from the repositories with `drorch catalog rebuild`, then "
                    "start the daemon again",
                    reason,
                )
                notify(status(f"catalog lost: {reason}"))
                for aside in anchor.set_aside() if anchor is not None else ():
                    log.critical("moved %s aside: it must not mix into another catalog", aside)
        self.cancel.set()
        self._stop.set()
        return True

    def _missed(self, job: str, action: str, slot: datetime) -> None:
        try:
            record_missed_slots(self.catalog, job, action, [slot])
        except Exception:
            log.exception("could not record a missed slot")

    def _status_line(self) -> str:
        if not self.leading:
            return self._standing_by
        running = sorted(self._running.keys())
        jobs = len(self.config.jobs)
        role = f"; leader {self.node} (epoch {self.fence.epoch})"
        if self._handing_over:
            role += f"; {self._stand_by_line}"
        if running:
            more = f" and {len(running) - 5} more" if len(running) > 5 else ""
            return f"{jobs} jobs; running: {', '.join(running[:5])}{more}{role}"
        return f"{jobs} jobs; idle{role}"

    # -- signals --------------------------------------------------------------------------

    def _on_term(self, signum: int, _frame: FrameType | None) -> None:
        self._stop.set()

    def _on_hup(self, signum: int, _frame: FrameType | None) -> None:
        self._reload.set()

    def _do_reload(self) -> None:
        notify(*reloading())
        try:
            config = load_config(self.root, check_metrics=True)
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("reload: %s", issue)
            log.error(
                "reload refused: %d problem(s) in the config root; keeping the running "
                "configuration",
                len(exc.issues),
            )
        else:
            if config.settings.metrics != self.config.settings.metrics:
                self._restart_publisher(config)
            self.config = config
            self._load_plan(config)
            settle_heap(collect=True)  # the old config and plan, cycles and all, go
            log.info("reloaded %s", self.root)
        notify(READY, status(self._status_line()))

    def _restart_publisher(self, config: Config) -> None:
        self.publisher.close()
        try:
            self.publisher = Publisher(config.settings.metrics)
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("reload: %s; metrics are not served over HTTP", issue)
            self.publisher = Publisher(config.settings.metrics.model_copy(update={"listen": None}))

    def _shutdown(self) -> None:
        lost = f"catalog lost: {self._lost}; " if self._lost else ""
        notify(STOPPING, status(f"{lost}stopping: interrupting running restic"))
        log.info("stopping: no new runs; interrupting running ones")
        self.engine.pause()
        self.cancel.set()  # restic gets SIGINT; its runs end CANCELED
        self.worker_cancel.set()  # and so do the runs of slots assigned to this node
        stopper = threading.Thread(target=self.engine.shutdown, kwargs={"wait": True}, daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT)
        if self._lost is None:  # never into a catalog that is not ours
            try:
                heartbeat(self.catalog, self.node_id, stopped=True)
            except Exception:
                log.exception("could not record the stop")
        self.fence.epoch = None
        self.leadership.close()  # a standby takes over without waiting for our session
        calls.bind(None)
        self.after_runs.stop()
        self.sender.stop()
        self.publisher.close()
        if stopper.is_alive():
            # Python would wait for the worker threads at exit; systemd would then kill us.
            log.error("runs did not stop within %.0fs; exiting anyway", STOP_TIMEOUT)
        if stopper.is_alive() or self._lost:
            # Nor may SQLite close a lost catalog: it would delete PATH-wal by name, which may
            # be another catalog's by now.
            logging.shutdown()
            os._exit(EXIT_FAILED if self._lost else 0)
        log.info("stopped")


def settle_heap(*, collect: bool) -> None:
    """Leave what the daemon keeps for good (modules, the config, the plan of thousands of
    scheduled entries) out of the garbage collector's full passes from now on.

    A full pass looks at every object the process tracks: with 2,000 jobs it held the GIL
    for 0.3-0.4 s, every worker standing still, and the churn of a slot's runs started
    one about every minute. Frozen objects are still freed when nothing refers to them;
    only cycles among them wait for the next unfreeze. `collect`: first thaw the heap and
    collect it whole (after a reload, so that the old config's cycles are freed)."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def _open_catalog(config: Config) -> Catalog:
    """The config root's catalog. While its server cannot be reached, tried again with
    backoff (up to CATALOG_RETRY_MAX seconds apart), READY withheld: systemd's start timeout
    decides how long that may last."""
    delay = 1.0
    while True:
        try:
            return open_config_catalog(config)
        except CatalogUnreachable as exc:
            log.error("%s; trying again in %.0fs", exc, delay)
            notify(status(f"waiting for the catalog: {exc}"))
            time.sleep(delay)
            delay = min(delay * 2, CATALOG_RETRY_MAX)


def run_daemon(root: Path) -> int:
    return Daemon(root).serve()
