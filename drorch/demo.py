"""`drorch demo`: a sandbox config root with sample data, and one full cycle on it.

It writes drorch.yaml, copies the shipped jobs/, policies/ and runbooks/ (package
data in drorch/examples/, so an installed wheel has them; the repository root links
its own folders there), creates keys and a few MB of sample data, then runs every
action drorch has, printing what it did and how to explore further.
"""

from __future__ import annotations

import filecmp
import fnmatch
import json
import logging
import random
import shutil
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from drorch.action_key import replicate_key
from drorch.actions import ACTIONS, Request, RestoreOptions, execute, request_for
from drorch.catalog import Catalog, RunRecord, RunStatus, open_catalog, utc_now
from drorch.config import Config, load_config
from drorch.errors import EXIT_FAILED, EXIT_VIOLATION, ConfigError, DrorchError, UsageError
from drorch.keys import init_keys

MARKER = ".drorch-demo"
EXAMPLES = ("jobs", "policies", "runbooks")  # folders of drorch/examples/, package data

DRORCH_YAML = """\
# Written by `drorch demo`. Relative paths resolve against this folder.
site: bamako-dc1
jurisdiction: ML
state_dir: var/state
evidence_key: keys/evidence.ed25519
targets:
  primary:
    kind: disk
    path: var/repos/primary
    password_file: keys/primary.pass
    site: bamako-dc1
    jurisdiction: ML
    min_free: 64MiB
  replica:
    kind: disk
    path: var/repos/replica
    password_file: keys/replica.pass
    site: bamako-dc2
    jurisdiction: ML
    min_free: 64MiB
  vault:
    kind: tape
    virtual: {path: var/vtl, slots: 8, capacity: 200MiB, import_export: 2}
    pool: weekly
    password_file: keys/vault.pass
    site: bamako-dc1
    jurisdiction: ML
    offline: true
"""


def say(text: str = "") -> None:
    print(text, flush=True)


