"""Handler of `drorch catalog rebuild` (re-exported by commands)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from drorch.cli.render import print_json, print_table
from drorch.config import load_config, resolve_root

if TYPE_CHECKING:
    from drorch.actions.rebuild import RebuildReport, TargetRead

UNPROVEN = (
    "restic stores a snapshot whose source files could not all be read (a PARTIAL run) "
    "like a complete one, and the runs' backup records that would tell are gone"
)
NOT_RECOVERED = (
    "the run history (run ids start at 1 again), canary hashes (a restore test of a "
    "rebuilt snapshot fails its canary check), locks, missed slots, compliance rule states "
    "and pending notifications"
)
EVIDENCE = (
    "the evidence log starts empty: nothing is re-signed or invented. Bundles and "
    "checkpoints exported before remain the auditor's record and still verify on their own; "
    "the new log does not extend them."
)


def cmd_catalog_rebuild(args: argparse.Namespace) -> int:
    from drorch.actions.rebuild import rebuild_catalog

    config = load_config(resolve_root(args.config))  # restic needs the password files
    report = rebuild_catalog(config, force=args.force)
    if args.json:
        print_json(_json(report))
        return 0
    print(f"rebuilt the catalog {report.where} (catalog {report.identity}) from the repositories:")
    print_table(
        ["target", "repository", "path", "snapshots", "copies", "note"],
        [
            (
                t.target,
                t.repo_id[:10] if t.repo_id else None,
                t.path,
                t.snapshots,
                t.copies,
                _note(t),
            )
            for t in report.targets
        ],
        empty="no targets",
    )
    for t in report.targets:
        for skipped in t.skipped:
            print(f"not recorded, on {t.target}: {skipped}")
    for path in report.moved_aside:
        print(f"moved aside, not deleted: {path}")
    counted = f"{report.confirmed} COMPLETE and {report.partial} PARTIAL, as their runs' backup"
    print(f"snapshot status: {counted} records say.")
    if report.unconfirmed:
        print(f"{report.unconfirmed} recorded COMPLETE without proof: {UNPROVEN}.")
    print(f"not recovered, since only the lost catalog held them: {NOT_RECOVERED}.")
    print(EVIDENCE)
    return 0


def _note(target: TargetRead) -> str:
    if not target.read:
        return f"{target.kind}: not read: " + (target.later or "not supported yet")
    if target.repo_id is None:
        return (
            "no repository: never used, or its disk is not mounted (mount it, rebuild with --force)"
        )
    return ""


def _json(report: RebuildReport) -> dict[str, Any]:
    return {
        "catalog": report.where,
        "identity": report.identity,
        "targets": [
            {
                "target": t.target,
                "kind": t.kind,
                "path": str(t.path) if t.path else None,
                "repository": t.repo_id,
                "snapshots": t.snapshots,
                "copies": t.copies,
                "skipped": list(t.skipped),
            }
            for t in report.targets
        ],
        "status": {
            "complete_proven": report.confirmed,
            "partial": report.partial,
            "complete_unproven": report.unconfirmed,
        },
        "moved_aside": [str(path) for path in report.moved_aside],
        "runs": 0,
        "evidence_records": 0,
    }
