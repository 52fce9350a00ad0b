"""The command-line grammar. Only argparse here: `drorch --help` must start fast."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
drorch protects data with restic: encrypted snapshots, copies on other disks and tape,
restore tests that prove recovery, and signed evidence of every test.

Exit codes: 0 success, 1 a failed operation, 2 bad usage or invalid configuration,
3 a policy violation found."""

EPILOG = """\
The config root is --config DIR, else $DRORCH_CONFIG, else /etc/drorch.
Start with `drorch demo` to build a sandbox config root and run a full cycle."""


def _common(json_output: bool = False) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="config root (default: $DRORCH_CONFIG or /etc/drorch)",
    )
    parent.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more log output (-vv for debug)",
    )
    if json_output:
        parent.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drorch",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="DIR",
        default=None,
        help="config root (default: $DRORCH_CONFIG or /etc/drorch)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plain, listing = _common(), _common(json_output=True)

    p = sub.add_parser(
        "validate",
        parents=[listing],
        help="check the config root",
        description="Check the config root. Every problem is reported at once, "
        "each naming file, line and field. Exit 2 when invalid.",
    )
    p.set_defaults(handler="validate")

    p = sub.add_parser(
        "run",
        parents=[listing],
        help="run an action of a job now",
        description="Run one action of a job now, in the foreground. "
        "Exit 1 when the run does not succeed.",
    )
    p.add_argument("job", metavar="JOB", help="job name (a file in jobs/)")
    p.add_argument(
        "action",
        metavar="ACTION",
        nargs="?",
        default="snapshot",
        help="snapshot (default), replicate, restore-test, prune or check",
    )
    p.add_argument(
        "--to",
        metavar="TARGET",
        help="replicate: only to this target (default: every target the job replicates to)",
    )
    p.add_argument(
        "--from",
        dest="from_target",
        metavar="TARGET",
        help="restore-test: test this copy (default: the next in the job's rotation)",
    )
    p.add_argument(
        "--snapshot",
        metavar="ID",
        help="restore-test: test this snapshot (default: latest, or random if configured)",
    )
    p.set_defaults(handler="run")

    p = sub.add_parser(
        "runs", parents=[listing], help="run history", description="Run history, newest first."
    )
    p.add_argument("--job", metavar="J", help="only this job")
    p.add_argument(
        "--limit", type=int, default=50, metavar="N", help="at most N runs (default 50; 0 for all)"
    )
    p.set_defaults(handler="runs")

    p = sub.add_parser("status", parents=[listing], help="jobs, last and next runs, running now")
    p.set_defaults(handler="status")

    p = sub.add_parser("snapshots", parents=[listing], help="snapshots in the catalog")
    p.add_argument("--job", metavar="J", help="only this job")
    p.add_argument("--target", metavar="T", help="only this target")
    p.set_defaults(handler="snapshots")

    p = sub.add_parser(
        "restore",
        parents=[listing],
        help="restore a snapshot into a folder",
        description="Restore a job's snapshot into an empty folder. Refuses / "
        "and system folders, and a non-empty folder without --force.",
    )
    p.add_argument("job", metavar="JOB")
    p.add_argument("--to", metavar="DIR", required=True, help="destination folder")
    p.add_argument(
        "--snapshot",
        metavar="ID",
        default="latest",
        help="snapshot id or prefix, or latest (default)",
    )
    p.add_argument(
        "--from",
        dest="from_target",
        metavar="TARGET",
        help="target to restore from (default: the job's snapshot target)",
    )
    p.add_argument(
        "--include",
        metavar="PATH",
        action="append",
        default=[],
        help="restore only this path (repeatable)",
    )
    p.add_argument("--force", action="store_true", help="restore into a non-empty folder")
    p.add_argument("--verify", action="store_true", help="let restic verify restored content")
    p.set_defaults(handler="restore")

    keys = sub.add_parser("keys", help="password files and the evidence key")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    p = keys_sub.add_parser(
        "init", parents=[plain], help="create missing password files (0600) and the evidence key"
    )
    p.set_defaults(handler="keys_init")
    p = keys_sub.add_parser(
        "export-public", parents=[plain], help="print the evidence public key (PEM) for auditors"
    )
    p.set_defaults(handler="keys_export_public")

    p = sub.add_parser(
        "compliance",
        parents=[listing],
        help="every job against its policy (exit 3 on a violation)",
        description="Evaluate every job against its policy from the catalog alone: RPO per "
        "copy, verified RPO, RTO, restore-test cadence, the copy rule (3-2-1-1-0), residency, "
        "check cadence and failed runs. Exit 3 when any rule is violated.",
    )
    p.add_argument("--job", metavar="J", help="only this job")
    p.set_defaults(handler="compliance")

    p = sub.add_parser(
        "metrics",
        parents=[plain],
        help="the Prometheus metrics, once",
        description="Compute the Prometheus metrics from the catalog and the policies (the "
        "ones the daemon publishes; each is documented in contrib/prometheus/README.md) and "
        "print them to stdout in the text exposition format; only with --textfile are they "
        "written to a file (metrics.textfile in drorch.yaml is the daemon's, not used here). "
        "Exit 0 even when a job violates its policy: the metrics say so.",
    )
    p.add_argument(
        "--textfile",
        metavar="PATH",
        help="write to PATH atomically (mode 0644) instead of stdout; name it *.prom for "
        "node-exporter's textfile collector",
    )
    p.set_defaults(handler="metrics")

    _evidence(sub, plain, listing)

    catalog = sub.add_parser("catalog", help="the catalog: rebuild a lost one")
    catalog_sub = catalog.add_subparsers(
        dest="catalog_command", metavar="SUBCOMMAND", required=True
    )
    p = catalog_sub.add_parser(
        "rebuild",
        parents=[listing],
        help="a new catalog from what the repositories hold",
        description="Create a new catalog from the disk targets' repositories: each is "
        "adopted again and its snapshots and copies are re-read and recorded. The run "
        "history and the evidence log cannot be recovered and start empty; the old run "
        "folders are moved aside. Refused while a daemon uses the state dir, and when a "
        "catalog is present (unless --force). Exit 1 when refused or a repository cannot be "
        "read; nothing is written then.",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="move the SQLite catalog that is present aside (never deleted) and rebuild",
    )
    p.set_defaults(handler="catalog_rebuild")

    _tape(sub, listing)

    p = sub.add_parser(
        "demo",
        parents=[plain],
        help="build a sandbox and run a full cycle",
        description="Write a complete config root with sample data into DIR, "
        "then run every action drorch has on it.",
    )
    p.add_argument("--dir", metavar="DIR", default="var/demo", help="default: ./var/demo")
    p.set_defaults(handler="demo")

    p = sub.add_parser("daemon", parents=[plain], help="the scheduler (service.py runs this)")
    p.set_defaults(handler="daemon")
    return parser


