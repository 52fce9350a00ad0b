"""Handlers of `drorch evidence ...`: list, show, export, verify, checkpoint (re-exported by
commands)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drorch.catalog import Catalog, utc_now
from drorch.cli.opening import open_command_catalog
from drorch.cli.render import GREEN, RED, local, print_json, print_table
from drorch.config import Config, load_config, resolve_root
from drorch.config.units import parse_duration
from drorch.errors import EXIT_VIOLATION, EvidenceKeyError, UsageError

if TYPE_CHECKING:
    from drorch.evidence.audit import Audit
    from drorch.evidence.log import EvidenceLog


def _open(args: argparse.Namespace) -> tuple[Config, Catalog]:
    config = load_config(resolve_root(args.config), check_secrets=False)
    return config, open_command_catalog(config)


def parse_when(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """`2026-11-28`, `2026-11-28T15:00`, `2026-11-28T15:00+01:00` (UTC without an offset),
    or a span ago (`7d`). A bare date as an end means the end of that day."""
    if text is None:
        return None
    try:
        return utc_now() - parse_duration(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time: write 2026-11-28, 2026-11-28T15:00Z or 7d"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if end_of_day and len(text) == 10:
        value += timedelta(days=1, microseconds=-1)
    return value.astimezone(UTC)


def _summary(data: dict[str, Any]) -> str | None:
    result = data.get("result")
    if isinstance(result, dict):
        result = result.get("status") or result.get("passed")
    return None if result is None else str(result)


WARNINGS_SHOWN = 10  # per command: beyond these, a count


@dataclass(frozen=True)
class _Checked:
    """The log's audit, or why it could not be checked (every record then unverified)."""

    audit: Audit | None
    unchecked: str | None = None

    def problem(self, seq: int) -> str | None:
        if self.audit is None:
            return f"not checked: {self.unchecked}"
        return self.audit.problem(seq)


def _check(
    config: Config, catalog: Catalog, *, signatures: bool = True
) -> tuple[_Checked, EvidenceLog | None]:
    """Check the whole log as it is read, with the config's key: hashes, signatures,
    chain links, checkpoints (about 0.15 s a thousand records on two cores)."""
    from drorch.evidence.log import EvidenceLog

    try:
        log = EvidenceLog(catalog, config.settings.evidence_key)
    except EvidenceKeyError as exc:
        return _Checked(None, str(exc)), None
    return _Checked(log.audit(signatures=signatures)), log


def _warn(lines: list[str]) -> None:
    for line in lines[:WARNINGS_SHOWN]:
        print(f"drorch: warning: {line}", file=sys.stderr)
    if len(lines) > WARNINGS_SHOWN:
        print(f"drorch: warning: … and {len(lines) - WARNINGS_SHOWN} more", file=sys.stderr)


def cmd_evidence_list(args: argparse.Namespace) -> int:
    from drorch.catalog import evidence as table

    since = parse_when(args.since)
    until = parse_when(args.until, end_of_day=True)
    config, catalog = _open(args)
    if args.job:
        config.job(args.job)
    records = table.records(catalog, job=args.job, since=since, until=until)
    checked, _ = _check(config, catalog)
    problems = {r.seq: checked.problem(r.seq) for r in records}
    if args.json:
        print_json(
            [
                {
                    "seq": r.seq,
                    "id": r.id,
                    "kind": r.kind,
                    "job": r.job,
                    "at": r.data["at"],
                    "result": r.data.get("result"),
                    "hash": r.hash,
                    "verified": problems[r.seq] is None,
                    "problem": problems[r.seq],
                }
                for r in records
            ]
        )
    else:
        print_table(
            ["seq", "at", "kind", "job", "result", "id", "verified"],
            [
                (
                    r.seq,
                    local(r.at),
                    r.kind,
                    r.job,
                    _summary(r.data),
                    r.id[:8],
                    "yes" if problems[r.seq] is None else "NO",
                )
                for r in records
            ],
            empty="no evidence records",
            colors={"NO": RED, "yes": GREEN},
        )
    _warn_listed(checked, problems)
    missing = checked.audit is not None and bool(checked.audit.missing)
    return EXIT_VIOLATION if missing or any(problems.values()) else 0


def _warn_listed(checked: _Checked, problems: dict[int, str | None]) -> None:
    """What does not verify: the records listed, the records missing, then a count of the
    records not listed (a filter does not hide that the log is damaged)."""
    if checked.audit is None:
        if problems:
            _warn([f"no record listed could be checked: {checked.unchecked}"])
        return
    _warn([f"evidence record {seq} does not verify: {why}" for seq, why in problems.items() if why])
    _warn([str(damage) for damage in checked.audit.missing])
    others = sorted(seq for seq in checked.audit.problems if seq not in problems)
    if others:
        first = others[0]
        _warn(
            [
                f"{len(others)} record(s) not listed do not verify either (first: record "
                f"{first}: {checked.audit.problems[first]})"
            ]
        )


