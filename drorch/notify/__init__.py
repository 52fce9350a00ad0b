"""Webhooks and healthchecks-style pings, through an outbox in the catalog.

What happens (a policy transition, a scheduled run starting or ending) is written to the
outbox (drorch.catalog.outbox), a quick insert; the daemon's sender thread (sender.Sender)
delivers it with requests, retrying with backoff. A backup never waits on an endpoint,
and a delivery that fails is retried later, logged each time, and counted in metrics.
"""
