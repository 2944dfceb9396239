"""The invalid corpus: every fixture under tests/fixtures/invalid/ fails `certops validate`
with exactly these located messages (and nothing crashes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from certops.cli.validate import validate

INVALID = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"


def read_expected() -> dict[str, list[str]]:
    """Fixture name -> the exact lines `certops validate NAME` prints (run from INVALID)."""
    expected: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in (Path(__file__).parent / "invalid_expected.txt").read_text().splitlines():
        if line.startswith("== "):
            lines = expected.setdefault(line[3:], [])
        elif line and not line.startswith("#"):
            lines.append(line)
    return expected


EXPECTED = read_expected()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(validate, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_corpus_is_large_and_every_fixture_has_expectations() -> None:
    assert sorted(p.name for p in INVALID.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_reports_located_problems(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INVALID)
    code, out, err = run(name)
    assert code == 1
    assert out.splitlines() == EXPECTED[name]
    count = len(EXPECTED[name])
    assert err == f"Invalid: {count} problem{'s' if count != 1 else ''}.\n"


@pytest.mark.parametrize("name", ["many-problems.yaml", "duplicate-ids-across-files"])
def test_json_format_lists_the_same_problems(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INVALID)
    code, out, _ = run("--format", "json", name)
    assert code == 1
    problems = json.loads(out)
    assert [f"{p['file']}:{p['line']}:{p['column']}: {p['message']}" for p in problems] == (
        EXPECTED[name]
    )
    assert all(set(p) == {"file", "line", "column", "path", "message"} for p in problems)


def test_json_paths_name_the_offending_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INVALID)
    _, out, _ = run("--format", "json", "many-problems.yaml")
    assert [p["path"] for p in json.loads(out)] == [
        "products[0].id",
        "products[0].descripton",
        "products[0].maintenance.periods[1].opens",
    ]


def test_every_fixture_at_once_is_one_sorted_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INVALID)
    # Folders and files together: every problem of every fixture, sorted by file and line.
    # Fixtures that are folders with cross-file problems are also right when merged.
    files = sorted(n for n in EXPECTED if n.endswith(".yaml"))
    code, out, _ = run(*files)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) >= len(files)
    keys = [(line.split(":")[0], int(line.split(":")[1])) for line in lines]
    assert keys == sorted(keys)


def test_ten_megabyte_file_is_refused_quickly(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    head = "version: 1\n# "
    big.write_text(head + "x" * (10_000_000 - len(head) - 1) + "\n", encoding="utf-8")
    code, out, _ = run(str(big))
    assert code == 1
    assert out == (
        f"{big}:1:1: file is 10.0 MB, larger than the 1.0 MB allowed for a configuration "
        "file; split it into several files in a folder\n"
    )
