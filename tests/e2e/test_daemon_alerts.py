"""The daemon's compliance watch and notifications, end to end: a real daemon, real
restic, and a real HTTP server on loopback receiving the webhooks and pings."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from drorch.catalog.evidence import records
from drorch.catalog.models import Delivery
from tests.conftest import DRORCH_YAML, POLICY_YAML, RootFactory
from tests.e2e.daemon_harness import DaemonProcess, catalog_of, wait_for
from tests.http_sink import Received, Sink

UNSCHEDULED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary}
"""

EVERY_2S_PINGED = """\
policy: standard
source: {paths: [data]}
snapshot: {target: primary, schedule: "every 2s"}
ping: {url: PING}
"""

FAST = {"DRORCH_COMPLIANCE_EVERY": "1"}


def with_webhook(url: str, **options: str) -> str:
    extra = "".join(f"\n    {key}: {value}" for key, value in options.items())
    return DRORCH_YAML + f"notify:\n  - webhook: {url}{extra}\n"


def drorch(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drorch", "--config", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def events(received: list[Received]) -> list[tuple[str, str]]:
    return [(r.json()["event"], r.json()["rule"]) for r in received if r.path == "/hook"]


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample's value in an exposition text."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


def webhooks_queued(root: Path) -> int:
    catalog = catalog_of(root)
    try:
        with catalog.session() as session:
            return session.query(Delivery).filter(Delivery.kind == "webhook").count()
    finally:
        catalog.close()


def settle(sink: Sink, root: Path, textfile: Path, count: int) -> list[tuple[str, str]]:
    """The webhooks once `count` arrived and a whole compliance pass that began after that
    added no other: the metrics are published at the end of each pass, stamped with its
    start, and a pass enqueues its webhooks before it ends."""
    arrived = sink.wait_for(count, timeout=30)
    assert len(arrived) >= count, events(arrived)
    after = time.time() + 1.5

    def generated() -> float:
        try:
            text = textfile.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0.0
        return sample(text, "drorch_metrics_generated_timestamp_seconds") or 0.0

    wait_for(lambda: generated() > after, 30, "a compliance pass after the webhooks")
    assert webhooks_queued(root) == count
    return events(sink.received)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rpo_ok(text: str) -> float | None:
    """drorch_compliance_rule_ok of app's rpo:primary in an exposition text."""
    return sample(text, "drorch_compliance_rule_ok", drorch_job="app", rule="rpo:primary")


def test_one_webhook_per_transition_and_the_metrics_show_it(
    make_root: RootFactory, tmp_path: Path, http_sink: Sink
) -> None:
    port = free_port()
    config = with_webhook(http_sink.url + "/hook")
    config += f"metrics: {{textfile: metrics/drorch.prom, listen: '127.0.0.1:{port}'}}\n"
    root = make_root(drorch=config, jobs={"app": UNSCHEDULED})
    (root / "metrics").mkdir()
    textfile = root / "metrics" / "drorch.prom"
    endpoint = f"http://127.0.0.1:{port}/metrics"
    assert drorch(root, "run", "app").returncode == 0
    policy = root / "policies" / "standard.yaml"
    daemon = DaemonProcess(root, tmp_path, env=FAST)
    try:
        daemon.wait_ready()
        # no restore test yet: two rules are violated from the start, each told once
        # although the daemon evaluates every second
        first = settle(http_sink, root, textfile, 2)
        assert sorted(first) == [("policy-violation", "rto"), ("policy-violation", "verified_rpo")]

        policy.write_text(POLICY_YAML.replace("rpo: 1h", "rpo: 1s"), encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        assert settle(http_sink, root, textfile, 3)[2:] == [("policy-violation", "rpo:primary")]
        stale = drorch(root, "compliance", "--json")
        assert stale.returncode == 3
        wait_for(lambda: rpo_ok(textfile.read_text()) == 0, 10, "the text file to show it")
        assert rpo_ok(requests.get(endpoint, timeout=5).text) == 0

        policy.write_text(POLICY_YAML, encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        assert settle(http_sink, root, textfile, 4)[3:] == [("policy-restored", "rpo:primary")]
        wait_for(lambda: rpo_ok(requests.get(endpoint, timeout=5).text) == 1, 10, "rpo ok")
        assert daemon.stop() == 0
    finally:
        daemon.close()

    hooks = [r.json() for r in http_sink.received]
    catalog = catalog_of(root)
    try:
        kept = {r.seq: r.data for r in records(catalog) if r.kind.startswith("policy-")}
    finally:
        catalog.close()
    # every webhook names its own signed evidence record, and every transition has one
    assert sorted(h["evidence_seq"] for h in hooks) == sorted(kept)
    for hook in hooks:
        record = kept[hook["evidence_seq"]]
        assert (record["kind"], record["rule"], record["ok"]) == (
            hook["event"],
            hook["rule"],
            hook["ok"],
        )
        assert hook["job"] == "app" and hook["policy"] == "standard"


def test_scheduled_runs_ping_their_check(
    make_root: RootFactory, tmp_path: Path, http_sink: Sink
) -> None:
    job = EVERY_2S_PINGED.replace("PING", http_sink.url + "/ping/app")
    root = make_root(jobs={"app": job})
    daemon = DaemonProcess(root, tmp_path)
    try:
        daemon.wait_ready()
        got = http_sink.wait_for(4, timeout=30)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    paths = [r.path for r in got]
    assert paths[:4] == ["/ping/app/start", "/ping/app", "/ping/app/start", "/ping/app"]
    assert got[1].body.startswith(b"run ") and b"snapshot SUCCEEDED" in got[1].body
