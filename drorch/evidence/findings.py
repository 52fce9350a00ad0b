"""What `verify` reports: the first thing wrong with a bundle, in the issue's words."""

from __future__ import annotations

from dataclasses import dataclass

# What happened.
MODIFIED = "modified"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
TRUNCATED = "truncated"
WRONG_KEY = "signed by another key"
INCONSISTENT = "inconsistent"
UNSIGNED = "unsigned"  # the manifest carries no signature: what it claims is not proven
UNPROVEN = "unproven"  # the bundle holds no proof from the checkpoint the auditor kept


@dataclass(frozen=True)
class Finding:
    """The first thing wrong with a bundle: which record (None when the problem is not one
    record's), what happened to it, why that is known, and where."""

    seq: int | None
    what: str
    detail: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        subject = f"record {self.seq}" if self.seq is not None else "bundle"
        where = ""
        if self.file is not None:
            where = f" ({self.file}" + (f" line {self.line}" if self.line else "") + ")"
        return f"{subject}: {self.what}: {self.detail}{where}"
