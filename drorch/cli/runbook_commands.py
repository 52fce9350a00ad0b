"""`drorch runbook ...`: list, show, run (or dry-run), resume, approve, abort, history and
status. Thin: each handler opens what it needs, calls drorch.runbooks, and renders.

With --json, stdout carries only the final JSON (of the run or the plan); what drorch says
on the way goes to stderr, as does progress, so that a script can parse stdout."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from drorch.catalog import Catalog, RunStatus
from drorch.cli import runbook_render as show
from drorch.cli.opening import open_command_catalog
from drorch.cli.render import print_json, print_table
from drorch.config import Config, load_config, resolve_root
from drorch.errors import EXIT_FAILED, UsageError
from drorch.runbooks import Operator, RunView

EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM


def _config(args: argparse.Namespace, *, check_secrets: bool = True) -> Config:
    return load_config(resolve_root(args.config), check_secrets=check_secrets)


def _runbook(config: Config, name: str) -> Any:
    if name not in config.runbooks:
        known = ", ".join(sorted(config.runbooks)) or "none"
        raise UsageError(f"no runbook named {name!r} in {config.root / 'runbooks'} ({known})")
    return config.runbooks[name]


# --- reading ----------------------------------------------------------------------------------


def cmd_runbook_list(args: argparse.Namespace) -> int:
    from drorch.runbooks.params import allowed_roots

    config = _config(args, check_secrets=False)
    if args.json:
        print_json(
            [
                show.runbook_dict(name, rb, allowed_roots(config, rb))
                for name, rb in sorted(config.runbooks.items())
            ]
        )
        return 0
    print_table(
        ["name", "title", "steps", "params"],
        show.list_rows(dict(config.runbooks)),
        empty=f"no runbooks in {config.root / 'runbooks'}",
    )
    return 0


def cmd_runbook_show(args: argparse.Namespace) -> int:
    from drorch.runbooks.params import allowed_roots

    config = _config(args, check_secrets=False)
    runbook = _runbook(config, args.name)
    roots = allowed_roots(config, runbook)
    if args.json:
        print_json(show.runbook_dict(args.name, runbook, roots))
    else:
        print("\n".join(show.show_lines(args.name, runbook, roots)))
    return 0


def cmd_runbook_history(args: argparse.Namespace) -> int:
    from drorch.runbooks import history

    config = _config(args, check_secrets=False)
    if args.name is not None:
        _runbook(config, args.name)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit}: give a count of 1 or more")
    runs = history(open_command_catalog(config), runbook=args.name, limit=args.limit)
    if args.json:
        print_json([v.as_dict() for v in runs])
        return 0
    print_table(
        ["run", "runbook", "status", "actor", "started", "took", "at step"],
        show.history_rows(runs),
        empty="no runbook runs",
    )
    return 0


def cmd_runbook_status(args: argparse.Namespace) -> int:
    from drorch.runbooks import view

    current = view(open_command_catalog(_config(args, check_secrets=False)), args.run)
    if args.json:
        print_json(current.as_dict())
    else:
        print("\n".join(show.status_lines(current)))
    return 0


# --- acting -----------------------------------------------------------------------------------


def cmd_runbook_run(args: argparse.Namespace) -> int:
    from drorch.runbooks import dry_run, start

    params = parse_params(args.param)
    config = _config(args)
    _runbook(config, args.name)
    catalog = open_command_catalog(config)
    if args.dry_run:
        plan = dry_run(config, catalog, args.name, params, _operator(args))
        if args.json:
            print_json(plan.as_dict())
        else:
            print("\n".join(plan.lines()))
        return 0 if plan.ok else EXIT_FAILED
    with _operating(args) as operator, _interrupted(catalog, None):
        done = start(config, catalog, args.name, params, operator)
    return _ended(done, as_json=args.json)


def cmd_runbook_resume(args: argparse.Namespace) -> int:
    from drorch.runbooks import resume

    config = _config(args)
    catalog = open_command_catalog(config)
    with _operating(args) as operator, _interrupted(catalog, args.run):
        done = resume(config, catalog, args.run, operator)
    return _ended(done, as_json=args.json)


def cmd_runbook_approve(args: argparse.Namespace) -> int:
    from drorch.runbooks import approve

    config = _config(args)
    operator = _operator(args)
    done = approve(config, open_command_catalog(config), args.run, args.step, operator)
    if args.json:
        print_json(done.as_dict())
    else:
        print(
            f"run {done.id}: step {args.step} approved by {operator.recorded}; "
            f"go on with: drorch runbook resume {done.id}"
        )
    return 0


def cmd_runbook_abort(args: argparse.Namespace) -> int:
    from drorch.runbooks import abort

    config = _config(args)
    catalog = open_command_catalog(config)
    done = abort(config, catalog, args.run, _operator(args), reason=args.reason or "")
    if args.json:
        print_json(done.as_dict())
    else:
        print(f"run {done.id}: {done.runbook} {done.status.value}: {done.run.error or '-'}")
    return 0


# --- the operator -----------------------------------------------------------------------------


def parse_params(given: list[str] | None) -> dict[str, str]:
    """--param k=v, split on the first '='; a malformed or repeated one is bad usage."""
    params: dict[str, str] = {}
    for item in given or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param {item!r}: write it as NAME=VALUE")
        if key in params:
            raise UsageError(f"--param {key} is given twice; give each parameter once")
        params[key] = value
    return params


def operator_name(as_user: str | None) -> tuple[str, str | None]:
    """(who acts, who named them with --as): the login user, or --as USER when root."""
    from drorch.actions.lifecycle import default_actor

    if as_user is None:
        return default_actor(), None
    if os.geteuid() != 0:
        raise UsageError(
            f"--as {as_user}: only root may act in another person's name; run the command "
            "as that user instead"
        )
    if not as_user.strip():
        raise UsageError("--as: give a user name")
    return as_user, "root"


def _operator(args: argparse.Namespace, **ways: Any) -> Operator:
    name, given_as = operator_name(getattr(args, "as_user", None))
    return Operator(name, given_as=given_as, yes=getattr(args, "yes", False), **ways)


def _say_to(as_json: bool) -> Callable[[str], None]:
    stream = sys.stderr if as_json else sys.stdout

    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    return say


def _ask() -> Callable[[str], str] | None:
    """input() on a terminal; None when nobody can type (a confirm step then needs --yes)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None

    def ask(prompt: str) -> str:
        try:
            return input(prompt)
        except EOFError:
            return ""

    return ask


