"""The parse cache: config files parsed once, remembered by their content, never stale."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from drorch.config import load_config
from drorch.config.parse_cache import FILE_NAME, PARSER, _exact_in_json
from tests.conftest import DRORCH_YAML, JOB_YAML, RootFactory
from tests.unit.config.conftest import problems


def cache_file(root: Path) -> Path:
    return root / "state" / "cache" / FILE_NAME


def described(text: str) -> str:
    return JOB_YAML + f"description: {text}\n"


def loaded_root(make_root: RootFactory) -> Path:
    root = make_root(jobs={"app": described("from the file")})
    (root / "state").mkdir()
    load_config(root, check_secrets=False)
    return root


def plant(root: Path, description: str) -> None:
    """Change what the cache says the job file parsed to, behind the file's back."""
    path = cache_file(root)
    stored = json.loads(path.read_text())
    [key] = [k for k, data in stored["files"].items() if "snapshot" in data]
    stored["files"][key]["description"] = description
    path.write_text(json.dumps(stored))


def test_a_second_load_takes_the_parsed_file_from_the_cache(make_root: RootFactory) -> None:
    root = loaded_root(make_root)
    assert cache_file(root).stat().st_mode & 0o777 == 0o600
    plant(root, "from the cache")
    assert load_config(root, check_secrets=False).jobs["app"].description == "from the cache"


def test_a_file_changed_in_any_way_is_parsed_again(make_root: RootFactory) -> None:
    root = loaded_root(make_root)
    plant(root, "from the cache")
    job = root / "jobs" / "app.yaml"
    job.write_text(job.read_text() + "\n")  # one byte more, same data
    assert load_config(root, check_secrets=False).jobs["app"].description == "from the file"
    # and the cache now holds the new content's parse, the old entry gone
    entries = json.loads(cache_file(root).read_text())["files"]
    assert [data["description"] for data in entries.values() if "snapshot" in data] == [
        "from the file"
    ]


def test_an_issue_in_a_cached_file_names_its_line(make_root: RootFactory) -> None:
    root = make_root(jobs={"app": described("ok")})
    (root / "state").mkdir()
    load_config(root, check_secrets=False)
    # the job file is unchanged; drorch.yaml loses the target it names (line 3)
    (root / "drorch.yaml").write_text(DRORCH_YAML.replace("  primary:", "  primry:"))
    assert problems(root) == [
        "jobs/app.yaml:3: snapshot.target: no target named 'primary' (known: primry, replica)"
    ]


def test_nothing_is_written_without_a_state_dir_or_for_an_invalid_root(
    make_root: RootFactory,
) -> None:
    root = make_root()
    load_config(root, check_secrets=False)
    assert not (root / "state").exists()  # loading a config never creates the state dir
    (root / "state").mkdir()
    (root / "jobs" / "bad.yaml").write_text(JOB_YAML + "snapshot: {target: nowhere}\n")
    problems(root)
    assert not cache_file(root).exists()


def test_a_cache_another_parser_wrote_is_not_used(make_root: RootFactory) -> None:
    root = loaded_root(make_root)
    plant(root, "from the cache")
    stored = json.loads(cache_file(root).read_text())
    assert stored["parser"] == PARSER
    cache_file(root).write_text(json.dumps({**stored, "parser": "0.0.1/0"}))
    assert load_config(root, check_secrets=False).jobs["app"].description == "from the file"
    assert json.loads(cache_file(root).read_text())["parser"] == PARSER  # rewritten


def test_a_damaged_cache_file_is_parsed_around(make_root: RootFactory) -> None:
    root = loaded_root(make_root)
    cache_file(root).write_text('{"truncated": ')
    assert load_config(root, check_secrets=False).jobs["app"].description == "from the file"
    assert json.loads(cache_file(root).read_text())  # rewritten whole


@pytest.mark.parametrize(
    ("value", "exact"),
    [
        ({"a": [1, 2.5, True, None, "x"]}, True),
        ({1: "an integer key"}, False),  # JSON would give back "1"
        ({"when": date(2026, 11, 30)}, False),
        ([float("nan")], False),
        ({"s": {1, 2}}, False),
    ],
)
def test_only_data_json_gives_back_exactly_is_kept(value: object, exact: bool) -> None:
    assert _exact_in_json(value) is exact
