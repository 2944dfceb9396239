"""The position-remembering YAML loader: data, locations, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from certops.config.model import Location
from certops.config.problems import Problem, format_path, sort_problems
from certops.config.yamlpos import MAX_DEPTH, PosDict, PosList, load_file, locate, locate_key
from certops.errors import ConfigError


def write(tmp_path: Path, text: str | bytes, name: str = "c.yaml") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def problems_of(path: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_file(path)
    return [str(p) for p in info.value.problems]


def test_mappings_and_sequences_carry_locations(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nproducts:\n  - id: a\n    paths: [x, y]\n")
    data = load_file(path)
    assert isinstance(data, PosDict)
    assert data == {"version": 1, "products": [{"id": "a", "paths": ["x", "y"]}]}
    assert data.loc == Location(path, 1, 1)
    assert data.key_locs["products"] == Location(path, 2, 1)
    products = data["products"]
    assert isinstance(products, PosList)
    assert products.item_locs == [Location(path, 3, 5)]
    assert products[0].value_locs["paths"] == Location(path, 4, 12)
    assert products[0]["paths"].item_locs[1] == Location(path, 4, 16)


def test_locate_finds_nodes_and_nearest_ancestor(tmp_path: Path) -> None:
    path = write(tmp_path, "a:\n  b: [1, {c: 2}]\n")
    data = load_file(path)
    assert locate(data, ["a", "b", 1, "c"]) == Location(path, 2, 14)
    assert locate(data, ["a", "b", 0]) == Location(path, 2, 7)
    assert locate(data, ["a", "missing", 3]) == Location(path, 2, 3)
    assert locate(data, []) == Location(path, 1, 1)
    assert locate_key(data, ["a", "b"]) == Location(path, 2, 3)


def test_scalars_follow_json_not_yaml_1_1(tmp_path: Path) -> None:
    text = "a: yes\nb: on\nc: 2026-01-01\nd: 0123\ne: true\nf: 1.5\ng: ~\n2026: x\nh: 0x1f\n"
    data = load_file(write(tmp_path, text))
    assert data == {
        "a": "yes",
        "b": "on",
        "c": "2026-01-01",
        "d": 123,
        "e": True,
        "f": 1.5,
        "g": None,
        "2026": "x",
        "h": 31,
    }


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    data = load_file(write(tmp_path, "base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  y: 3\n"))
    assert data["item"] == {"x": 1, "y": 3}


def test_empty_file_is_none(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, "# only a comment\n")) is None


def test_duplicate_keys_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\na: 2\nb: {c: 1, c: 2}\n")
    assert problems_of(path) == [
        f"{path}:2:1: duplicate key 'a' (first defined at line 1, column 1); "
        "each key may appear once in a mapping",
        f"{path}:3:11: duplicate key 'c' (first defined at line 3, column 5); "
        "each key may appear once in a mapping",
    ]


def test_duplicate_keys_carry_their_json_path(tmp_path: Path) -> None:
    path = write(tmp_path, "a:\n  - {b: 1, b: 2}\n")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert [p.path for p in info.value.problems] == ["a[0].b"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_input_is_not_read_forever() -> None:
    with pytest.raises(ConfigError) as info:
        load_file("/dev/zero", max_bytes=1000)
    assert str(info.value.problems[0]) == (
        "/dev/zero:1:1: file is larger than the 1,000 bytes allowed for a configuration file; "
        "split it into several files in a folder"
    )


def test_tabs_are_explained(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb:\n\t- x\n")
    assert problems_of(path) == [
        f"{path}:3:1: tab character: YAML indentation must use spaces, not tabs"
    ]


def test_non_utf8_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, b"a: 1\nb: caf\xe9\n")
    assert problems_of(path) == [f"{path}:2:7: not valid UTF-8 (byte 0xe9); save the file as UTF-8"]


def test_deep_nesting_is_refused_without_crashing(tmp_path: Path) -> None:
    path = write(tmp_path, "[" * 200_000 + "]" * 200_000)
    assert problems_of(path) == [f"{path}:1:{MAX_DEPTH + 1}: nesting is deeper than 64 levels"]


def test_nesting_just_past_the_limit_is_located_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, "a:\n" + "  " + "[" * 70 + "]" * 70 + "\n")
    # The mapping is level 1, so the 64th bracket (column 66) opens level 65.
    assert problems_of(path) == [f"{path}:2:{2 + MAX_DEPTH}: nesting is deeper than 64 levels"]


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 8):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    [message] = problems_of(path)
    assert "aliases expand this document beyond" in message


def test_python_tags_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a: !!python/object/apply:os.system [echo hi]\n")
    assert problems_of(path) == [
        f"{path}:1:4: unsupported YAML tag !!python/object/apply:os.system; "
        "use plain text, numbers, true/false, lists and mappings"
    ]


def test_size_limit_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a: " + "x" * 2000 + "\n")
    with pytest.raises(ConfigError) as info:
        load_file(path, max_bytes=1000)
    assert "larger than the 1,000 bytes allowed" in str(info.value.problems[0])
    assert problems_of(str(tmp_path / "nope.yaml")) == [
        f"{tmp_path / 'nope.yaml'}:1:1: no such file or folder"
    ]


def test_problem_text_and_sorting() -> None:
    b = Problem("b.yaml", 1, 1, "", "x")
    a2 = Problem("a.yaml", 10, 2, "products[0]", "y")
    a1 = Problem("a.yaml", 9, 5, "", "z")
    assert str(a2) == "a.yaml:10:2: y"
    assert sort_problems([b, a2, a1, b]) == [a1, a2, b]
    assert format_path(["products", 0, "maintenance", "periods", 1, "due"]) == (
        "products[0].maintenance.periods[1].due"
    )
    assert format_path(["settings", "odd key"]) == 'settings["odd key"]'
