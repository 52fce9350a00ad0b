#!/usr/bin/env python3
"""systemd entry point: the drorch daemon (the same as `drorch daemon`)."""

import sys

from drorch.cli import main

if __name__ == "__main__":
    sys.exit(main(["daemon", *sys.argv[1:]]))
