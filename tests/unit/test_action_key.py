"""Action keys: spelled and parsed in one place, as wide as the catalog's columns allow."""

from __future__ import annotations

import pytest

from drorch.action_key import ACTION_MAX, NAME_MAX, ActionKey, replicate_key, verb_of
from drorch.catalog import models


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("snapshot", ActionKey("snapshot")),
        ("restore-test", ActionKey("restore-test")),
        ("replicate", ActionKey("replicate")),
        ("replicate:replica", ActionKey("replicate", "replica")),
        ("replicate:a.b-c_d", ActionKey("replicate", "a.b-c_d")),
    ],
)
def test_parse_and_spell_are_inverse(text: str, key: ActionKey) -> None:
    assert ActionKey.parse(text) == key
    assert key.spell() == str(key) == text


def test_a_replication_names_its_target() -> None:
    assert replicate_key("vault") == "replicate:vault"
    assert ActionKey.replicate("vault") == ActionKey("replicate", "vault")
    assert verb_of("replicate:vault") == "replicate"
    assert verb_of("prune") == "prune"
    assert ActionKey.parse("replicate:") == ActionKey("replicate")


def test_the_longest_key_fits_every_action_column() -> None:
    longest = replicate_key("t" * NAME_MAX)
    assert len(longest) == ACTION_MAX
    for table in models.Base.metadata.tables.values():
        for column in table.columns:
            if column.name == "action":
                assert column.type.length >= ACTION_MAX, f"{table.name}.action"  # type: ignore[attr-defined]
            if column.name in ("job", "target"):
                assert column.type.length >= NAME_MAX, f"{table.name}.{column.name}"  # type: ignore[attr-defined]
