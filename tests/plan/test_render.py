"""Text, markdown and JSON renderings of a plan."""

from __future__ import annotations

import dataclasses
import json
import time

from plan_samples import AT, enrollment, new_enrollment, sample_plan, setup_changes

from certops.plan.jsonio import plan_from_dict
from certops.plan.model import Plan, PlanWarning, SafetyTrip, Skip
from certops.plan.render import (
    MARKDOWN_LIMIT,
    SUMMARISE_OVER,
    render_json,
    render_markdown,
    render_text,
    safety_text,
)


def big_plan(n: int) -> Plan:
    """``n`` suspensions plus ``n // 10`` new enrollments, and the setup changes."""
    changes = [enrollment("CERT-WP", f"learner{i:06d}", "completed", "suspended") for i in range(n)]
    changes += [new_enrollment("MOC-WP-2027", f"learner{i:06d}") for i in range(n // 10)]
    return Plan(
        at=AT, lms="sandbox:x", changes=(*setup_changes(), *changes), products=("widget-pro",)
    )


def test_text_starts_with_a_summary_line_per_product() -> None:
    text = render_text(sample_plan(), color=False)
    lines = text.splitlines()
    assert lines[:3] == [
        "widget-pro: 2 to create, 2 to update, 1 manual",
        "gadget: no changes",
        "(shared): 1 to create",
    ]
    assert lines[3] == "(evaluated at 2027-01-02T00:00:00Z against sandbox:.certops/sandbox.db)"


def test_text_shows_symbols_old_new_steps_safety_warnings_skips() -> None:
    text = render_text(sample_plan(), color=False)
    assert "    + course.MOC-WP-2028" in text
    assert '        rules: [["WP-101"]] → [["WP-101", "WP-102"]]' in text
    assert '        status: "completed" → "suspended"' in text
    assert "    ! enrollment_rule.Certified: Widget Pro courses" in text
    assert "        1. Admin Menu > Enrollment Rules: open it." in text
    assert "Blocked by safety limits" in text
    # A trip saved without its counts (an older plan file) reads in fractions.
    assert "max_suspend_fraction is 0.4 (40%), over the limit 0.25 (25%)" in text
    assert "CERT-WP completed without evidence" in text
    assert "1 skipped: user is deactivated" in text
    assert text.rstrip().endswith("Plan: 3 to create, 2 to update, 1 manual. Blocked.")
    assert "\x1b[" not in text


def test_text_orders_types_by_dependency_within_a_product() -> None:
    text = render_text(sample_plan(), color=False)
    positions = [text.index(f"  {t} (") for t in ("course", "group", "enrollment")]
    assert positions == sorted(positions)


def test_colour_only_when_asked() -> None:
    coloured = render_text(sample_plan(), color=True)
    assert "\x1b[32m+ course.MOC-WP-2028\x1b[0m" in coloured
    assert "\x1b[33m~ group.Certified: Widget Pro\x1b[0m" in coloured


def test_empty_plan_says_no_changes() -> None:
    text = render_text(Plan(at=AT, lms="sandbox:x", changes=(), products=("widget-pro",)), False)
    assert "widget-pro: no changes" in text
    assert text.rstrip().endswith("No changes.")
    assert "No changes." in render_markdown(Plan(at=AT, lms="sandbox:x", changes=()))


def test_many_enrollments_of_one_kind_are_summarised() -> None:
    text = render_text(big_plan(SUMMARISE_OVER + 5), color=False)
    assert '~ 25 enrollments in CERT-WP (status: "completed" → "suspended")' in text
    assert (
        "learner000000, learner000001, learner000002, learner000003, learner000004 "
        "and 20 more (the full list is in --format json)"
    ) in text
    assert "enrollment.CERT-WP.learner000010" not in text
    # Two new enrollments are few: shown one by one.
    assert "+ enrollment.MOC-WP-2027.learner000001" in text


def test_few_enrollments_are_listed_one_by_one() -> None:
    text = render_text(big_plan(SUMMARISE_OVER), color=False)
    assert f"enrollment.CERT-WP.learner{SUMMARISE_OVER - 1:06d}" in text
    assert "enrollments in CERT-WP" not in text


def test_many_skips_are_grouped() -> None:
    skips = tuple(
        Skip("widget-pro", f"enrollment.MOC.u{i}", "user is deactivated") for i in range(40)
    )
    text = render_text(dataclasses.replace(sample_plan(), skipped=skips), color=False)
    assert "Skipped (40):" in text
    assert "widget-pro: 40 skipped: user is deactivated: enrollment.MOC.u0" in text
    assert "and 35 more" in text


def test_markdown_summary_table_then_collapsible_details() -> None:
    md = render_markdown(sample_plan())
    assert md.index("| product | create | update | manual |") < md.index("<details>")
    assert "| widget-pro | 2 | 2 | 1 |" in md
    assert "<details><summary>widget-pro: 2 to create, 2 to update, 1 manual</summary>" in md
    assert md.count("<details>") == md.count("</details>")
    assert md.count("```") % 2 == 0
    assert "**Blocked by safety limits**" in md
    assert "Truncated" not in md


def test_markdown_escapes_table_cells_and_fences() -> None:
    plan = dataclasses.replace(
        sample_plan(),
        products=("a|b",),
        changes=(dataclasses.replace(setup_changes()[0], product="a|b", reason="x ```y```"),),
    )
    md = render_markdown(plan)
    assert "| a\\|b |" in md
    assert md.count("```") == 2


def test_100000_changes_render_quickly_and_markdown_stays_under_the_limit() -> None:
    plan = big_plan(100_000)
    start = time.perf_counter()
    text = render_text(plan, color=False)
    md = render_markdown(plan)
    data = render_json(plan)
    elapsed = time.perf_counter() - start

    assert elapsed < 10, elapsed
    assert len(md) < MARKDOWN_LIMIT
    assert "100000 enrollments in CERT-WP" in text
    assert len(text) < 5_000  # summarised, not 100,000 lines
    assert len(json.loads(data)["changes"]) == 110_004


def test_markdown_truncates_with_a_note() -> None:
    # Many distinct kinds cannot be summarised: each course gets its own few lines.
    changes = [enrollment(f"C{i:05d}", "jdoe", "completed", "suspended") for i in range(20_000)]
    plan = Plan(at=AT, lms="sandbox:x", changes=tuple(changes), products=("widget-pro",))
    md = render_markdown(plan)
    assert len(md) < MARKDOWN_LIMIT
    assert "**Truncated** to stay under 60,000 characters" in md
    assert "of 20,000 changes shown" in md
    assert "certops plan --format json" in md
    assert md.count("<details>") == md.count("</details>")
    assert md.count("```") % 2 == 0


def test_render_json_round_trips() -> None:
    plan = sample_plan()
    back = plan_from_dict(json.loads(render_json(plan)))
    assert sorted(back.changes, key=repr) == sorted(plan.changes, key=repr)


def test_safety_speaks_in_counts_and_percentages() -> None:
    trip = SafetyTrip("widget-pro", "max_suspend_fraction", 50 / 51, 0.25, 50, 51)
    assert safety_text(trip) == (
        "would suspend 50 of 51 (98%, limit 25%; settings.safety.max_suspend_fraction)"
    )
    # Just over the limit never reads "25%, limit 25%".
    close = SafetyTrip("widget-pro", "max_suspend_fraction", 26 / 102, 0.25, 26, 102)
    assert "(25.5%, limit 25.0%;" in safety_text(close)
    counted = dataclasses.replace(sample_plan(), safety=(trip,))
    assert "  widget-pro: would suspend 50 of 51 (98%, limit 25%" in render_text(counted, False)
    md = render_markdown(counted)
    assert "| widget-pro | max_suspend_fraction | would suspend 50 of 51 (98%, limit 25%;" in md


def test_deadline_warnings_show_in_text_and_markdown() -> None:
    message = (
        "2026 due in 7 days (2026-12-31); 23 of 114 who owe it have not completed "
        "(9 in progress, 14 not started)"
    )
    warned = dataclasses.replace(
        sample_plan(),
        warnings=(PlanWarning("widget-pro", message, kind="deadline", details={"owed": 114}),),
    )
    assert f"  widget-pro: {message}\n" in render_text(warned, False)
    assert f"- widget-pro: {message}\n" in render_markdown(warned)
