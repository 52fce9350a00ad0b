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
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from drorch.catalog import Catalog, outbox, rule_states
from drorch.catalog.rule_states import Transition, pending
from drorch.config import Config
from drorch.evidence.canonical import utc_iso
from drorch.evidence.log import EvidenceLog
from drorch.policy import evaluate
from drorch.policy.rules import JobCompliance
from drorch.policy.transitions import find

log = logging.getLogger(__name__)


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
        results = evaluate(config, self._catalog, now, jobs=list(jobs) if jobs else None)
        find(self._catalog, results, now)
        self.record(config)
        return results

    def record(self, config: Config) -> int:
        """Write the evidence and enqueue the webhooks of every pending transition."""
        done = 0
        for transition in pending(self._catalog):
            fields = self._fields(config, transition)
            record = self._evidence.append(transition.kind, fields)
            hooks = [h for h in config.settings.notify if transition.kind in h.events]
            payload = {
                "event": transition.kind,
                **fields,
                "noticed_at": utc_iso(transition.noticed_at),
                "host": self._host,
                "evidence_seq": record.seq,
            }
            sends = [outbox.webhook(h.webhook, transition.kind, payload) for h in hooks]
            rule_states.record(self._catalog, transition, record.seq, sends)
            level = logging.INFO if transition.ok else logging.WARNING
            log.log(
                level,
                "%s: %s of %s (%s); evidence record %d",
                transition.kind,
                transition.rule,
                transition.job,
                transition.result.get("detail", ""),
                record.seq,
            )
            done += 1
        if done and config.settings.notify:
            self._enqueued()
        return done

    def _fields(self, config: Config, transition: Transition) -> dict[str, Any]:
        job = config.jobs.get(transition.job)
        return {
            "actor": "scheduler",
            "job": transition.job,
            "policy": job.policy if job is not None else None,
            "site": config.settings.site,
            **transition.result,
        }
