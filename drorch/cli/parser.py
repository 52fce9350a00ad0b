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
        description="Restore a job's snapshot into an empty folder. restic writes into a "
        "hidden folder beside it, renamed into place only when complete, and removed if the "
        "restore fails or is stopped. Refuses / and system folders, and a non-empty folder "
        "without --force.",
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
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a non-empty folder: its contents are moved aside to DIR.before-run-N, "
        "never deleted",
    )
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
    p = keys_sub.add_parser(
        "rotate",
        parents=[listing],
        help="move the evidence log to a new signing key, signed over by the old one",
        description="Create a new evidence key and append a key-rotation record, signed by "
        "the old key, that names it; every later record and checkpoint is signed by the new "
        "key, and `drorch evidence verify` walks the chain from the key an auditor trusts. "
        "The old key file is kept as KEY.retired-OLDID. A rotation cut short is finished by "
        "running it again.",
    )
    p.add_argument("--reason", default="scheduled rotation", help="why, for the record")
    p.set_defaults(handler="keys_rotate")

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
    _runbook(sub, listing)
    _node(sub, plain, listing)

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
    p = sub.add_parser(
        "cli-server",
        parents=[plain],
        help="keep drorch loaded so that commands start at once (optional)",
        description="Import drorch once and run each command a `drorch` of this uid hands "
        "over on the socket: a command then starts without Python's and drorch's import "
        "time (about half a second). The command runs in a child process of the server "
        "with the client's arguments, standard streams, working directory, umask and "
        "environment; the client relays its signals and exits with the command's exit "
        "code. Without a server, or when it refuses (another uid, drorch upgraded, "
        "different DRORCH_* or locale variables), `drorch` runs the command itself. "
        "contrib/systemd has a socket unit for it.",
    )
    p.add_argument(
        "--socket",
        metavar="PATH",
        default=None,
        help="where to listen (default: $DRORCH_CLI_SOCKET, else /run/drorch/cli.sock); "
        "clients look there too",
    )
    p.set_defaults(handler="cli_server")
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
    _tape_media(cmds, listing, target_help)


def _tape_media(
    cmds: argparse._SubParsersAction[argparse.ArgumentParser],
    listing: argparse.ArgumentParser,
    target_help: str,
) -> None:
    names_help = "[TARGET] then barcodes; " + target_help
    p = cmds.add_parser(
        "list",
        parents=[listing],
        help="the catalog's media sets and cartridges of a tape target",
        description="What the catalog knows: each media set of the target (id, pool, "
        "when written, when it expires under its pool's retention) with its cartridges "
        "(sequence, state, last known location, bytes), then cartridges in no media set "
        "(blank, scratch-labelled, never read). The hardware's view is `tape inventory`.",
    )
    p.add_argument("target", metavar="TARGET", nargs="?", help=target_help)
    p.set_defaults(handler="tape_list")
    p = cmds.add_parser(
        "label",
        parents=[listing],
        help="give blank cartridges a pool's scratch label",
        description="Load each cartridge, read its file 0 and, when it is blank, write a "
        "scratch label of the pool (a drorch label with no media set yet; tape-out writes "
        "a media set's label over it) and record it in the catalog; unload it back to its "
        "slot. A cartridge with any label (drorch's, another catalog's, another "
        "program's) or data is refused, naming what was found, unless --force; --force "
        "never writes over a cartridge the catalog says holds an unexpired media set. "
        "Cleaning cartridges are refused; write-protected ones are skipped. Exit 1 when "
        "a cartridge was refused, 2 for a barcode not in the library.",
    )
    p.add_argument("names", metavar="BARCODE", nargs="*", help=names_help)
    p.add_argument(
        "--all-blank",
        action="store_true",
        help="every cartridge of the library that the pool takes and that reads blank",
    )
    p.add_argument("--pool", metavar="P", help="the pool (default: the target's)")
    p.add_argument(
        "--force",
        action="store_true",
        help="write over a label or data found (never an unexpired media set of the catalog)",
    )
    p.set_defaults(handler="tape_label")
    p = cmds.add_parser(
        "export",
        parents=[listing],
        help="move cartridges to import/export slots and mark them exported (offline)",
        description="Move each cartridge (ejected from its drive first if loaded) to a "
        "free import/export slot and mark it EXPORTED in the catalog: a copy whose media "
        "set is all exported counts as offline for compliance. Taking it out of the mail "
        "slot is the operator's. Nothing moves when a barcode is not in the library (exit "
        "2) or the free import/export slots are too few (exit 1).",
    )
    p.add_argument("names", metavar="BARCODE", nargs="+", help=names_help)
    p.set_defaults(handler="tape_export")
    p = cmds.add_parser(
        "import",
        parents=[listing],
        help="move cartridges from import/export slots into storage slots",
        description="Move the cartridges in the import/export slots named (default: every "
        "full one) to free storage slots, lowest first, and record them in the library "
        "again; an exported cartridge of a media set comes back FULL (nothing is appended "
        "to a vaulted set). Nothing moves when a slot is not an import/export slot, is "
        "empty, or the free storage slots are too few.",
    )
    p.add_argument("target", metavar="TARGET", nargs="?", help=target_help)
    p.add_argument(
        "--slot", dest="slots", metavar="N", type=int, action="append", default=[],
        help="an import/export slot to take from (repeatable)",
    )  # fmt: skip
    p.set_defaults(handler="tape_import")
    p = cmds.add_parser(
        "scan",
        parents=[listing],
        help="rebuild the catalog of media sets from the cartridges alone",
        description="Load each cartridge (default: every one in a drive or a storage "
        "slot) and record what its label and its last index say: its media set, its "
        "place in it, its tape files and which repository file each archive holds; blank "
        "and foreign cartridges are recorded as such. For a catalog that was lost (after "
        "`drorch catalog rebuild`) or never saw the cartridges. Scanning again records "
        "the same. Exit 1 naming each cartridge that could not be read.",
    )
    p.add_argument("names", metavar="BARCODE", nargs="*", help=names_help)
    p.set_defaults(handler="tape_scan")


