"""The command line: parse, dispatch to a handler, render, and map errors to exit codes.

Imports here are few: a command handed to `drorch cli-server` (drorch.cli.served) needs
nothing else in this process, and main() imports what it needs."""

from __future__ import annotations

import atexit
import os
import sys

TYPE_CHECKING = False  # not typing's: a served command spares the client importing typing
if TYPE_CHECKING:  # (mypy knows a TYPE_CHECKING by its name)
    import argparse
    from collections.abc import Sequence
    from typing import NoReturn

_parser: argparse.ArgumentParser | None = None


def grammar() -> argparse.ArgumentParser:
    """The command-line grammar, built once per process (`drorch cli-server` builds it
    before it forks: 40 ms of argparse and gettext a command does not pay)."""
    global _parser
    if _parser is None:
        from drorch.cli.parser import build_parser

        _parser = build_parser()
    return _parser


def main(argv: Sequence[str] | None = None) -> int:
    from drorch.errors import EXIT_FAILED, EXIT_USAGE, ConfigError, DrorchError

    parser = grammar()
    args = parser.parse_args(argv)
    if args.version:
        from drorch import __version__

        print(f"drorch {__version__}")
        return 0
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return EXIT_USAGE
    from drorch import logs
    from drorch.cli import commands

    logs.configure(args.verbose)
    handler = getattr(commands, f"cmd_{args.handler}")
    try:
        return int(handler(args))
    except ConfigError as exc:
        print(
            f"drorch: invalid configuration ({len(exc.issues)} problems):"
            if len(exc.issues) > 1
            else "drorch: invalid configuration:",
            file=sys.stderr,
        )
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return exc.exit_code
    except DrorchError as exc:
        print(f"drorch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("drorch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        problem = _catalog_problem(exc)
        if problem is None:
            raise
        print(f"drorch: error: {problem}", file=sys.stderr)
        return EXIT_FAILED


def _catalog_problem(exc: Exception) -> str | None:
    """A catalog error no layer turned into a DrorchError, in words without its SQL or
    parameters (None for any other exception). SQLAlchemy is looked up, not imported: a
    command that never opened the catalog did not load it."""
    sql = sys.modules.get("sqlalchemy.exc")
    if sql is None or not isinstance(exc, sql.SQLAlchemyError):
        return None
    from drorch.catalog.database import explain_error, reason

    explained = explain_error(exc)
    return str(explained) if explained is not None else f"catalog: {reason(exc)}"


def entry() -> NoReturn:
    """The `drorch` command (and `python -m drorch`): handed to a warm `drorch cli-server`
    when one of this uid serves it (drorch.cli.served), else main() here; then out
    without tearing the interpreter down (leave)."""
    from drorch.cli.served import try_served

    served = try_served(sys.argv[1:])
    if served is not None:
        os._exit(served)
    leave(run_main())


def run_main(argv: Sequence[str] | None = None) -> int:
    """main() (on sys.argv when `argv` is None), with argparse's exits (--help, usage
    errors) as exit codes."""
    try:
        return main() if argv is None else main(argv)
    except SystemExit as exc:
        return _exit_code(exc.code)


def leave(code: int) -> NoReturn:
    """Exit with `code` without tearing the interpreter down.

    Everything a command keeps is durable before main() returns: catalog commits are
    synchronous=FULL, files are written and closed. The catalog's connections are closed
    here, as the orderly exit would (SQLite folds its -wal into the file), and atexit
    handlers run (logging's flush, temporary folders' cleanup). What is skipped is the
    interpreter's teardown of every module and object: 0.1-0.4 s per command on a loaded
    2-core machine, more than drorch's whole budget on a short snapshot. With a thread
    still working (a non-daemon thread), the exit is the orderly one, which waits for it.
    """
    import threading  # not needed by a command a cli-server ran

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away; a closed stream
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    database = sys.modules.get("drorch.catalog.database")  # not loaded by --help
    if database is not None:
        database.close_all_engines()
    atexit._run_exitfuncs()
    os._exit(code)


def _exit_code(code: object) -> int:
    """What sys.exit(code) exits with: None is 0, a number itself, anything else is printed
    and exits 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
