"""The package's seams, read from its source: a rule broken here fails before review does.

- A target's kind is known only where it is chosen (drorch.targets) and parsed
  (drorch.config): nothing else names DiskTarget or TapeTarget, tests a target's `.kind`,
  or imports a target implementation instead of the drorch.targets interface.
- A restic repository's layout (its config file, its locks/, snapshots/, index/ folders)
  is known only in drorch.targets.
- Lower layers never import higher ones: restic knows nothing of the catalog, config or
  targets; the catalog nothing of restic or targets; nothing below the actions imports them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "drorch"

KIND_CLASSES = frozenset({"DiskTarget", "TapeTarget"})
KIND_HOMES = ("targets", "config")
LAYOUT = frozenset({"config", "locks", "snapshots", "index"})  # restic's own names
IMPLEMENTATIONS = ("drorch.targets.disk", "drorch.targets.locks")

# Known and left alone: each with the reason.
LAYOUT_EXCEPTIONS = {
    # The catalog's guard against a lost catalog counts a repository at a target's folder
    # as a trace of earlier use; it is handed the folders by drorch.state (the targets).
    "catalog/identity.py",
}

# package: the drorch packages it must never import
FORBIDDEN_IMPORTS = {
    "restic": (
        "catalog",
        "config",
        "targets",
        "actions",
        "runbooks",
        "service",
        "scheduler",
        "cli",
    ),
    "catalog": ("restic", "targets", "actions", "runbooks", "service", "scheduler", "cli"),
    "config": (
        "catalog",
        "restic",
        "targets",
        "actions",
        "runbooks",
        "service",
        "scheduler",
        "cli",
    ),
    "targets": ("actions", "runbooks", "service", "scheduler", "cli", "policy", "evidence"),
    "actions": ("runbooks", "service", "scheduler", "cli"),
    "runbooks": ("service", "scheduler", "cli"),
    # the action keys: spelled and parsed by every layer, so below all of them
    "action_key.py": (
        "catalog",
        "config",
        "restic",
        "targets",
        "actions",
        "policy",
        "evidence",
        "runbooks",
        "service",
        "scheduler",
        "cli",
    ),
}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def imported(tree: ast.Module) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """Each import: its line, the module, and the names taken from it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module, tuple(alias.name for alias in node.names)


def outside(relative: str, *homes: str) -> bool:
    return relative.split("/")[0] not in homes


def kind_names(relative: str, tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in KIND_CLASSES:
                found.append(f"{relative}:{node.lineno}: names {name}")
    for line, module, names in imported(tree):
        found += [
            f"{relative}:{line}: imports {n} from {module}" for n in names if n in KIND_CLASSES
        ]
    return found


def kind_tests(relative: str, tree: ast.Module) -> list[str]:
    """Comparisons with something's `.kind` where targets are used (actions, service)."""
    return [
        f"{relative}:{node.lineno}: compares a .kind"
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(
            isinstance(side, ast.Attribute) and side.attr == "kind"
            for side in (node.left, *node.comparators)
        )
    ]


def layout_joins(relative: str, tree: ast.Module) -> list[str]:
    """`something / "locks"` and the like: a path into a repository."""
    return [
        f"{relative}:{node.lineno}: joins {node.right.value!r} to a path"
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and isinstance(node.right, ast.Constant)
        and node.right.value in LAYOUT
    ]


def test_only_targets_and_config_know_the_kinds_of_target() -> None:
    found = []
    for relative, tree in modules():
        if outside(relative, *KIND_HOMES):
            found += kind_names(relative, tree)
        if relative.split("/")[0] in ("actions", "service", "state.py"):
            found += kind_tests(relative, tree)
    assert found == []


def test_outside_targets_the_interface_is_used_not_an_implementation() -> None:
    found = [
        f"{relative}:{line}: imports {module}"
        for relative, tree in modules()
        if outside(relative, "targets")
        for line, module, _names in imported(tree)
        if module.startswith(IMPLEMENTATIONS)
    ]
    assert found == []


def test_only_targets_know_how_a_repository_lies_on_disk() -> None:
    found = []
    for relative, tree in modules():
        if outside(relative, "targets") and relative not in LAYOUT_EXCEPTIONS:
            found += layout_joins(relative, tree)
    assert found == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_lower_layers_never_import_higher_ones(package: str) -> None:
    forbidden = {f"drorch.{name}" for name in FORBIDDEN_IMPORTS[package]}
    found = [
        f"{relative}:{line}: imports {module}"
        for relative, tree in modules()
        if relative.split("/")[0] == package
        for line, module, _names in imported(tree)
        if ".".join(module.split(".")[:2]) in forbidden
    ]
    assert found == []


def test_the_rules_see_what_they_forbid() -> None:
    """Each rule finds its offence in a sample, so that a rule cannot pass by seeing nothing."""
    sample = ast.parse(
        "from drorch.config.model import DiskTarget\n"
        "import drorch.targets.disk\n"
        "ok = isinstance(t, TapeTarget) or t.kind == 'disk'\n"
        "present = (path / 'config').is_file()\n"
    )
    assert kind_names("actions/x.py", sample) == [
        "actions/x.py:3: names TapeTarget",
        "actions/x.py:1: imports DiskTarget from drorch.config.model",
    ]
    assert kind_tests("actions/x.py", sample) == ["actions/x.py:3: compares a .kind"]
    assert layout_joins("actions/x.py", sample) == ["actions/x.py:4: joins 'config' to a path"]
    assert [m for _l, m, _n in imported(sample)] == ["drorch.config.model", "drorch.targets.disk"]