def run_demo(directory: Path) -> int:
    root = directory.expanduser().absolute()
    _prepare(root)
    say(f"drorch demo in {root}")
    say()
    say("1. config root: drorch.yaml, jobs/, policies/, runbooks/ and sample data")
    (root / "drorch.yaml").write_text(DRORCH_YAML, encoding="utf-8")
    copy_examples(root)
    sizes = write_sample_data(root / "data")
    for name, (files, size) in sizes.items():
        say(f"   data/{name}: {files} files, {size / 1e6:.1f} MB")
    created = init_keys(load_config(root, check_secrets=False).settings)
    say(f"   drorch keys init: {len(created)} secrets created (0600) in keys/")
    config = load_config(root)
    say(
        f"   drorch validate: valid ({len(config.jobs)} jobs, {len(config.policies)} policies, "
        f"{len(config.runbooks)} runbooks, {len(config.targets)} targets)"
    )
    catalog = open_catalog(config.settings.catalog, config.state_dir)
    try:
        return _cycle(root, config, catalog)
    except DrorchError as exc:
        print(f"drorch demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        catalog.close()


def _cycle(root: Path, config: Config, catalog: Catalog) -> int:
    failed = 0
    say()
    say("2. snapshots: encrypted restic snapshots into the disk target 'primary'")
    for job in sorted(config.jobs):
        failed += _show(execute(config, catalog, Request(job=job, action="snapshot"), ACTIONS))
    (root / "data" / "payroll" / "2026-11.csv").write_text(
        "employee,amount\n1001,420000\n1002,385000\n", encoding="utf-8"
    )
    say("   (a new payroll file arrives; the next snapshot stores only what changed)")
    failed += _show(execute(config, catalog, Request(job="payroll", action="snapshot"), ACTIONS))

    say()
    say("3. restore: the latest payroll snapshot into an empty folder, compared byte for byte")
    destination = root / "var" / "restore" / "payroll"
    run = execute(
        config,
        catalog,
        Request(job="payroll", action="restore", options=RestoreOptions(to=destination)),
        ACTIONS,
    )
    failed += _show(run)
    if run.status is RunStatus.SUCCEEDED:
        source = root / "data" / "payroll"
        restored = destination / source.relative_to("/")
        same, differ = compare_trees(
            source, restored, exclude=config.jobs["payroll"].source.exclude
        )
        say(
            f"   {same} files identical, {len(differ)} different"
            + (f": {', '.join(differ[:5])}" if differ else "")
        )
        failed += bool(differ)

    say()
    say("4. replicate: every snapshot copied to 'replica', a disk at the second site, and")
    say("   payroll's to 'vault', tape in the virtual library (written, then read back)")
    for job in sorted(config.jobs):
        failed += _show(
            execute(config, catalog, request_for(job, replicate_key("replica")), ACTIONS)
        )
    failed += _show(
        execute(config, catalog, request_for("payroll", replicate_key("vault")), ACTIONS)
    )
    for barcode, where in _vault_cartridges(catalog):
        say(f"   on tape: cartridge {barcode}, {where}")
    for key, targets in catalog.holders().items():
        say(f"   snapshot {key[:8]} is held by: {', '.join(targets)}")
    say("   a job pointed at a target in another jurisdiction is refused:")
    say(f"      {residency_refusal(root)}")

    say()
    say("5. restore tests: each copy in turn restored into scratch space and verified")
    for _ in range(3):  # payroll tests primary, replica, then vault (tape): its rotation
        failed += _show(
            execute(config, catalog, Request(job="payroll", action="restore-test"), ACTIONS)
        )
    failed += _show(
        execute(config, catalog, Request(job="registry", action="restore-test"), ACTIONS)
    )

    say()
    say("6. runbooks: an operator restores registry with the restore-job runbook, and a")
    say("   recovery drill restores payroll from the replica to scratch, verifies, cleans up")
    failed += _runbooks(root, config, catalog)
    failed += _evidence(root, config, catalog)

    say()
    say("7. vaulting: payroll's cartridges go to the mail slot, to be carried to the vault")
    failed += _export_vault(config, catalog)

    say()
    say("8. check: restic verifies the primary repository (reading 1/N of its data each run)")
    for job in sorted(config.jobs):
        failed += _show(execute(config, catalog, Request(job=job, action="check"), ACTIONS))

    say()
    say("9. prune: each job's policy retention is applied, then unused data is freed")
    for job in sorted(config.jobs):
        failed += _show(execute(config, catalog, Request(job=job, action="prune"), ACTIONS))

    say()
    say("10. compliance: every job against its policy, from the catalog alone")
    failed += _compliance(config, catalog)

    say()
    say("11. the auditor's next visit: a bundle of everything since the checkpoint kept at")
    say("    step 6, verified against it (nothing rewritten since), its report leading with")
    say("    the violated rule")
    failed += _next_visit(root, config, catalog)

    say()
    say("The scheduler daemon runs the same actions on the jobs' schedules (Ctrl-C stops it):")
    say(f"   python service.py --config {root}      (or: drorch --config {root} daemon)")
    say()
    say("Explore further:")
    prefix = f"drorch --config {root}"
    for command in (
        "status",
        "compliance",
        "metrics",
        "runs",
        "snapshots --job payroll",
        "tape list",
        "tape inventory",
        "run registry",
        f"restore payroll --to {root}/var/restore/again",
        "validate --json",
    ):
        say(f"   {prefix} {command}")
    if failed:
        print(f"drorch demo: {failed} step(s) failed; see the messages above", file=sys.stderr)
        return EXIT_FAILED
    say()
    say("demo complete")
    return 0


def _vault_cartridges(catalog: Catalog) -> list[tuple[str, str]]:
    """The cartridges holding the vault's media sets, and what is on each."""
    from drorch.catalog import tape as tape_catalog

    found = []
    for media_set in tape_catalog.media_sets(catalog, target="vault"):
        for cartridge in tape_catalog.cartridges(catalog, media_set_id=media_set.id):
            files = tape_catalog.tape_files(catalog, cartridge.barcode)
            found.append(
                (
                    cartridge.barcode,
                    f"media set {media_set.id[:8]} #{cartridge.sequence}: {len(files)} tape "
                    f"files, {cartridge.bytes_written / 1e6:.1f} MB",
                )
            )
    return found


def _export_vault(config: Config, catalog: Catalog) -> int:
    """`drorch tape export` of every cartridge of the vault's media sets: the copy is then
    offline, as the 3-2-1-1-0 rule asks."""
    from drorch.targets.tape.library import open_library
    from drorch.targets.tape.vault import export_cartridges

    barcodes = [barcode for barcode, _ in _vault_cartridges(catalog)]
    if not barcodes:
        say("   no cartridge to export: the tape-out did not write")
        return 1
    library = open_library(config.targets["vault"])  # type: ignore[arg-type]  # a tape target
    for move in export_cartridges(library, catalog, barcodes, at=utc_now()):
        say(
            f"   drorch tape export {move.barcode}: {move.source} -> import/export slot {move.slot}"
        )
    return 0


def _show(run: RunRecord) -> int:
    summary = (run.details or {}).get("summary", "")
    say(
        f"   run {run.id}: {run.action} {run.job}: {run.status.value}"
        + (f" - {summary}" if summary else "")
    )
    if run.error:
        say(f"      error: {run.error}")
    return 0 if run.status is RunStatus.SUCCEEDED else 1


def _prepare(root: Path) -> None:
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise UsageError(
                f"{root} is not empty and was not made by drorch demo; choose another --dir"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        "made by drorch demo; removed and rebuilt by the next one\n", encoding="utf-8"
    )


def copy_examples(root: Path) -> None:
    """Write the shipped jobs/, policies/ and runbooks/ into root, read as package data
    (importlib.resources), so that an installed drorch finds them as a checkout does."""
    examples = resources.files("drorch") / "examples"
    for folder in EXAMPLES:
        shipped = examples / folder
        if not shipped.is_dir():
            raise DrorchError(
                f"the shipped examples are missing: no {folder}/ in {examples}; reinstall drorch"
            )
        (root / folder).mkdir()
        for item in shipped.iterdir():
            if item.name.endswith(".yaml"):
                (root / folder / item.name).write_bytes(item.read_bytes())


def write_sample_data(folder: Path, seed: int = 2026) -> dict[str, tuple[int, int]]:
    """A few MB of payroll and registry files, the same for a given seed."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    payroll = folder / "payroll"
    registry = folder / "registry" / "scans"
    payroll.mkdir(parents=True)
    registry.mkdir(parents=True)
    for month in range(1, 11):
        rows = "".join(f"{1000 + i},{rng.randrange(150_000, 900_000)}\n" for i in range(400))
        (payroll / f"2026-{month:02d}.csv").write_text("employee,amount\n" + rows, encoding="utf-8")
    (payroll / "dump.sql").write_bytes(rng.randbytes(1_500_000))
    (payroll / "scratch.tmp").write_text(
        "excluded by the job's exclude pattern\n", encoding="utf-8"
    )
    for number in range(24):
        (registry / f"acte-{number:04d}.tif").write_bytes(rng.randbytes(100_000))
    (folder / "registry" / "index.txt").write_text(
        "".join(f"acte-{n:04d}.tif\n" for n in range(24)), encoding="utf-8"
    )
    return {name: _tree_size(folder / name) for name in ("payroll", "registry")}


def _tree_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def compare_trees(left: Path, right: Path, *, exclude: Sequence[str] = ()) -> tuple[int, list[str]]:
    """Count identical files; list those missing or different on the right."""
    same, differ = 0, []
    for path in sorted(p for p in left.rglob("*") if p.is_file()):
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in exclude):
            continue
        relative = path.relative_to(left)
        other = right / relative
        if other.is_file() and filecmp.cmp(path, other, shallow=False):
            same += 1
        else:
            differ.append(str(relative))
    return same, differ


FOREIGN_TARGET = """\
  paris:
    kind: disk
    path: var/repos/paris
    password_file: keys/replica.pass
    site: paris-dc1
    jurisdiction: FR
"""


def residency_refusal(root: Path) -> str:
    """Validate a copy of the sandbox where payroll also replicates to a French target."""
    trial = root / "var" / "residency-trial"
    shutil.rmtree(trial, ignore_errors=True)
    trial.mkdir(parents=True)
    (trial / "drorch.yaml").write_text(
        (root / "drorch.yaml").read_text(encoding="utf-8") + FOREIGN_TARGET, encoding="utf-8"
    )
    for folder in ("policies", "keys"):
        shutil.copytree(root / folder, trial / folder)
    (trial / "jobs").mkdir()
    (trial / "jobs" / "payroll.yaml").write_text(
        (root / "jobs" / "payroll.yaml")
        .read_text(encoding="utf-8")
        .replace("  - {to: replica", '  - {to: paris, schedule: "0 1 * * *"}\n  - {to: replica', 1),
        encoding="utf-8",
    )
    try:
        load_config(trial)
    except ConfigError as exc:
        return "; ".join(str(issue) for issue in exc.issues)
    finally:
        shutil.rmtree(trial, ignore_errors=True)
    return "NOT REFUSED (this is a bug)"


def _runbooks(root: Path, config: Config, catalog: Catalog) -> int:
    """The restore-job runbook and a drill, unattended (--yes), and the drill's evidence."""
    from drorch.actions.lifecycle import default_actor
    from drorch.catalog.evidence import records
    from drorch.runbooks import Operator, start

    operator = Operator(default_actor(), yes=True, say=lambda text: say(f"      {text}"))
    failed = 0
    runs = (
        ("restore-job", {"job": "registry", "destination": str(root / "var/restore/registry")}),
        ("drill", {"scratch": str(root / "var/restore/drill")}),
    )
    sealed = []
    for name, params in runs:
        given = " ".join(f"--param {k}={v}" for k, v in params.items())
        say(f"   drorch runbook run {name} {given} --yes")
        done = start(config, catalog, name, params, operator)
        say(
            f"   run {done.id}: {done.status.value}"
            + (f": {done.run.error}" if done.run.error else "")
        )
        failed += done.status is not RunStatus.SUCCEEDED
        sealed.append(done.details.get("evidence_seq"))
    drill = next((r for r in records(catalog) if r.seq == sealed[-1]), None)
    if drill is None:
        return failed + 1
    data = drill.data
    [row] = data["recovery"]
    say(
        f"   drill evidence #{drill.seq} ({data['kind']}, signed by key {drill.key_id}): "
        f"{data['result']}, {row['job']} restored from {row['target']} in "
        f"{row['restore_s']:.1f}s against an RTO of {row['rto_s']}s: "
        + ("within" if row["within"] else "OVER")
    )
    return failed


def _evidence(root: Path, config: Config, catalog: Catalog) -> int:
    """Export the evidence for an auditor, verify it offline, and show a tampered copy fail."""
    from drorch.evidence.bundle import export, newest_checkpoint, verify
    from drorch.keys import public_key_pem

    folder = root / "var" / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    public = folder / "evidence-public.pem"  # what an auditor gets from `drorch keys export-public`
    public.write_text(public_key_pem(config.settings), encoding="utf-8")
    bundle = export(catalog, folder / "bundle", key_path=config.settings.evidence_key)
    result = verify(bundle, public)
    say(f"   evidence: exported to {bundle}")
    say(f"   drorch evidence verify {bundle} --key {public}:")
    for line in result.message().splitlines():
        say(f"      {line.strip()}")
    say(f"   report for compliance officers: {bundle / 'report.html'}")
    kept = folder / "kept-checkpoint.jsonl"  # what an auditor keeps: `drorch evidence checkpoint`
    mark = newest_checkpoint(catalog, config.settings.evidence_key)
    kept.write_bytes(mark.line + b"\n")
    say(f"   the auditor keeps checkpoint {mark.tree_size} (root {mark.root_hash[:16]}…): {kept}")
    tampered = folder / "tampered"
    shutil.copytree(bundle, tampered)
    records = tampered / "records.jsonl"
    text = records.read_text(encoding="utf-8")
    records.write_text(text.replace('"result":"pass"', '"result":"fail"', 1), encoding="utf-8")
    caught = verify(tampered, public)
    say(f"   the same bundle with one word changed: {caught.message()}")
    return int(not result.ok) + int(caught.ok)


def _next_visit(root: Path, config: Config, catalog: Catalog) -> int:
    """Export from the kept checkpoint, verify against it, count the violated rules the
    report leads with."""
    from drorch.evidence.bundle import export, verify

    folder = root / "var" / "evidence"
    kept, public = folder / "kept-checkpoint.jsonl", folder / "evidence-public.pem"
    bundle = export(
        catalog,
        folder / "next-visit",
        key_path=config.settings.evidence_key,
        from_checkpoint=kept,
    )
    result = verify(bundle, public, since_checkpoint=kept)
    say(f"   drorch evidence export --out {bundle} --from-checkpoint {kept}")
    say(f"   drorch evidence verify {bundle} --key {public} --since-checkpoint {kept}:")
    for line in result.message().splitlines():
        say(f"      {line.strip()}")
    report = (bundle / "report.html").read_text(encoding="utf-8")
    violated = report.count('<li class="violation"')  # the summary's list of violated rules
    say(f"   {bundle / 'report.html'}: leads with {violated} violated rule(s)")
    return int(not result.ok) + int(violated == 0)


def _compliance(config: Config, catalog: Catalog) -> int:
    """Show each job's rules, then make one job stale and show what follows: a red rule,
    exit 3, exactly one webhook, and the metric."""
    from drorch.policy import evaluate

    for result in evaluate(config, catalog, utc_now()):
        violated = [r for r in result.rules if not r.ok]
        say(
            f"   {result.job}: {len(result.rules) - len(violated)} of {len(result.rules)} "
            f"rules ok" + ("" if violated else " - compliant")
        )
        for rule in result.rules:
            state = "ok      " if rule.ok else "VIOLATED"
            say(f"      {state} {rule.rule}: {rule.detail}")
    quiet = logging.getLogger("drorch.policy.watch")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the demo prints the transitions itself
    try:
        failed = _stale(config, catalog)
    finally:
        quiet.setLevel(level)
    say("   to see it on your own: write 'rpo: 1s' in policies/standard.yaml, then run")
    say("   'drorch compliance' (exit 3) or leave the daemon running (webhook, metrics)")
    return failed


def _stale(config: Config, catalog: Catalog) -> int:
    """Registry's policy RPO set to 1 s in memory, with a webhook to a local receiver."""
    import dataclasses
    import threading
    from datetime import timedelta
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from drorch.config.model import Notify
    from drorch.evidence.log import EvidenceLog
    from drorch.metrics import collect, render
    from drorch.notify.sender import Sender, endpoints
    from drorch.policy.watch import Watch

    received: list[dict[str, object]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/drorch"
    try:
        hook = Notify(webhook=url)
        settings = config.settings.model_copy(update={"notify": (hook,)})
        standard = config.policies["standard"]
        stale = standard.model_copy(update={"rpo": timedelta(seconds=1)})
        policies = {**config.policies, "standard": stale}
        config = dataclasses.replace(config, settings=settings, policies=policies)
        sender = Sender(catalog, lambda: endpoints((hook,)))
        watch = Watch(catalog, EvidenceLog(catalog, config.settings.evidence_key), lambda: None)
        as_written = dataclasses.replace(config, policies={**policies, "standard": standard})
        baseline = {
            (r.job, rule.rule): rule.ok
            for r in watch.run(as_written, utc_now())
            for rule in r.rules
        }
        while sender.drain():
            pass
        before = len(received)
        time.sleep(1.1)  # registry's newest snapshot is now older than 1 s
        say(f"   a webhook receiver listens on {url}")
        say("   registry's policy RPO set to 1s, shorter than its newest snapshot's age:")
        results = watch.run(config, utc_now())
        for _ in range(3):  # evaluated again and again: the violation is told once
            watch.run(config, utc_now())
        while sender.drain():
            pass
        [registry] = [r for r in results if r.job == "registry"]
        rpo = next(r for r in registry.rules if r.rule == "rpo:primary")
        say(
            f"      drorch compliance: rpo:primary {'ok' if rpo.ok else 'VIOLATED'} - "
            f"{rpo.detail} (limit {rpo.limit}s); exit {EXIT_VIOLATION}"
        )
        new = [hook for hook in received[before:] if hook.get("job") == "registry"]
        for event in new:
            say(
                f"      webhook received: {event['event']} {event['rule']} of {event['job']} "
                f"(evidence record {event['evidence_seq']})"
            )
        text = render(collect(config, catalog, utc_now(), results)).decode()
        shown = [
            line
            for line in text.splitlines()
            if line.startswith("drorch_compliance_rule_ok{")
            and 'drorch_job="registry"' in line
            and 'rule="rpo:primary"' in line
        ]
        for line in shown:
            say(f"      metrics: {line}")
        turned = sorted(
            rule.rule
            for rule in registry.rules
            if baseline[("registry", rule.rule)] and not rule.ok
        )
        say(f"      one webhook per rule that turned violated: {', '.join(turned)}")
        return int(rpo.ok or sorted(str(e["rule"]) for e in new) != turned or not shown)
    finally:
        server.shutdown()
        server.server_close()
