"""Text, markdown and JSON renderings of a plan."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from certops.plan.jsonio import plan_from_dict
from certops.plan.markdown import DEFAULT_MAX_BYTES, GITHUB_COMMENT_LIMIT, render_markdown
from certops.plan.model import ChangeClass, Plan, PlanWarning, SafetyTrip, Skip, enrollment_target
from certops.plan.render import (
    SUMMARISE_OVER,
    confirmation_text,
    render_json,
    render_text,
    safety_text,
)
from tests.plan.plan_samples import AT, enrollment, new_enrollment, sample_plan, setup_changes


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
        # Enrollment changes by what they do; setup changes as creates and updates.
        "widget-pro: 1 suspension, 1 maintenance enrollment, 1 to create, 1 to update, 1 manual",
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
    assert text.rstrip().endswith(
        "Plan: 1 suspension, 1 maintenance enrollment, 2 to create, 1 to update, 1 manual. Blocked."
    )
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
    assert '~ 25 suspensions in CERT-WP (status: "completed" → "suspended")' in text
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
        Skip("widget-pro", enrollment_target("MOC", f"u{i}"), "user is deactivated")
        for i in range(40)
    )
    text = render_text(dataclasses.replace(sample_plan(), skipped=skips), color=False)
    assert "Skipped (40):" in text
    assert "widget-pro: 40 skipped: user is deactivated: enrollment.MOC.u0" in text
    assert "and 35 more" in text


def test_markdown_first_screen_then_the_summary_table() -> None:
    md = render_markdown(sample_plan())
    # Blocked first, then every product's suspensions against the limit, then the table.
    assert md.index("**Blocked by a safety limit**") < md.index("| product | suspensions |")
    header = (
        "| product | suspend | reinstate | certify | maintenance | deadline | create | update "
        "| manual | drift |"
    )
    assert md.index("| product | suspensions |") < md.index(header)
    assert "| widget-pro | 1 | 0 | 0 | 1 | 0 | 1 | 1 | 1 | 0 | 0 | 0 |" in md
    assert md.count("<details>") == md.count("</details>")
    assert md.count("```") % 2 == 0
    assert "Shortened" not in md


def test_markdown_escapes_table_cells_and_fences() -> None:
    plan = dataclasses.replace(
        sample_plan(),
        products=("a|b",),
        changes=(dataclasses.replace(setup_changes()[0], product="a|b", reason="x ```y```"),),
    )
    md = render_markdown(plan)
    assert "| a\\|b |" in md
    assert md.count("```") == 2


@pytest.mark.slow
def test_100000_changes_render_quickly_and_markdown_stays_under_the_limit() -> None:
    plan = big_plan(100_000)
    start = time.perf_counter()
    text = render_text(plan, color=False)
    md = render_markdown(plan)
    data = render_json(plan)
    elapsed = time.perf_counter() - start

    assert elapsed < 10, elapsed
    assert len(md.encode("utf-8")) <= DEFAULT_MAX_BYTES < GITHUB_COMMENT_LIMIT
    assert "100000 suspensions in CERT-WP" in text
    assert len(text) < 5_000  # summarised, not 100,000 lines
    assert len(json.loads(data)["changes"]) == 110_004
    # 100,000 suspensions cannot all be named: the list is cut with a count, and the
    # closing note says where the full plan is.
    assert "#### Suspensions (100000)" in md
    assert "not listed, for room" in md
    assert "**Shortened** to stay under 64,000 bytes" in md


def test_markdown_cuts_routine_parts_first() -> None:
    # 300 suspensions and 20,000 routine enrollments under a small cap: every suspended
    # learner is named, the enrollments only counted.
    changes = [enrollment("CERT-WP", f"s{i:04d}", "completed", "suspended") for i in range(300)]
    changes += [new_enrollment("MOC-WP-2027", f"learner{i:06d}") for i in range(20_000)]
    plan = Plan(at=AT, lms="sandbox:x", changes=tuple(changes), products=("widget-pro",))
    md = render_markdown(plan, max_bytes=8_000, full_plan="the artifact certops-plan")
    assert len(md.encode("utf-8")) <= 8_000
    assert all(f"s{i:04d}" in md for i in range(300))
    assert "- widget-pro: enroll 20000 in MOC-WP-2027 as enrolled (unclassed)" in md
    assert "learner019999" not in md
    assert "The full plan is in the artifact certops-plan." in md
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
    assert "> - widget-pro: would suspend 50 of 51 (98%, limit 25%;" in md
    assert "| widget-pro | 50 of 51 (98%) | 25% | **over the limit: blocked** |" in md


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


def test_markdown_never_passes_max_bytes() -> None:
    changes = [enrollment("CERT-WP", f"s{i:04d}", "completed", "suspended") for i in range(900)]
    changes += [enrollment(f"C{i:03d}", "jdoe", "completed", "suspended") for i in range(300)]
    changes += [new_enrollment("MOC-WP-2027", f"é-learner{i:05d}") for i in range(3_000)]
    warnings = tuple(PlanWarning("widget-pro", f"warning {i} " + "x" * 80) for i in range(40))
    skipped = tuple(
        Skip("widget-pro", enrollment_target("MOC", f"u{i}"), f"u{i} is away") for i in range(500)
    )
    plan = Plan(
        at=AT,
        lms="sandbox:x",
        changes=(*setup_changes(), *changes),
        products=("widget-pro",),
        warnings=warnings,
        skipped=skipped,
    )
    for max_bytes in (2_000, 3_333, 5_000, 9_999, 20_000, 50_000, 64_000):
        md = render_markdown(plan, max_bytes=max_bytes)
        assert len(md.encode("utf-8")) <= max_bytes, max_bytes
        assert md.count("<details>") == md.count("</details>"), max_bytes
        assert md.count("```") % 2 == 0, max_bytes
        assert md.rstrip().endswith("`certops plan --format json`."), max_bytes


def test_markdown_says_when_the_limit_does_not_apply() -> None:
    small = SafetyTrip("gizmo", "max_suspend_fraction", 2 / 3, 0.25, 2, 3)
    within = SafetyTrip("widget-pro", "max_suspend_fraction", 20 / 114, 0.25, 20, 114)
    plan = dataclasses.replace(sample_plan(), safety=(), limits=(within, small))
    md = render_markdown(plan)
    assert "| widget-pro | 20 of 114 (18%) | 25% | within the limit |" in md
    assert "| gizmo | 2 of 3 (67%) | 25% | limit not applied (fewer certified than" in md


def test_text_groups_each_product_by_class_drift_first() -> None:
    classes = {0: ChangeClass.SCHEDULE, 1: ChangeClass.DRIFT, 2: ChangeClass.CONFIG}
    changes = tuple(
        dataclasses.replace(c, change_class=classes[i % 3])
        for i, c in enumerate(sample_plan().changes)
    )
    plan = dataclasses.replace(sample_plan(), changes=changes)
    text = render_text(plan, color=False)
    drift = text.index("  [drift] ")
    schedule = text.index("  [schedule] ")
    config = text.index("  [config] ")
    assert drift < schedule < config
    assert "[drift] 2: the LMS moved away from what certops set" in text
    assert "Classes: 2 drift, 2 schedule, 2 config." in text
    md = render_markdown(plan)
    assert "6 changes (2 drift, 2 schedule, 2 config)" in md
    assert "#### Drift (2): the LMS moved away from what certops set" in md


def test_the_confirmation_restates_suspensions_by_product_name() -> None:
    limits = (SafetyTrip("widget-pro", "max_suspend_fraction", 35 / 140, 0.25, 35, 140),)
    changes = tuple(
        enrollment("CERT-WP", f"learner{i:04d}", "completed", "suspended") for i in range(35)
    )
    plan = Plan(at=AT, lms="sandbox:x", changes=changes, products=("widget-pro",), limits=limits)
    text = confirmation_text(plan, {"widget-pro": "Widget Pro"})
    assert "will SUSPEND 35 learners in Widget Pro (35 of 140 certified now, limit 25%)" in text
    assert text.endswith("Apply these changes?")
    assert "to update" not in text
