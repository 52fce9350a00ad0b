"""The README's table is the suite's index: every test it names exists (read with ast, so
that a renamed or deleted test cannot leave a row pointing at nothing), and every test in
tests/reliability/ has its row (a new fault case is not done until the table says what it
proves), and every scenario has a test in tests/reliability/ itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
COLUMNS = ["scenario", "fault", "expected outcome", "test"]
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def table_rows(readme: str) -> list[list[str]]:
    """The cells of each row of the README's table (the header and its rule left out)."""
    lines = [line.strip() for line in readme.splitlines() if line.strip().startswith("|")]
    assert lines, "tests/reliability/README.md has no table"
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == COLUMNS, header
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip("|"))]
        assert len(cells) == len(COLUMNS), f"a row of {len(cells)} cells: {line}"
        rows.append(cells)
    return rows


def named_tests(rows: list[list[str]]) -> list[tuple[str, str]]:
    """(file, function) of each test the rows name; a row names tests or says "not yet"."""
    named = []
    for row in rows:
        found = REFERENCE.findall(row[3])
        left = REFERENCE.sub("", row[3]).replace(",", "").strip()
        assert (found and not left) or (not found and row[3] == "not yet"), (
            f"the test cell of row {row[:2]} is neither test references nor 'not yet': {row[3]}"
        )
        named.extend(found)
    return named


def defined_tests(path: Path) -> set[str]:
    """The names of the test functions pytest collects from path (module level, or methods
    of a Test class)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in tree.body:
        in_class = isinstance(node, ast.ClassDef) and node.name.startswith("Test")
        for item in node.body if isinstance(node, ast.ClassDef) and in_class else [node]:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith(
                "test_"
            ):
                found.add(item.name)
    return found


def rows() -> list[list[str]]:
    return table_rows((HERE / "README.md").read_text(encoding="utf-8"))


def test_every_test_the_table_names_exists() -> None:
    missing = []
    for file, name in named_tests(rows()):
        path = REPO / file
        if not path.is_file():
            missing.append(f"{file} (no such file)")
        elif name not in defined_tests(path):
            missing.append(f"{file}::{name}")
    assert missing == [], f"the table names tests that do not exist: {missing}"


def test_every_test_of_the_suite_has_its_row() -> None:
    named = set(named_tests(rows()))
    unlisted = [
        f"{path.relative_to(REPO)}::{name}"
        for path in sorted(HERE.glob("test_*.py"))
        if path.name != Path(__file__).name  # this file checks the table, it is no fault
        for name in sorted(defined_tests(path))
        if (str(path.relative_to(REPO)), name) not in named
    ]
    assert unlisted == [], f"tests missing from tests/reliability/README.md: {unlisted}"


def outside_the_suite(rows: list[list[str]]) -> list[str]:
    """The rows that name tests, none of them in tests/reliability/: issue 16 wants every
    scenario's test in the suite itself (a row may name a test elsewhere besides)."""
    return [
        f"{row[0]} | {row[1]}"
        for row in rows
        if row[3] != "not yet"
        and not any(file.startswith("tests/reliability/") for file, _ in named_tests([row]))
    ]


def test_every_scenario_has_a_test_in_the_suite() -> None:
    outside = outside_the_suite(rows())
    assert outside == [], f"rows whose tests are all outside tests/reliability/: {outside}"


def test_the_checks_catch_a_wrong_table() -> None:
    """The two checks above can fail: a made-up name and a cell that says nothing."""
    text = (
        "| scenario | fault | expected outcome | test |\n|---|---|---|---|\n"
        "| a | b | c | `tests/reliability/test_table.py::test_nothing_by_this_name` |\n"
    )
    [(file, name)] = named_tests(table_rows(text))
    assert name not in defined_tests(REPO / file)
    vague = text.replace("`tests/reliability/test_table.py::test_nothing_by_this_name`", "soon")
    try:
        named_tests(table_rows(vague))
    except AssertionError as exc:
        assert "neither test references nor 'not yet'" in str(exc)
    else:
        raise AssertionError("a test cell saying 'soon' passed")
    elsewhere = text.replace("tests/reliability/test_table.py", "tests/e2e/test_demo.py")
    assert outside_the_suite(table_rows(elsewhere)) == ["a | b"]
    assert outside_the_suite(table_rows(text)) == []
