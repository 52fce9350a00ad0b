"""The command line: parse, dispatch to a handler, render, and map errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from drorch.cli.parser import build_parser
from drorch.errors import EXIT_USAGE, ConfigError, DrorchError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