WHEN = "ISO 8601 date or time (UTC unless it has an offset), or a span ago like 7d"


def _evidence(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    plain: argparse.ArgumentParser,
    listing: argparse.ArgumentParser,
) -> None:
    evidence = sub.add_parser(
        "evidence",
        help="the signed evidence log: list, show, export and verify bundles, keep checkpoints",
        description="The evidence log: signed records of restore tests and other events, "
        "under signed Merkle checkpoints. Auditors verify exported bundles offline.",
    )
    cmds = evidence.add_subparsers(dest="evidence_command", metavar="SUBCOMMAND", required=True)
    p = cmds.add_parser(
        "list",
        parents=[listing],
        help="evidence records, oldest first",
        description="Evidence records, oldest first. The whole log is checked as it is read "
        "(hashes, signatures, chain links, checkpoints, with the config's evidence key): a "
        "record that does not verify is marked (VERIFIED NO; in JSON verified false and "
        "the problem) and named on stderr. Exit 3 when a record listed does not verify or "
        "records are missing; damage outside a --job/--since/--until listing is a warning.",
    )
    p.add_argument("--job", metavar="J", help="only this job")
    p.add_argument("--since", metavar="T", help=f"only records at or after T ({WHEN})")
    p.add_argument("--until", metavar="T", help=f"only records at or before T ({WHEN})")
    p.set_defaults(handler="evidence_list")

    p = cmds.add_parser(
        "show",
        parents=[listing],
        help="one record, as it was signed",
        description="One record, as it was signed (--json: exactly its signed fields), "
        "checked against the log as it is read. Exit 3 when it does not verify (why on "
        "stderr) or was deleted.",
    )
    p.add_argument("seq", metavar="SEQ", type=int, help="the record's sequence number")
    p.set_defaults(handler="evidence_show")

    p = cmds.add_parser(
        "export",
        parents=[plain],
        help="write a bundle for an auditor",
        description="Write records, checkpoints, inclusion proofs, the public key, a "
        "manifest and report.html into a new folder. --since/--until pick records by time "
        "(every record between the first and last picked is included: no gaps). The "
        "bundle holds what the catalog holds; when the log does not verify, the damage is "
        "named on stderr and the exit is 3, after the bundle is written.",
    )
    p.add_argument("--out", metavar="DIR", required=True, help="a new or empty folder")
    p.add_argument("--since", metavar="T", help=f"records at or after T ({WHEN})")
    p.add_argument("--until", metavar="T", help=f"records at or before T ({WHEN})")
    p.add_argument(
        "--from-checkpoint",
        metavar="FILE",
        help="a checkpoint you kept before (from `drorch evidence checkpoint` or an earlier "
        "bundle's checkpoints.jsonl): the bundle carries the consistency proof from it that "
        "`verify --since-checkpoint` needs",
    )
    p.set_defaults(handler="evidence_export")

    p = cmds.add_parser(
        "verify",
        parents=[listing],
        help="check a bundle offline (exit 3 naming the first bad record)",
        description="Check an exported bundle offline with your copy of the public key: "
        "the manifest's signature (the range, filters, checkpoint and file hashes it "
        "claims), every file's hash, every leaf hash, record hash, signature, chain link, "
        "inclusion and consistency proof, checkpoint signature, and that the records are "
        "exactly the range claimed with no gap. With --since-checkpoint, that the bundle's "
        "checkpoint extends exactly the one you kept. Prints the range proven and the "
        "records of the checkpoint's tree the bundle leaves out. Needs no config root. "
        "Exit 0 when all holds, 3 naming the first bad record or claim.",
    )
    p.add_argument("dir", metavar="DIR", help="the bundle folder")
    p.add_argument(
        "--key",
        metavar="PUBKEY",
        required=True,
        help="the public key (PEM) you trust, from `drorch keys export-public`",
    )
    p.add_argument(
        "--since-checkpoint",
        metavar="FILE",
        help="a checkpoint line you kept (from `drorch evidence checkpoint` or an earlier "
        "bundle's checkpoints.jsonl): exit 3 unless the bundle's checkpoint is that one or "
        "holds a consistency proof from exactly its size and root",
    )
    p.set_defaults(handler="evidence_verify")

    p = cmds.add_parser(
        "checkpoint",
        parents=[listing],
        help="print the newest signed checkpoint, the line an auditor keeps",
        description="Print the evidence log's newest signed checkpoint as one canonical "
        "line, the same as a line of a bundle's checkpoints.jsonl. Keep it (an auditor, a "
        "second site, a cron job that mails it out): a later bundle verified with "
        "--since-checkpoint must extend exactly it, so history before it cannot be "
        "rewritten unnoticed, even by the holder of the key. Refused (exit 1) when the "
        "checkpoint's signature or root does not hold over the catalog's records.",
    )
    p.set_defaults(handler="evidence_checkpoint")


