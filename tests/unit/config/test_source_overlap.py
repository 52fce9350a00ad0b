"""A job's source must not hold a repository (it would back itself up, growing with every
snapshot) nor drorch's state dir; symlinks are resolved before comparing."""

from __future__ import annotations

from drorch.config import load_config
from tests.conftest import DRORCH_YAML, JOB_YAML, RootFactory
from tests.unit.config.conftest import problems

LOOP = "the repository would back itself up"


def test_a_source_holding_a_repository_is_refused(make_root: RootFactory) -> None:
    root = make_root(keys=False, jobs={"app": JOB_YAML.replace("paths: [data]", "paths: [repos]")})
    assert problems(root) == [
        f"jobs/app.yaml:2: source.paths[0]: {root}/repos contains target 'primary' "
        f"({root}/repos/primary): {LOOP}; move one of them, or exclude it "
        f"(exclude: [{root}/repos/primary])",
        f"jobs/app.yaml:2: source.paths[0]: {root}/repos contains target 'replica' "
        f"({root}/repos/replica): {LOOP}; move one of them, or exclude it "
        f"(exclude: [{root}/repos/replica])",
    ]


def test_a_source_inside_a_repository_is_refused(make_root: RootFactory) -> None:
    text = JOB_YAML.replace("paths: [data]", "paths: [data, repos/replica/data]")
    root = make_root(keys=False, jobs={"app": text})
    assert problems(root) == [
        f"jobs/app.yaml:2: source.paths[1]: {root}/repos/replica/data is inside target "
        f"'replica' ({root}/repos/replica): {LOOP}",
    ]


def test_a_virtual_tape_library_counts_too(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML + (
        "  vault: {kind: tape, virtual: {path: data/vtl, capacity: 1MiB}, pool: weekly,\n"
        "          password_file: keys/vault.pass, site: dc1, jurisdiction: ML}\n"
    )
    root = make_root(keys=False, drorch=drorch)
    assert problems(root) == [
        f"jobs/app.yaml:2: source.paths[0]: {root}/data contains target 'vault' "
        f"({root}/data/vtl): {LOOP}; move one of them, or exclude it "
        f"(exclude: [{root}/data/vtl])",
    ]


def test_symlinks_are_resolved_before_comparing(make_root: RootFactory) -> None:
    """The target is written through a link into the source: the same loop."""
    drorch = DRORCH_YAML.replace("path: repos/primary", "path: backup/primary")
    root = make_root(keys=False, drorch=drorch)
    (root / "backup").symlink_to(root / "data")
    assert problems(root) == [
        f"jobs/app.yaml:2: source.paths[0]: {root}/data contains target 'primary' "
        f"({root}/backup/primary): {LOOP}; move one of them, or exclude it "
        f"(exclude: [{root}/data/primary])",
    ]


def test_an_excluded_repository_is_fine(make_root: RootFactory) -> None:
    """An anchored pattern (a glob per path component) or a name matching anywhere."""
    root = make_root(keys=False)
    exclude = f'[/no/such/place, "{root}/repos/prim*", replica]'
    text = JOB_YAML.replace("paths: [data]", f"paths: [repos, data], exclude: {exclude}")
    (root / "jobs" / "app.yaml").write_text(text, encoding="utf-8")
    config = load_config(root, check_secrets=False)
    assert config.jobs["app"].source.exclude[1] == f"{root}/repos/prim*"


def test_an_exclude_must_cover_the_repository_itself(make_root: RootFactory) -> None:
    """A pattern below the repository leaves most of it in, and a `*` stays within one
    path component, as in restic."""
    root = make_root(keys=False)
    exclude = f'[{root}/repos/primary/data, "{root.parent}/*/primary"]'
    text = JOB_YAML.replace("paths: [data]", f"paths: [repos], exclude: {exclude}")
    (root / "jobs" / "app.yaml").write_text(text, encoding="utf-8")
    named = [problem.split(" contains target ")[1].split(" ")[0] for problem in problems(root)]
    assert named == ["'primary'", "'replica'"]


def test_a_source_holding_the_state_dir_is_refused(make_root: RootFactory) -> None:
    """Excluding the state dir is no way out: it would drop the canary drorch adds to every
    snapshot from state_dir/canaries."""
    drorch = DRORCH_YAML.replace("state_dir: state", "state_dir: data/state")
    text = JOB_YAML.replace("paths: [data]", "paths: [data], exclude: [data/state]")
    root = make_root(keys=False, drorch=drorch, jobs={"app": text})
    assert problems(root) == [
        f"jobs/app.yaml:2: source.paths[0]: {root}/data contains the state dir "
        f"({root}/data/state): the catalog, restic's cache and the restore tests' scratch "
        "space would be backed up; move the state dir out of the source",
    ]


def test_neighbours_with_a_common_prefix_are_fine(make_root: RootFactory) -> None:
    drorch = DRORCH_YAML.replace("path: repos/primary", "path: data2/primary")
    load_config(make_root(keys=False, drorch=drorch), check_secrets=False)
