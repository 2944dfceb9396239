"""The JSON Schema itself: well-formed, documented, strict, and shipped with the package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from certops.config.schema import check_file, load_schema, parse_date, parse_instant, schema_path
from certops.config.yamlpos import load_file

REPO = Path(__file__).resolve().parents[2]


def walk(node: Any, where: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}[{i}]")


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema_path() == REPO / "certops" / "schemas" / "certops.schema.json"


def test_every_property_has_a_description() -> None:
    undocumented = [
        f"{where}.{name}"
        for where, node in walk(load_schema())
        for name, prop in node.get("properties", {}).items()
        if isinstance(node.get("properties"), dict) and "description" not in prop
    ]
    assert undocumented == []


def test_every_object_forbids_unknown_keys() -> None:
    open_objects = [
        where
        for where, node in walk(load_schema())
        if node.get("type") == "object" and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_defaults_documented_in_schema() -> None:
    product = load_schema()["$defs"]["product"]["properties"]
    maintenance = product["maintenance"]["properties"]
    assert maintenance["new_learner_grace_days"]["default"] == 0
    assert maintenance["late_completion"]["default"] == "manual"
    safety = load_schema()["$defs"]["settings"]["properties"]["safety"]["properties"]
    assert safety["max_suspend_fraction"]["default"] == 0.25
    assert safety["min_population"]["default"] == 20


def test_the_repository_schema_is_the_package_schema() -> None:
    # One file to edit: the repository's schemas/ entry links to the one the package ships.
    linked = REPO / "schemas" / "certops.schema.json"
    assert linked.is_symlink()
    assert linked.resolve() == (REPO / "certops" / "schemas" / "certops.schema.json").resolve()


def test_examples_pass_the_schema_alone() -> None:
    for path in sorted((REPO / "examples").glob("*.yaml")):
        assert check_file(load_file(str(path)), str(path)) == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-12-31", True),
        ("2024-02-29", True),
        ("2026-02-29", False),
        ("20261231", False),
        ("2026-1-31", False),
        (" 2026-12-31", False),
    ],
)
def test_strict_dates(text: str, ok: bool) -> None:
    if ok:
        assert parse_date(text).isoformat() == text
    else:
        with pytest.raises(ValueError):
            parse_date(text)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2027-02-10T00:00:00Z", "2027-02-10T00:00:00+00:00"),
        ("2027-02-10 01:00:00+01:00", "2027-02-10T00:00:00+00:00"),
        ("2027-02-10T00:00:00.5z", "2027-02-10T00:00:00.500000+00:00"),
        ("2027-02-10T00:00:00", None),
        ("2027-02-10", None),
        ("2027-02-30T00:00:00Z", None),
    ],
)
def test_strict_instants(text: str, utc: str | None) -> None:
    if utc is not None:
        assert parse_instant(text).isoformat() == utc
    else:
        with pytest.raises(ValueError):
            parse_instant(text)