def cmd_evidence_show(args: argparse.Namespace) -> int:
    from drorch.catalog import evidence as table

    config, catalog = _open(args)
    record = table.record(catalog, args.seq)
    # the whole log without signatures, then this record's own: a fraction of the cost
    checked, log = _check(config, catalog, signatures=False)
    if record is None:
        gone = [
            str(damage)
            for damage in (checked.audit.missing if checked.audit else ())
            if damage.seq == args.seq
        ]
        if gone:
            _warn(gone)
            return EXIT_VIOLATION
        held = table.count(catalog)
        raise UsageError(
            f"no evidence record {args.seq} (the log holds "
            + (f"records 1–{held})" if held else "no records yet)")
        )
    reasons = [log.signature_problem(record) if log else None, checked.problem(record.seq)]
    problem = "; ".join(dict.fromkeys(reason for reason in reasons if reason)) or None
    if args.json:
        print_json(record.data)
    else:
        verdict = "verified" if problem is None else f"DOES NOT VERIFY: {problem}"
        print(f"record {record.seq}: {record.kind} at {local(record.at)}, hash {record.hash}")
        print(verdict)
        sys.stdout.write(json.dumps(record.data, indent=2, sort_keys=True, ensure_ascii=False))
        sys.stdout.write("\n")
    if problem is None:
        return 0
    _warn([f"evidence record {record.seq} does not verify: {problem}"])
    return EXIT_VIOLATION


def cmd_evidence_export(args: argparse.Namespace) -> int:
    from drorch.evidence.bundle import export
    from drorch.evidence.manifest import MANIFEST, REPORT

    since = parse_when(args.since)
    until = parse_when(args.until, end_of_day=True)
    config, catalog = _open(args)
    out = export(
        catalog,
        Path(args.out),
        key_path=config.settings.evidence_key,
        since=since,
        until=until,
        from_checkpoint=Path(args.from_checkpoint) if args.from_checkpoint else None,
    )
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    span = (
        f"records {manifest['first_seq']}–{manifest['last_seq']} ({manifest['records']})"
        if manifest["records"]
        else "no records in that window"
    )
    mark = manifest["checkpoint"]
    print(f"exported {span} to {out}")
    print(f"checkpoint {mark['tree_size']}: root {mark['root_hash']}")
    if manifest["from_checkpoint"]:
        print(
            f"with a consistency proof from checkpoint {manifest['from_checkpoint']['tree_size']}"
        )
    if (out / REPORT).exists():
        print(f"report: {out / REPORT}")
    # The bundle is written as the catalog holds it; what does not verify is said, and the
    # exit is 3, so that a damaged log is never handed over in silence.
    checked, _log = _check(config, catalog)
    if checked.audit is None:
        _warn([f"the exported records could not be checked: {checked.unchecked}"])
        return EXIT_VIOLATION
    damages = [str(d) for d in sorted(checked.audit.damages, key=lambda d: d.seq)]
    if damages:
        _warn([*damages, "`drorch evidence verify` on the bundle names the first bad record"])
        return EXIT_VIOLATION
    return 0


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    from drorch.evidence.bundle import verify

    kept = Path(args.since_checkpoint) if args.since_checkpoint else None
    result = verify(Path(args.dir), Path(args.key), since_checkpoint=kept)
    if args.json:
        problem = result.problem
        print_json(
            {
                "ok": result.ok,
                "records": result.records,
                "first_seq": result.first_seq,
                "last_seq": result.last_seq,
                "left_out": [list(span) for span in result.left_out()],
                "tree_size": result.tree_size,
                "root_hash": result.root_hash,
                "from_size": result.from_size,
                "from_root": result.from_root,
                "kept": None
                if result.kept is None
                else {"tree_size": result.kept.tree_size, "root_hash": result.kept.root_hash},
                "key_id": result.key_id,
                "keys": result.keys,
                "problem": None
                if problem is None
                else {
                    "seq": problem.seq,
                    "what": problem.what,
                    "detail": problem.detail,
                    "file": problem.file,
                    "line": problem.line,
                },
            }
        )
    else:
        print(result.message())
    return 0 if result.ok else EXIT_VIOLATION


def cmd_evidence_checkpoint(args: argparse.Namespace) -> int:
    from drorch.evidence.bundle import newest_checkpoint

    config, catalog = _open(args)
    mark = newest_checkpoint(catalog, config.settings.evidence_key)
    if args.json:
        print_json(json.loads(mark.line))
        return 0
    sys.stdout.write(mark.line.decode("ascii") + "\n")
    print(
        f"checkpoint {mark.tree_size} of the evidence log (root {mark.root_hash}, signed by "
        f"key {mark.key_id} at {mark.at}): keep the line above; `drorch evidence verify DIR "
        "--key PUBKEY --since-checkpoint FILE` proves a later bundle extends it",
        file=sys.stderr,
    )
    return 0
