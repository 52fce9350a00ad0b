"""Evidence log benchmark: append 100,000 records, export them, verify the bundle offline.

Targets (issue 5): appending 100,000 records <= 60 s; verifying a 100,000-record bundle
<= 10 s; an inclusion proof is O(log n) (its length is printed).

Records look like restore-test evidence (~0.9 KB each) and go into a SQLite catalog with
synchronous=FULL, as drorch runs it. Appends go through EvidenceLog.append_many in
batches (one transaction and one signed checkpoint per batch); single appends (three
transactions each: lock, records and checkpoint, unlock) are timed on a sample beside.

Usage: .venv/bin/python bench/evidence.py [--records N] [--batch N] [--single N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

TARGET_APPEND_S = 60.0
TARGET_VERIFY_S = 10.0


def fields(i: int) -> dict[str, object]:
    passed = i % 17 != 0
    return {
        "actor": "scheduler",
        "job": f"job{i % 50:02d}",
        "policy": "standard",
        "target": {"name": "primary", "site": "dc1", "jurisdiction": "ML"},
        "snapshot": {"id": f"{i:064x}", "time": "2026-11-28T11:00:00Z", "size": 1_048_576 * i},
        "checks": [
            {"name": "restic-verify", "passed": passed, "detail": "restored content verified"},
            {"name": "canary", "passed": True, "detail": "byte-exact"},
            {"name": "listing", "passed": True, "detail": "3000 files, 300 MiB match"},
        ],
        "result": "pass" if passed else "fail",
        "reasons": [] if passed else ["restic: pack 1a2b3c damaged"],
        "durations": {"stage": 0.8, "restore": 12.5, "verify": 3.25},
        "throughput_bps": 26_843_545,
        "rto": {"target_s": 14400, "projected_s": 312},
        "versions": {"drorch": "0.1.0", "restic": "0.14.0"},
        "artifacts": {"command.txt": "ab" * 32, "stdout.log": "cd" * 32, "stderr.log": "ef" * 32},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--single", type=int, default=200, help="single appends timed")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args()

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from drorch.catalog import open_catalog
    from drorch.evidence.bundle import export, verify
    from drorch.evidence.log import EvidenceLog

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="drorch-evidence-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        key = Ed25519PrivateKey.generate()
        private, public = work / "evidence.ed25519", work / "evidence.pub.pem"
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        catalog = open_catalog(None, work / "state")
        log = EvidenceLog(catalog, private)

        start = time.perf_counter()
        for first in range(0, args.records, args.batch):
            count = min(args.batch, args.records - first)
            log.append_many([("restore-test", fields(first + i)) for i in range(count)])
        append_s = time.perf_counter() - start

        singles = []
        for i in range(args.single):
            began = time.perf_counter()
            log.append("restore-test", fields(args.records + i))
            singles.append(time.perf_counter() - began)

        fresh = EvidenceLog(catalog, private)  # a new process's first append rebuilds the tip
        began = time.perf_counter()
        fresh.append("restore-test", fields(0))
        first_append_s = time.perf_counter() - began

        began = time.perf_counter()
        damaged = fresh.self_check()
        self_check_s = time.perf_counter() - began
        began = time.perf_counter()
        fresh.self_check(signatures=False)
        quick_check_s = time.perf_counter() - began

        bundle = work / "bundle"
        began = time.perf_counter()
        export(catalog, bundle, key_path=private)
        export_s = time.perf_counter() - began
        total = args.records + args.single + 1

        began = time.perf_counter()
        result = verify(bundle, public)
        verify_s = time.perf_counter() - began

        proof = json.loads((bundle / "proofs.jsonl").read_bytes().splitlines()[0])
        size_mb = sum(p.stat().st_size for p in bundle.iterdir()) / 1e6
        cpus = os.cpu_count()
        print(f"evidence benchmark ({cpus} CPUs, python {sys.version.split()[0]}, {work})")
        print(
            f"- append {args.records} records in batches of {args.batch}: {append_s:.1f} s "
            f"({args.records / append_s:,.0f}/s; target <= {TARGET_APPEND_S:.0f} s) "
            f"{'PASS' if append_s <= TARGET_APPEND_S else 'FAIL'}"
        )
        print(
            f"- single append (lock + one transaction with its checkpoint + unlock), "
            f"{args.single} times: median {statistics.median(singles) * 1000:.1f} ms, "
            f"max {max(singles) * 1000:.1f} ms"
        )
        print(f"- first append of a new process at {total - 1} records: {first_append_s:.2f} s")
        print(
            f"- self-check of {total} records: {self_check_s:.1f} s (damage: {damaged}); "
            f"without the records' signatures: {quick_check_s:.1f} s"
        )
        print(f"- export of {total} records: {export_s:.1f} s ({size_mb:.0f} MB bundle)")
        print(
            f"- verify a {result.records}-record bundle: {verify_s:.1f} s "
            f"(target <= {TARGET_VERIFY_S:.0f} s) "
            f"{'PASS' if verify_s <= TARGET_VERIFY_S and result.ok else 'FAIL'}: "
            f"{result.message()[:60]}..."
        )
        print(f"- inclusion proof at {total} leaves: {len(proof['path'])} hashes (log2 n)")
        return 0 if result.ok and damaged is None else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
