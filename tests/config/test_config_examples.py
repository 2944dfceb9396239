"""The shipped examples validate, and the typed model says exactly what they say."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from certops.cli.validate import validate
from certops.config import load_config
from certops.config.model import (
    DEFAULT_LADDER,
    Catalog,
    CertifiedCourse,
    CourseSpec,
    Digest,
    Extension,
    InitialPath,
    LateCompletion,
    Location,
    NamedRef,
    Notifications,
    Period,
    Reinstatement,
    Revocation,
    Safety,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_validate_examples_exits_zero_with_summary() -> None:
    result = CliRunner().invoke(validate, ["examples/"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Valid: 3 products, 9 courses, 6 periods in 3 files."
    # And what it did not check.
    assert "Not checked: that the 3 usernames" in result.stdout


def test_validate_examples_json_is_an_empty_list() -> None:
    result = CliRunner().invoke(validate, ["--format", "json", "examples"])
    assert result.exit_code == 0
    assert result.stdout.strip() == "[]"


def test_each_example_starts_with_schema_comment_and_version() -> None:
    for path in sorted((REPO / "examples").glob("*.yaml")):
        lines = path.read_text().splitlines()
        assert lines[0] == "# yaml-language-server: $schema=../schemas/certops.schema.json"
        assert "version: 1" in lines


def test_files_are_sorted_and_products_concatenate() -> None:
    config = load_config(["examples"])
    assert config.files == (
        "examples/gadget-max.yaml",
        "examples/sprocket.yaml",
        "examples/widget-pro.yaml",
    )
    assert [p.id for p in config.products] == ["gadget-max", "sprocket", "widget-pro"]
    assert config.settings.salesforce_catalog == Catalog("SF-SYNC", "Salesforce Sync")
    assert config.settings.safety == Safety(max_suspend_fraction=0.25, min_population=20)
    assert config.settings.deadline_warning_days == (30, 7)
    assert config.settings.min_period_days == 60
    gadget = config.product("gadget-max")
    assert gadget is not None and gadget.notifications.digest is not None
    # Gadget Max names no ladder of its own: it follows the settings' (the default).
    assert gadget.notifications.digest.ladder is None
    assert config.settings.ladder_of(gadget.notifications.digest) == DEFAULT_LADDER


def test_widget_pro_model() -> None:
    product = load_config(["examples/widget-pro.yaml"]).product("widget-pro")
    assert product is not None
    assert product.name == "Widget Pro"
    assert product.group == NamedRef("Certified: Widget Pro")
    assert product.initial_paths == (
        InitialPath("classic", ("WP-101", "WP-102")),
        InitialPath("exam", ("WP-EXAM",)),
    )
    assert product.certified_course == CertifiedCourse(
        "CERT-WP", "Certified: Widget Pro", "Your Widget Pro certification status.", True
    )
    assert product.maintenance.new_learner_grace_days == 90
    assert product.maintenance.late_completion is LateCompletion.REINSTATE
    assert product.maintenance.periods == tuple(
        Period(
            str(year),
            CourseSpec(f"MOC-WP-{year}", f"Widget Pro: Maintenance of Certification {year}"),
            date(year, 1, 1),
            date(year, 12, 31),
        )
        for year in (2025, 2026, 2027)
    )
    assert product.maintenance.periods[1].deadline == datetime(2027, 1, 1, tzinfo=UTC)
    assert product.enrollment_rule == NamedRef("Certified: Widget Pro courses")
    assert product.notifications == Notifications(
        learner_enrolled=NamedRef("Maintenance of certification enrollment"),
        admin_certified=NamedRef("New Widget Pro certification"),
        digest=Digest("Maintenance of certification not yet completed", DEFAULT_LADDER),
    )
    assert product.location == Location("examples/widget-pro.yaml", 8, 5)


def test_gadget_max_exceptions_model() -> None:
    product = load_config(["examples/gadget-max.yaml"]).product("gadget-max")
    assert product is not None
    assert product.maintenance.late_completion is LateCompletion.MANUAL
    assert product.maintenance.new_learner_grace_days == 0
    assert [p.id for p in product.maintenance.periods] == ["2026", "2027"]
    assert product.extensions == (Extension("jdoe", "2026", date(2027, 1, 31), "parental leave"),)
    assert product.reinstatements == (
        Reinstatement("asmith", datetime(2027, 2, 10, tzinfo=UTC), "fee paid, invoice 1234"),
    )
    assert product.revocations == (
        Revocation("bcole", datetime(2026, 6, 1, tzinfo=UTC), "misconduct"),
    )
    assert product.reinstatements[0].at.tzinfo is UTC


def test_sprocket_minimal_model_uses_defaults() -> None:
    config = load_config(["examples/sprocket.yaml"])
    [product] = config.products
    assert product.id == "sprocket"
    assert product.initial_paths == (InitialPath("basics", ("SP-101",)),)
    assert product.certified_course == CertifiedCourse("CERT-SP", "Certified: Sprocket")
    assert product.maintenance.new_learner_grace_days == 0
    assert product.maintenance.late_completion is LateCompletion.MANUAL
    assert product.enrollment_rule is None
    assert product.notifications == Notifications()
    assert product.extensions == product.reinstatements == product.revocations == ()
    # A file without settings: defaults, no Salesforce catalog.
    assert config.settings.salesforce_catalog is None
    assert config.settings.safety == Safety()
    assert config.settings.digest_ladder == DEFAULT_LADDER
    assert config.settings.deadline_warning_days == (30, 7)
    assert config.settings.min_period_days == 60


@pytest.mark.parametrize("name", ["gadget-max.yaml", "sprocket.yaml", "widget-pro.yaml"])
def test_each_example_is_valid_on_its_own(name: str) -> None:
    result = CliRunner().invoke(validate, [f"examples/{name}"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Valid: 1 product, ")