@contextmanager
def _operating(args: argparse.Namespace) -> Iterator[Operator]:
    """The operator of run/resume, with progress on stderr (stdout may be --json)."""
    from drorch.cli.progress import ProgressView

    progress = ProgressView(sys.stderr)
    operator = _operator(
        args,
        ask=_ask(),
        say=_say_to(args.json),
        on_progress=lambda step, update: progress.update(step, update),
    )
    try:
        yield operator
    finally:
        progress.finish()


class _Terminated(KeyboardInterrupt):
    """SIGTERM during a run, made what Ctrl-C is: restic gets SIGINT and removes its lock,
    the step and the run end INTERRUPTED, nothing half-restored stays."""


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise _Terminated


@contextmanager
def _interrupted(catalog: Catalog, run_id: int | None) -> Iterator[None]:
    """Ctrl-C or SIGTERM: the engine has recorded the run INTERRUPTED; say how to go on,
    exit 130 (143 for SIGTERM)."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    except KeyboardInterrupt as exc:
        found = _run_of_this_process(catalog) if run_id is None else run_id
        if found is None:
            raise
        from drorch.runbooks import view

        step = view(catalog, found).current
        print(
            f"\ndrorch: run {found} interrupted at step {step.name if step else '-'}; "
            f"resume it with: drorch runbook resume {found}",
            file=sys.stderr,
        )
        if isinstance(exc, _Terminated):
            print("drorch: terminated by SIGTERM", file=sys.stderr)
            raise SystemExit(EXIT_TERMINATED) from None
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_of_this_process(catalog: Catalog) -> int | None:
    from drorch.runbooks import history

    mine = [v for v in history(catalog, limit=5) if v.run.pid == os.getpid()]
    return max((v.id for v in mine), default=None)


def _ended(done: RunView, *, as_json: bool) -> int:
    said, errors = show.outcome_lines(done)
    if as_json:
        print_json(done.as_dict())
    for line in said:
        print(line, file=sys.stderr if as_json else sys.stdout)
    for line in errors:
        print(line, file=sys.stderr)
    return 0 if done.status in (RunStatus.SUCCEEDED, RunStatus.WAITING) else EXIT_FAILED
