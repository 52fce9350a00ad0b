"""Read argparse's help as a user reads it: which commands it lists, which options a
command has. A help test asserts these, not words that the prose around them also has."""

from __future__ import annotations

import re


def _section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def commands_listed(text: str) -> list[str]:
    """The subcommand entries under 'positional arguments:', in order: the names indented
    by four spaces (their wrapped descriptions are indented further)."""
    return [
        match.group(1)
        for line in _section(text, "positional arguments:")
        if (match := re.match(r" {4}([a-z][\w-]*)(?:\s|$)", line))
    ]


def options_listed(text: str) -> set[str]:
    """Every option spelling under 'options:' (-h, --help, --to, ...)."""
    found = set()
    for line in _section(text, "options:"):
        if match := re.match(r" {2}(-\S+(?: \S+)?(?:, -\S+(?: \S+)?)*)(?: {2,}|$)", line):
            found.update(part.split(" ")[0] for part in match.group(1).split(", "))
    return found