RUNBOOK_DESCRIPTION = """\
Runbooks (files in runbooks/) are the operator's procedures for restores, recoveries and
drills: drorch runs their steps in order, records each attempt (who, when, with what, how
it ended) and seals the finished run as a signed evidence record.

A failed or interrupted run stops at its step and goes on from there with `resume`.
Four eyes: an approve step makes the run wait (across process exits) until a different
person than the one who started it runs `drorch runbook approve RUN STEP`; approving does
not continue the run: somebody then runs `drorch runbook resume RUN`."""

AS_HELP = (
    "act as USER (only when drorch runs as root; the record says root named them); "
    "default: the login user"
)


def _runbook(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    listing: argparse.ArgumentParser,
) -> None:
    runbook = sub.add_parser(
        "runbook",
        help="run restores, recoveries and drills step by step (runbooks/*.yaml)",
        description=RUNBOOK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmds = runbook.add_subparsers(dest="runbook_command", metavar="SUBCOMMAND", required=True)
    acting = argparse.ArgumentParser(add_help=False, parents=[listing])
    acting.add_argument("--as", dest="as_user", metavar="USER", help=AS_HELP)
    running = argparse.ArgumentParser(add_help=False, parents=[acting])
    running.add_argument(
        "--yes", action="store_true", help="confirm steps go on without typing their word"
    )
    p = cmds.add_parser("list", parents=[listing], help="the runbooks: title, steps, params")
    p.set_defaults(handler="runbook_list")

    p = cmds.add_parser(
        "show",
        parents=[listing],
        help="one runbook as the operator reads it",
        description="Title, description, allowed roots, parameters (type, required, "
        "default, pattern), preconditions and the numbered steps with their values.",
    )
    p.add_argument("name", metavar="NAME", help="the runbook (runbooks/NAME.yaml)")
    p.set_defaults(handler="runbook_show")

    p = cmds.add_parser(
        "run",
        parents=[running],
        help="start a run of a runbook, or --dry-run it",
        description="Check the parameters and preconditions, then run the steps in order. "
        "Bad input is refused (exit 2) before anything is written. Exit 0 when the run "
        "succeeds or waits for an approval, 1 when a step fails (resume it), 130 on Ctrl-C "
        "(resume it).",
    )
    p.add_argument("name", metavar="NAME", help="the runbook (runbooks/NAME.yaml)")
    p.add_argument(
        "--param",
        "-p",
        metavar="K=V",
        action="append",
        help="a parameter (repeat for each); see `drorch runbook show NAME`",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="resolve everything (the snapshot `latest` means, its size, the destination, "
        "free space) and show what each step would do; change nothing. Exit 1 if the run "
        "would be refused",
    )
    p.set_defaults(handler="runbook_run")

    p = cmds.add_parser(
        "resume",
        parents=[running],
        help="go on with a failed, interrupted or approved run from its step",
        description="Go on from the first step not done of a FAILED, INTERRUPTED or WAITING "
        "run (once its approval is given). The runbook must be unchanged since the run "
        "started.",
    )
    p.add_argument("run", metavar="RUN", type=int, help="the run id (drorch runbook history)")
    p.set_defaults(handler="runbook_resume")

    p = cmds.add_parser(
        "approve",
        parents=[acting],
        help="approve a waiting step (four eyes); does not continue the run",
        description="Four eyes: a person other than the one who started the run approves "
        "the step it waits at. This records the approval only; the run goes on when "
        "somebody runs `drorch runbook resume RUN`.",
    )
    p.add_argument("run", metavar="RUN", type=int, help="the run id")
    p.add_argument("step", metavar="STEP", help="the name of the step waiting")
    p.set_defaults(handler="runbook_approve")

    p = cmds.add_parser(
        "abort",
        parents=[acting],
        help="end a failed, interrupted or waiting run as CANCELED",
        description="End a run that will not go on: it is sealed as CANCELED in the "
        "evidence log, with the reason.",
    )
    p.add_argument("run", metavar="RUN", type=int, help="the run id")
    p.add_argument("--reason", metavar="TEXT", help="why, for the record")
    p.set_defaults(handler="runbook_abort")

    p = cmds.add_parser("history", parents=[listing], help="runbook runs, newest first")
    p.add_argument("name", metavar="NAME", nargs="?", help="only runs of this runbook")
    p.add_argument("--limit", metavar="N", type=int, help="only the newest N runs")
    p.set_defaults(handler="runbook_history")

    p = cmds.add_parser("status", parents=[listing], help="one run and each of its steps")
    p.add_argument("run", metavar="RUN", type=int, help="the run id")
    p.set_defaults(handler="runbook_status")


def _node(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    plain: argparse.ArgumentParser,
    listing: argparse.ArgumentParser,
) -> None:
    node = sub.add_parser(
        "node",
        help="the daemons sharing the catalog: list, drain for maintenance, resume",
        description="Several daemons on one PostgreSQL catalog: one leads (schedules), the "
        "others stand by and take over when it dies or is drained. A node is a daemon's "
        "`daemon: {node: NAME}` (default: its host name).",
    )
    cmds = node.add_subparsers(dest="node_command", metavar="SUBCOMMAND", required=True)
    p = cmds.add_parser(
        "list",
        parents=[listing],
        help="nodes, the leader and its epoch, heartbeats, running runs",
        description="Every node that ran a daemon on this catalog: up (a heartbeat within "
        "30 s), silent (none for longer, not stopped: killed, hung or cut off) or stopped; "
        "which one leads, at which fencing epoch; which are drained; how many runs each "
        "runs now.",
    )
    p.set_defaults(handler="node_list")
    for name, summary, text in (
        (
            "drain",
            "take a node out for maintenance: finish its runs, start none, hand over leadership",
            "Take a node out for maintenance: its daemon finishes the runs it has, starts no "
            "new ones, and hands leadership to a standby. Stays drained across restarts "
            "until `drorch node resume`. With --wait, returns once the node leads nothing "
            "and runs nothing (exit 1 if that takes longer than the wait).",
        ),
        (
            "resume",
            "put a drained node back into service",
            "Put a drained node back: its daemon may start runs and lead again.",
        ),
    ):
        p = cmds.add_parser(name, parents=[plain], help=summary, description=text)
        p.add_argument("name", metavar="NAME", help="the node's name, as `drorch node list` shows")
        if name == "drain":
            p.add_argument(
                "--wait",
                type=float,
                nargs="?",
                const=600.0,
                default=None,
                metavar="SECONDS",
                help="wait until the node runs and leads nothing (default 600 s when given)",
            )
            p.add_argument(
                "--force",
                action="store_true",
                help="drain even when no other node is up to take over (scheduling stops)",
            )
        p.set_defaults(handler=f"node_{name}")