def _tape(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], listing: argparse.ArgumentParser
) -> None:
    tape = sub.add_parser("tape", help="tape libraries: what they hold, what the drives do")
    cmds = tape.add_subparsers(dest="tape_command", metavar="SUBCOMMAND", required=True)
    target_help = "the tape target (default: the only one drorch.yaml has)"
    p = cmds.add_parser(
        "inventory",
        parents=[listing],
        help="what the changer holds: drives, slots, import/export slots, barcodes",
        description="Ask the tape target's changer (mtx status, or the virtual library's "
        "state) what every drive, slot and import/export slot holds now, with barcodes; "
        "cleaning cartridges are marked. Reads the hardware, not the catalog.",
    )
    p.add_argument("target", metavar="TARGET", nargs="?", help=target_help)
    p.set_defaults(handler="tape_inventory")
    p = cmds.add_parser(
        "status",
        parents=[listing],
        help="each drive: cartridge, position, BOT/EOD/early-warning/write-protect",
        description="Ask every drive of the tape target for its status (MTIOCGET): the "
        "cartridge loaded, the file and block the head is at, and the flags the drive "
        "reports. A drive another process holds is shown as busy.",
    )
    p.add_argument("target", metavar="TARGET", nargs="?", help=target_help)
    p.set_defaults(handler="tape_status")


WHEN = "ISO 8601 date or time (UTC unless it has an offset), or a span ago like 7d"


def _evidence(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    plain: argparse.ArgumentParser,
    listing: argparse.ArgumentParser,
) -> None:
    evidence = sub.add_parser(
        "evidence",
        help="the signed evidence log: list, show, export and verify bundles",
        description="The evidence log: signed records of restore tests and other events, "
        "under signed Merkle checkpoints. Auditors verify exported bundles offline.",
    )
    cmds = evidence.add_subparsers(dest="evidence_command", metavar="SUBCOMMAND", required=True)
    p = cmds.add_parser("list", parents=[listing], help="evidence records, oldest first")
    p.add_argument("--job", metavar="J", help="only this job")
    p.add_argument("--since", metavar="T", help=f"only records at or after T ({WHEN})")
    p.add_argument("--until", metavar="T", help=f"only records at or before T ({WHEN})")
    p.set_defaults(handler="evidence_list")

    p = cmds.add_parser("show", parents=[listing], help="one record, as it was signed")
    p.add_argument("seq", metavar="SEQ", type=int, help="the record's sequence number")
    p.set_defaults(handler="evidence_show")

    p = cmds.add_parser(
        "export",
        parents=[plain],
        help="write a bundle for an auditor",
        description="Write records, checkpoints, inclusion proofs, the public key, a "
        "manifest and report.html into a new folder. --since/--until pick records by time "
        "(every record between the first and last picked is included: no gaps).",
    )
    p.add_argument("--out", metavar="DIR", required=True, help="a new or empty folder")
    p.add_argument("--since", metavar="T", help=f"records at or after T ({WHEN})")
    p.add_argument("--until", metavar="T", help=f"records at or before T ({WHEN})")
    p.add_argument(
        "--from-checkpoint",
        metavar="FILE",
        help="a checkpoint you accepted before (a line of an earlier checkpoints.jsonl): "
        "the bundle proves the log still extends it",
    )
    p.set_defaults(handler="evidence_export")

    p = cmds.add_parser(
        "verify",
        parents=[listing],
        help="check a bundle offline (exit 3 naming the first bad record)",
        description="Check an exported bundle offline with your copy of the public key: "
        "every leaf hash, record hash, signature, chain link, inclusion and consistency "
        "proof, checkpoint signature, and that seq has no gap. Needs no config root. "
        "Exit 0 when all holds, 3 naming the first bad record.",
    )
    p.add_argument("dir", metavar="DIR", help="the bundle folder")
    p.add_argument(
        "--key",
        metavar="PUBKEY",
        required=True,
        help="the public key (PEM) you trust, from `drorch keys export-public`",
    )
    p.set_defaults(handler="evidence_verify")
