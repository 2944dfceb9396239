"""Paths to files, merging files, semantic checks that must pass, and never crashing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certops.config import load_config, resolve_paths
from certops.errors import ConfigError

PRODUCT = """\
  - id: {id}
    name: {name}
    group: {{name: "Certified: {name}"}}
    initial_paths:
      - {{name: basics, all_of: [{prefix}-101]}}
    certified_course: {{code: CERT-{prefix}, name: "Certified: {name}"}}
    maintenance:
      periods:
{periods}"""
PERIOD = """\
        - id: "{id}"
          course: {{code: MOC-{prefix}-{id}, name: "{name} {id}"}}
          opens: {opens}
          due: {due}
"""


def product(
    pid: str = "sprocket",
    prefix: str = "SP",
    periods: tuple[tuple[str, str, str], ...] = (("2026", "2026-01-01", "2026-12-31"),),
    extra: str = "",
) -> str:
    name = pid.title()
    text = "".join(
        PERIOD.format(id=i, prefix=prefix, name=name, opens=o, due=d) for i, o, d in periods
    )
    return PRODUCT.format(id=pid, name=name, prefix=prefix, periods=text) + extra


def config_file(tmp_path: Path, name: str, *products: str, settings: str = "") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "version: 1\n" + ("products:\n" + "".join(products) if products else "") + settings
    path.write_text(body, encoding="utf-8")
    return str(path)


def problems(paths: list[str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(paths)
    return [str(p) for p in info.value.problems]


def test_folder_means_sorted_yaml_below_it_skipping_hidden(tmp_path: Path) -> None:
    b = config_file(tmp_path, "b.yml", product("b-prod", "B"))
    a = config_file(tmp_path, "sub/a.yaml", product("a-prod", "A"))
    config_file(tmp_path, ".github/workflows/ci.yml", product("hidden", "H"))
    (tmp_path / "notes.txt").write_text("not configuration")
    assert resolve_paths([str(tmp_path)]) == [b, a]
    assert [p.id for p in load_config([str(tmp_path)]).products] == ["b-prod", "a-prod"]


def test_a_missing_path_does_not_hide_problems_of_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n")
    missing = str(tmp_path / "missing.yaml")
    assert problems([missing, str(bad)]) == [
        f"{bad}:1:10: version must be 1, not the number 2",
        f"{missing}:1:1: no such file or folder",
    ]


def test_files_named_twice_are_read_once(tmp_path: Path) -> None:
    a = config_file(tmp_path, "a.yaml", product())
    assert resolve_paths([a, str(tmp_path), a]) == [a]


def test_default_path_is_certops_folder_else_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config_file(tmp_path, "top.yaml", product())
    assert resolve_paths([]) == ["top.yaml"]
    config_file(tmp_path, "certops/main.yaml", product())
    assert resolve_paths([]) == [os.path.join("certops", "main.yaml")]


def test_missing_paths_and_empty_folders_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    missing = str(tmp_path / "missing.yaml")
    assert problems([missing, str(tmp_path / "empty")]) == [
        f"{tmp_path / 'empty'}:1:1: folder has no *.yaml or *.yml files; expected configuration",
        f"{missing}:1:1: no such file or folder",
    ]


def test_problems_from_several_files_come_in_one_sorted_run(tmp_path: Path) -> None:
    config_file(tmp_path, "a.yaml", product())
    b = config_file(tmp_path, "b.yaml", product("cog", "CG"), settings="settings: {safty: {}}\n")
    (tmp_path / "c.yaml").write_text("version: 1\nproducts: [\n")
    found = problems([str(tmp_path)])
    assert found == [
        f"{b}:15:12: unknown key 'safty' in settings; did you mean 'safety'?",
        f"{tmp_path / 'c.yaml'}:3:1: invalid YAML: did not find expected node content "
        "(while parsing a flow node)",
    ]


def test_settings_only_file_merges_with_product_files(tmp_path: Path) -> None:
    config_file(tmp_path, "products.yaml", product())
    config_file(
        tmp_path,
        "settings.yaml",
        settings="settings:\n  salesforce_catalog: {code: SF, name: SF}\n"
        "  safety: {max_suspend_fraction: 1, min_population: 0}\n",
    )
    config = load_config([str(tmp_path)])
    assert config.settings.safety.max_suspend_fraction == 1.0
    assert isinstance(config.settings.safety.max_suspend_fraction, float)
    assert config.settings.safety.min_population == 0
    assert len(config.files) == 2


def test_edge_cases_that_are_valid(tmp_path: Path) -> None:
    periods = (
        ("2026", "2026-01-01", "2026-12-31"),
        # A gap between periods is allowed, and so is a one-day period.
        ("2027a", "2027-03-01", "2027-03-01"),
    )
    extra = (
        "    extensions:\n"
        # An extension equal to the due date changes nothing, but shortens nothing either.
        '      - {user: jdoe, period: "2026", until: 2026-12-31, reason: "no change"}\n'
        '      - {user: jdoe@example.com, period: "2027a", until: 2027-04-01, reason: "leave"}\n'
        "    reinstatements:\n"
        "      - {user: asmith, at: '2027-02-10T09:30:00+02:00', reason: 'fee paid'}\n"
    )
    path = config_file(tmp_path, "c.yaml", product(periods=periods, extra=extra))
    [p] = load_config([path]).products
    assert [x.id for x in p.maintenance.periods] == ["2026", "2027a"]
    assert p.reinstatements[0].at.isoformat() == "2027-02-10T07:30:00+00:00"


def test_the_same_initial_course_may_serve_two_products(tmp_path: Path) -> None:
    first = product("one", "ONE").replace("[ONE-101]", "[SHARED-101]")
    second = product("two", "TWO").replace("[TWO-101]", "[SHARED-101]")
    path = config_file(tmp_path, "c.yaml", first, second)
    assert len(load_config([path]).products) == 2


def test_certified_course_may_not_double_as_initial_training(tmp_path: Path) -> None:
    first = product("one", "ONE")
    second = product("two", "TWO").replace("[TWO-101]", "[CERT-ONE]")
    path = config_file(tmp_path, "c.yaml", first, second)
    assert problems([path]) == [
        f"{path}:19:33: course 'CERT-ONE' is initial training here and also the certified "
        f"course of product 'one' ({path}:8:30); a course cannot be both"
    ]


VALID = "version: 1\nproducts:\n" + product(
    extra="    extensions:\n"
    "      - {user: jdoe, period: '2026', until: 2027-01-31, reason: 'leave'}\n"
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=len(VALID)),
    junk=st.text(max_size=12),
    drop=st.integers(min_value=0, max_value=40),
)
def test_mangled_configs_never_crash(cut: int, junk: str, drop: int) -> None:
    """Any edit of a valid file gives a Config or located problems, never a traceback."""
    text = VALID[:cut] + junk + VALID[cut + drop :]
    _load_text(text)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_crash(raw: bytes) -> None:
    _load_text(raw)


def _load_text(content: str | bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8", errors="surrogatepass"))
        else:
            path.write_bytes(content)
        try:
            load_config([str(path)])
        except ConfigError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.file == str(path)
                assert problem.line >= 1 and problem.column >= 1
                assert problem.message
