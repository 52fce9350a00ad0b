"""`metrics.textfile` is checked by validate and by the daemon (at start and at a
reload): its folder exists and is a folder, and the file is not a folder itself. Nothing
else depends on it: a run or a restore never waits on a monitoring folder."""

from __future__ import annotations

from drorch.config import load_config
from tests.conftest import DRORCH_YAML, RootFactory
from tests.unit.config.conftest import problems


def with_textfile(path: str) -> str:
    return DRORCH_YAML + f"metrics: {{textfile: {path}}}\n"


def test_a_textfile_in_a_missing_folder_is_refused(make_root: RootFactory) -> None:
    root = make_root(drorch=with_textfile("prom/drorch.prom"))
    assert problems(root, check_metrics=True) == [
        f"drorch.yaml:10: metrics.textfile: the folder {root}/prom does not exist; "
        "create it (node-exporter's textfile collector reads it)"
    ]
    config = load_config(root)  # drorch run, restore: secrets checked, monitoring not
    assert config.settings.metrics.textfile == root / "prom" / "drorch.prom"
    (root / "prom").mkdir()
    load_config(root, check_metrics=True)


def test_a_textfile_folder_that_is_a_file_is_refused(make_root: RootFactory) -> None:
    root = make_root(drorch=with_textfile("data/hello.txt/drorch.prom"))
    assert problems(root, check_metrics=True) == [
        f"drorch.yaml:10: metrics.textfile: {root}/data/hello.txt is not a folder"
    ]


def test_a_textfile_that_is_a_folder_is_refused(make_root: RootFactory) -> None:
    root = make_root(drorch=with_textfile("data/sub"))
    assert problems(root, check_metrics=True) == [
        f"drorch.yaml:10: metrics.textfile: {root}/data/sub is a folder, not a file"
    ]
