"""notify: a message to the configured webhooks, through the outbox (kept in order per
endpoint, retried while an endpoint is down), and one delivery attempt right away.

That attempt is of this step's own messages only, once each, without the immediate
retries: an endpoint that hangs or is down holds the runbook for at most its `timeout`,
and never for what else waits in the outbox (other webhooks, pings): the daemon's sender
delivers all of that, this message included when it did not go now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from drorch.catalog import outbox, utc_now
from drorch.runbooks.steps import Outcome, StepContext


class Notify:
    def plan(self, ctx: StepContext, inputs: Mapping[str, Any]) -> str:
        hooks = [h.webhook for h in ctx.config.settings.notify]
        where = ", ".join(hooks) if hooks else "no webhook configured: nothing would be sent"
        return f"send {inputs['event']!r}: {inputs['message']!r} to {where}"

    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> Outcome:
        from drorch.notify.sender import Sender, endpoints

        hooks = ctx.config.settings.notify
        if not hooks:
            return Outcome.ok(f"no webhook configured; not sent: {inputs['message']}")
        payload = {
            "event": str(inputs["event"]),
            "message": str(inputs["message"]),
            "runbook": ctx.runbook.title,
            "run": ctx.run_id,
            "actor": ctx.operator.recorded,
        }
        items = [outbox.webhook(h.webhook, str(inputs["event"]), payload) for h in hooks]
        ours = outbox.enqueue_now(ctx.catalog, items, utc_now())
        once = {url: replace(e, retries=0) for url, e in endpoints(hooks).items()}
        sender = Sender(ctx.catalog, lambda: once)
        try:
            sender.drain(only=ours)  # the daemon's sender delivers what could not go now
        finally:
            sender.stop()
        return Outcome.ok(
            f"handed to {len(hooks)} webhook(s) through the outbox (tried now; the daemon "
            f"retries what did not go): {inputs['message']}"
        )
