"""The daemon's compliance watch: evaluate, find transitions, record and announce them.

    watch = Watch(catalog, evidence, wake_sender)
    results = watch.run(config, utc_now())            # every minute
    watch.run(config, utc_now(), jobs=["payroll"])    # after a run of payroll

Each transition becomes one signed evidence record (`policy-violation` or
`policy-restored`) and one webhook per configured endpoint that wants the event, the
webhooks enqueued in the same transaction that marks the transition recorded.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from drorch.catalog import Catalog, outbox, rule_states, utc_now
from drorch.catalog.rule_states import Transition, pending
from drorch.config import Config
from drorch.errors import DrorchError, LockBusy
from drorch.evidence.canonical import utc_iso
from drorch.evidence.log import EvidenceLog
from drorch.locks import resource_lock
from drorch.policy import evaluate
from drorch.policy.rules import JobCompliance
from drorch.policy.transitions import find

log = logging.getLogger(__name__)

RECORDER = "policy:recorder"  # the lock: one recorder of transitions at a time
BATCH = 200  # transitions signed in one evidence transaction
MAX_BATCHES = 50
AFTER_RUNS_DELAY = 5.0  # seconds a run's end waits for others before its job is evaluated
LOGGED_ONE_BY_ONE = 20  # transitions in a batch logged a line each; more: one summary


class Watch:
    def __init__(
        self, catalog: Catalog, evidence: EvidenceLog, enqueued: Callable[[], None]
    ) -> None:
        self._catalog = catalog
        self._evidence = evidence
        self._enqueued = enqueued
        self._host = socket.gethostname()

    def run(
        self, config: Config, now: datetime, *, jobs: Sequence[str] | None = None
    ) -> list[JobCompliance]:
        chosen = list(jobs) if jobs is not None else None
        results = evaluate(config, self._catalog, now, jobs=chosen)
        find(self._catalog, results, now, jobs=chosen)
        self.record(config, jobs=chosen)
        return results

    def record(self, config: Config, *, jobs: Sequence[str] | None = None) -> int:
        """Write the evidence and enqueue the webhooks of the pending transitions (of `jobs`,
        or all). One recorder at a time, across threads and daemons: when another holds
        the turn this returns 0 and the transitions wait for the next pass."""
        if not pending(self._catalog, jobs=jobs, limit=1):
            return 0  # the usual case: a read, not the two writes of taking the lock
        try:
            with resource_lock(self._catalog, RECORDER, purpose="recording policy transitions"):
                done = sum(self._record(config, batch) for batch in self._batches(jobs))
        except LockBusy:
            return 0
        if done and config.settings.notify:
            self._enqueued()
        return done

    def _batches(self, jobs: Sequence[str] | None) -> Iterator[list[Transition]]:
        for _ in range(MAX_BATCHES):  # a bound: each batch leaves pending what it records
            batch = pending(self._catalog, jobs=jobs, limit=BATCH)
            if not batch:
                return
            yield batch

    def _record(self, config: Config, batch: list[Transition]) -> int:
        fields = [self._fields(config, transition) for transition in batch]
        seqs: list[int | None]
        try:
            records = self._evidence.append_many(
                [(t.kind, f) for t, f in zip(batch, fields, strict=True)]
            )
            seqs = [r.seq for r in records]
        except DrorchError as exc:
            # Alerts matter most when the evidence log is in trouble: announce anyway.
            log.error(
                "could not record %d policy transition(s) as evidence: %s; announcing them without",
                len(batch),
                exc,
            )
            seqs = [None] * len(batch)
        now = utc_now()
        recorded: list[rule_states.Recorded] = []
        for transition, body, seq in zip(batch, fields, seqs, strict=True):
            hooks = [h for h in config.settings.notify if transition.kind in h.events]
            payload = {
                "event": transition.kind,
                **body,
                "noticed_at": utc_iso(transition.noticed_at),
                "host": self._host,
                "evidence_seq": seq,
            }
            sends = [outbox.webhook(h.webhook, transition.kind, payload) for h in hooks]
            recorded.append((transition, rule_states.NO_EVIDENCE if seq is None else seq, sends))
        rule_states.record(self._catalog, recorded, now)
        _log(batch, seqs)
        return len(batch)

    def _fields(self, config: Config, transition: Transition) -> dict[str, Any]:
        job = config.jobs.get(transition.job)
        return {
            "actor": "scheduler",
            "job": transition.job,
            "policy": job.policy if job is not None else None,
            "site": config.settings.site,
            **transition.result,
        }


def _log(batch: Sequence[Transition], seqs: Sequence[int | None]) -> None:
    """A line per transition; a summary for a flood (a first start with many new jobs)."""
    if len(batch) > LOGGED_ONE_BY_ONE:
        violated = sum(1 for t in batch if not t.ok)
        log.warning(
            "%d policy transitions (%d violations, %d restored) over %d jobs; evidence "
            "records %s; 'drorch compliance' lists them",
            len(batch),
            violated,
            len(batch) - violated,
            len({t.job for t in batch}),
            f"{seqs[0]}-{seqs[-1]}" if seqs[0] is not None else "NOT WRITTEN",
        )
        return
    for transition, seq in zip(batch, seqs, strict=True):
        log.log(
            logging.INFO if transition.ok else logging.WARNING,
            "%s: %s of %s (%s); evidence record %s",
            transition.kind,
            transition.rule,
            transition.job,
            transition.result.get("detail", ""),
            seq if seq is not None else "NOT WRITTEN",
        )


class AfterRuns:
    """Evaluates the jobs whose runs just ended, together and shortly after, on a thread of
    its own: a slot's burst of a hundred runs costs one evaluation of their jobs rather than
    a hundred, and no worker waits for it."""

    def __init__(
        self, watch: Watch, config: Callable[[], Config], *, delay: float = AFTER_RUNS_DELAY
    ) -> None:
        self._watch = watch
        self._config = config
        self._delay = delay
        self._jobs: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="compliance-after-runs", daemon=True
        )

    def ended(self, job: str) -> None:
        with self._lock:
            self._jobs.add(job)
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.wait(self._delay):  # let the burst gather
                return
            self._wake.clear()
            with self._lock:
                jobs, self._jobs = sorted(self._jobs), set()
            if not jobs:
                continue
            try:
                self._watch.run(self._config(), utc_now(), jobs=jobs)
            except Exception:
                log.exception(
                    "could not evaluate the compliance of %d job(s) after their runs", len(jobs)
                )
