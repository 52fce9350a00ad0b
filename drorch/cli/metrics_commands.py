"""Handler of `drorch metrics` (re-exported by commands): the Prometheus metrics, once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drorch.catalog import utc_now
from drorch.cli.opening import open_command_catalog
from drorch.config import load_config, resolve_root
from drorch.errors import MetricsError


def cmd_metrics(args: argparse.Namespace) -> int:
    from drorch.metrics import collect, render, write_textfile

    config = load_config(resolve_root(args.config), check_secrets=False)
    catalog = open_command_catalog(config)
    try:
        text = render(collect(config, catalog, utc_now()))
    finally:
        catalog.close()
    if args.textfile is None:
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
        return 0
    try:
        write_textfile(Path(args.textfile), text)
    except OSError as exc:
        raise MetricsError(f"cannot write {args.textfile}: {exc.strerror or exc}") from exc
    return 0
