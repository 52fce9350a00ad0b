"""The README's reliability section names, for each defect, the tests that prove its fix:
every file and test it names exists, so a rename cannot leave the section pointing at
nothing."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.compile(r"^## Reliability.*?(?=^## )", re.S | re.M)
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def test_every_test_the_reliability_section_names_exists() -> None:
    section = SECTION.search(README.read_text(encoding="utf-8"))
    assert section is not None, "README.md has no '## Reliability' section"
    references = REFERENCE.findall(section.group(0))
    numbered = re.findall(r"^(\d+)\. \*\*", section.group(0), re.M)
    # issue 10's sixteen defects, then those found since, numbered in order
    assert len(numbered) >= 16 and numbered == [str(n) for n in range(1, len(numbered) + 1)]
    assert len(references) >= 16
    root = README.parent
    for file, name in references:
        path = root / file
        assert path.is_file(), f"README names {file}, which does not exist"
        if name:
            assert re.search(rf"^\s*def {name}\(", path.read_text(encoding="utf-8"), re.M), (
                f"README names {file}::{name}, which is not defined there"
            )
