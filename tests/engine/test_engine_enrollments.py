"""Desired enrollments at t, diffed against live enrollments (docs/lifecycle.md)."""

from __future__ import annotations

from datetime import date

import pytest

from certops.config.model import (
    Extension,
    InitialPath,
    LateCompletion,
    Revocation,
    Safety,
)
from certops.engine.enrollments import plan_enrollments
from certops.engine.facts import FactsError, collect_facts
from certops.engine.safety import check_plan_safety, check_safety
from certops.lms.records import Enrollment, EnrollmentStatus, User
from certops.plan.jsonio import display
from certops.plan.model import (
    Action,
    Change,
    PlanWarning,
    SafetyTrip,
    Skip,
    enrollment_target,
)
from tests.engine.engine_builders import CLASSIC_2025, at, enrollment, facts, product

IDS = {"CERT-WP": 10, "MOC-WP-2026": 26, "MOC-WP-2027": 27, "MOC-WP-2028": 28}
COMPLETED = EnrollmentStatus.COMPLETED
SUSPENDED = EnrollmentStatus.SUSPENDED
IN_PROGRESS = EnrollmentStatus.IN_PROGRESS
INITIAL_REASON = "completed WP-101 and WP-102 on 2025-03-02 (path classic)"
VALID_2026 = {"valid_from": at("2026-01-01"), "valid_until": at("2027-01-01")}


def change(course: str, user: str, action: Action, before: dict, after: dict, reason: str) -> tuple:
    """A change as a reviewer reads it: address, action, before and after (JSON values),
    reason (compared with ``shown``)."""
    return (enrollment_target(course, user).address, action, before, after, reason)


def shown(changes: tuple[Change, ...]) -> tuple:
    return tuple(
        (c.address, c.action, display(c.before), display(c.after), c.reason) for c in changes
    )


def test_a_new_learner_gets_the_certified_course_and_the_current_period() -> None:
    plan = plan_enrollments(product(), [facts(completions=CLASSIC_2025)], IDS, at("2026-02-01"))
    assert shown(plan.changes) == (
        change(
            "CERT-WP",
            "jdoe",
            Action.CREATE,
            {},
            # the completion date is the certification instant, not the day of the apply
            {"status": "completed", "completed_at": "2025-03-02T09:30:00Z"},
            INITIAL_REASON,
        ),
        change(
            "MOC-WP-2026",
            "jdoe",
            Action.CREATE,
            {},
            {
                "status": "enrolled",
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": "2027-01-01T00:00:00Z",
            },
            "owes period 2026: complete MOC-WP-2026 by 2026-12-31 (UTC)",
        ),
    )
    assert (plan.skipped, plan.warnings) == ((), ())
    assert (plan.currently_certified, plan.suspensions) == (0, 0)
    assert [(s.username, s.owes) for s in plan.states] == [("jdoe", "2026")]


def test_an_lms_that_matches_needs_no_change() -> None:
    learner = facts(
        completions=CLASSIC_2025,
        enrollments=(
            enrollment("CERT-WP", COMPLETED),
            enrollment("MOC-WP-2026", IN_PROGRESS, **VALID_2026),
        ),
    )
    plan = plan_enrollments(product(), [learner], IDS, at("2026-02-01"))
    assert (plan.changes, plan.currently_certified) == ((), 1)


def test_a_lapse_suspends_the_certified_enrollment_and_never_touches_progress() -> None:
    learner = facts(
        completions=CLASSIC_2025,
        enrollments=(
            enrollment("CERT-WP", COMPLETED),
            enrollment("MOC-WP-2026", IN_PROGRESS, **VALID_2026),
        ),
    )
    plan = plan_enrollments(product(), [learner], IDS, at("2027-01-02"))
    assert shown(plan.changes) == (
        change(
            "CERT-WP",
            "jdoe",
            Action.UPDATE,
            {"status": "completed"},
            {"status": "suspended"},
            "did not complete MOC-WP-2026 by 2026-12-31 (UTC)",
        ),
    )
    assert (plan.currently_certified, plan.suspensions) == (1, 1)


def test_an_extension_moves_the_validity_only() -> None:
    leave = Extension("jdoe", "2026", date(2027, 1, 31), "parental leave")
    learner = facts(
        completions=CLASSIC_2025,
        enrollments=(
            enrollment("CERT-WP", COMPLETED),
            enrollment("MOC-WP-2026", IN_PROGRESS, **VALID_2026),
        ),
    )
    plan = plan_enrollments(product(extensions=(leave,)), [learner], IDS, at("2026-12-01"))
    assert shown(plan.changes) == (
        change(
            "MOC-WP-2026",
            "jdoe",
            Action.UPDATE,
            {"valid_until": "2027-01-01T00:00:00Z"},
            {"valid_until": "2027-02-01T00:00:00Z"},
            "owes period 2026: complete MOC-WP-2026 by 2027-01-31 (UTC); "
            "extension until 2027-01-31: parental leave",
        ),
    )


def test_reinstatement_by_late_completion_completes_the_certified_enrollment() -> None:
    learner = facts(
        completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-15"},
        enrollments=(
            enrollment("CERT-WP", SUSPENDED),
            enrollment("MOC-WP-2026", COMPLETED, **VALID_2026),
        ),
    )
    plan = plan_enrollments(
        product(late=LateCompletion.REINSTATE), [learner], IDS, at("2027-01-20")
    )
    late = "completed MOC-WP-2026 late on 2027-01-15 (late_completion: reinstate)"
    assert list(shown(plan.changes)) == [
        ("enrollment.CERT-WP.jdoe", Action.UPDATE, {"status": "suspended"},
         {"status": "completed"}, late),
        ("enrollment.MOC-WP-2027.jdoe", Action.CREATE, {},
         {"status": "enrolled", "valid_from": "2027-01-01T00:00:00Z",
          "valid_until": "2028-01-01T00:00:00Z"},
         "owes period 2027: complete MOC-WP-2027 by 2027-12-31 (UTC)"),
    ]  # fmt: skip
    assert plan.suspensions == 0


def test_a_revoked_learner_is_suspended_with_the_revocation_reason() -> None:
    revoked = product(revocations=(Revocation("jdoe", at("2026-06-01"), "misconduct"),))
    learner = facts(
        completions=CLASSIC_2025,
        enrollments=(
            enrollment("CERT-WP", COMPLETED),
            enrollment("MOC-WP-2026", IN_PROGRESS, **VALID_2026),
        ),
    )
    plan = plan_enrollments(revoked, [learner], IDS, at("2026-06-02"))
    assert [(c.address, display(c.after), c.reason) for c in plan.changes] == [
        ("enrollment.CERT-WP.jdoe", {"status": "suspended"}, "revoked: misconduct")
    ]


def test_a_deactivated_learner_is_updated_but_never_newly_enrolled() -> None:
    learner = facts(
        completions=CLASSIC_2025, enrollments=(enrollment("CERT-WP", COMPLETED),), active=False
    )
    plan = plan_enrollments(product(), [learner], IDS, at("2027-01-02"))
    assert [(c.address, display(c.after)) for c in plan.changes] == [
        ("enrollment.CERT-WP.jdoe", {"status": "suspended"})
    ]
    assert plan.skipped == (
        Skip(
            "widget-pro",
            enrollment_target("MOC-WP-2026", "jdoe"),
            "period 2026 is closed (lapsed); no enrollment created",
        ),
    )
    owing = plan_enrollments(product(), [learner], IDS, at("2026-06-01"))
    assert owing.changes == ()
    assert owing.skipped == (
        Skip(
            "widget-pro",
            enrollment_target("MOC-WP-2026", "jdoe"),
            "jdoe is deactivated: no new enrollment in MOC-WP-2026 (owes period 2026: "
            "complete MOC-WP-2026 by 2026-12-31 (UTC))",
        ),
    )
    newcomer = facts(completions=CLASSIC_2025, active=False)
    plan = plan_enrollments(product(), [newcomer], IDS, at("2026-02-01"))
    assert plan.changes == ()
    assert [s.address for s in plan.skipped] == [
        "enrollment.CERT-WP.jdoe",
        "enrollment.MOC-WP-2026.jdoe",
    ]


def test_completed_without_initial_evidence_is_a_warning_not_a_change() -> None:
    learner = facts(
        completions={"WP-101": "2025-03-01"}, enrollments=(enrollment("CERT-WP", COMPLETED),)
    )
    plan = plan_enrollments(product(), [learner], IDS, at("2026-02-01"))
    assert plan.changes == ()
    assert plan.warnings == (
        PlanWarning(
            "widget-pro",
            "jdoe's CERT-WP enrollment is completed but no initial path is complete "
            "(classic: WP-101, WP-102; exam: WP-EXAM); not changed",
            "enrollment.CERT-WP.jdoe",
        ),
    )
    assert plan.currently_certified == 1
    # an enrollment that is not completed is left alone silently
    enrolled = facts(enrollments=(enrollment("CERT-WP"),))
    assert plan_enrollments(product(), [enrolled], IDS, at("2026-02-01")).warnings == ()


def test_a_manual_late_completion_is_a_warning_for_a_person() -> None:
    learner = facts(
        completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-15"},
        enrollments=(
            enrollment("CERT-WP", SUSPENDED),
            enrollment("MOC-WP-2026", COMPLETED, **VALID_2026),
        ),
    )
    plan = plan_enrollments(product(), [learner], IDS, at("2027-02-01"))
    assert plan.changes == ()
    assert [w.message for w in plan.warnings] == [
        "jdoe: completed MOC-WP-2026 late on 2027-01-15 (late_completion: manual): add a "
        "reinstatement to the config to restore the certification"
    ]


def test_courses_created_by_the_same_apply_still_get_their_enrollments() -> None:
    ids = {**IDS, "MOC-WP-2026": None}
    del ids["CERT-WP"]  # absent counts as not existing yet, too
    stale = facts(
        completions=CLASSIC_2025,
        enrollments=(enrollment("MOC-WP-2026", IN_PROGRESS, **VALID_2026),),
    )
    plan = plan_enrollments(product(), [stale], ids, at("2026-02-01"))
    assert [(c.address, c.action) for c in plan.changes] == [
        ("enrollment.CERT-WP.jdoe", Action.CREATE),
        ("enrollment.MOC-WP-2026.jdoe", Action.CREATE),
    ]
    assert plan.changes[1].reason.endswith("(course created by this apply)")


def test_changes_are_ordered_by_course_then_username() -> None:
    people = [
        facts("zoe", CLASSIC_2025, user_id=3),
        facts("bob", {"WP-EXAM": "2025-05-01"}, (enrollment("CERT-WP", COMPLETED),), user_id=2),
        facts("amy", CLASSIC_2025, user_id=1),
    ]
    plan = plan_enrollments(product(), people, IDS, at("2026-02-01"))
    assert [c.address for c in plan.changes] == [
        "enrollment.CERT-WP.amy",
        "enrollment.CERT-WP.zoe",
        "enrollment.MOC-WP-2026.amy",
        "enrollment.MOC-WP-2026.bob",
        "enrollment.MOC-WP-2026.zoe",
    ]
    assert [s.username for s in plan.states] == ["amy", "bob", "zoe"]


def test_two_products_sharing_an_initial_course_each_certify() -> None:
    lite = product(pid="widget-lite", prefix="WL", paths=(InitialPath("core", ("WP-101",)),))
    learner = facts(completions={"WP-101": "2025-03-01T10:00:00", "WP-102": "2025-03-02"})
    pro = plan_enrollments(product(), [learner], IDS, at("2025-06-01"))
    lite_plan = plan_enrollments(lite, [learner], {"CERT-WL": 11}, at("2025-06-01"))
    assert [(c.address, c.product, c.reason) for c in pro.changes] == [
        ("enrollment.CERT-WP.jdoe", "widget-pro", INITIAL_REASON)
    ]
    assert [(c.address, c.product, c.reason) for c in lite_plan.changes] == [
        ("enrollment.CERT-WL.jdoe", "widget-lite", "completed WP-101 on 2025-03-01 (path core)")
    ]


def test_a_username_given_twice_is_an_error() -> None:
    with pytest.raises(FactsError, match="learner 'jdoe' given twice"):
        plan_enrollments(product(), [facts(), facts()], IDS, at("2026-02-01"))


# -- facts from LMS records ----------------------------------------------------------------


def test_collect_facts_groups_records_by_learner() -> None:
    users = [
        User(1, "jdoe"),
        User(2, "asmith", active=False),
    ]
    done = at("2025-03-02")
    records = [
        Enrollment(1, 101, COMPLETED, completed_at=at("2025-03-01"), course_code="WP-101"),
        Enrollment(1, 102, COMPLETED, completed_at=done),  # code from the id map
        Enrollment(1, 10, COMPLETED, completed_at=done, course_code="CERT-WP"),
        Enrollment(1, 26, IN_PROGRESS, course_code="MOC-WP-2026"),
        Enrollment(1, 999, COMPLETED, completed_at=done, course_code="OTHER"),
        Enrollment(2, 10, COMPLETED, completed_at=done, course_code="CERT-WP"),
        Enrollment(3, 10, COMPLETED, completed_at=done, course_code="CERT-WP"),  # unknown user
    ]
    got = collect_facts(product(), users, records, {102: "WP-102"})
    assert [(f.username, f.active) for f in got] == [("asmith", False), ("jdoe", True)]
    asmith, jdoe = got
    assert dict(jdoe.completions) == {"WP-101": at("2025-03-01"), "WP-102": done}
    assert sorted(jdoe.enrollments) == ["CERT-WP", "MOC-WP-2026", "WP-101", "WP-102"]
    assert (dict(asmith.completions), list(asmith.enrollments)) == ({}, ["CERT-WP"])


def test_facts_are_read_only_copies() -> None:
    completions = {"WP-101": at("2025-03-01")}
    learner = facts()
    learner = type(learner)("jdoe", 1, True, completions)
    completions["WP-102"] = at("2025-03-02")
    assert list(learner.completions) == ["WP-101"]
    with pytest.raises(TypeError):
        learner.completions["WP-102"] = at("2025-03-02")  # type: ignore[index]


# -- safety ---------------------------------------------------------------------------------


def test_safety_trips_above_the_fraction_with_enough_population() -> None:
    limits = Safety(max_suspend_fraction=0.25, min_population=20)
    # The trip carries the counts behind the fraction, for "would suspend 6 of 20".
    assert check_safety("widget-pro", 20, 6, limits) == SafetyTrip(
        "widget-pro", "max_suspend_fraction", 0.3, 0.25, suspensions=6, certified=20
    )
    assert check_safety("widget-pro", 20, 5, limits) is None  # exactly at the limit
    assert check_safety("widget-pro", 19, 19, limits) is None  # population too small
    assert check_safety("widget-pro", 0, 0, Safety(0.25, 0)) is None
    with pytest.raises(ValueError, match="counts must be >= 0"):
        check_safety("widget-pro", -1, 0, limits)


def test_safety_of_an_enrollment_plan_counts_completed_to_suspended() -> None:
    people = [
        facts(
            f"u{i:02}",
            CLASSIC_2025 if i < 3 else {**CLASSIC_2025, "MOC-WP-2026": "2026-05-01"},
            (enrollment("CERT-WP", COMPLETED, user_id=i),),
            user_id=i,
        )
        for i in range(10)
    ]
    plan = plan_enrollments(product(), people, IDS, at("2027-01-02"))
    assert (plan.currently_certified, plan.suspensions) == (10, 3)
    assert check_plan_safety(plan, Safety(0.25, 10)) == SafetyTrip(
        "widget-pro", "max_suspend_fraction", 0.3, 0.25, suspensions=3, certified=10
    )
    assert check_plan_safety(plan, Safety(0.25, 11)) is None


def test_collect_facts_keeps_the_completed_one_of_duplicate_enrollments() -> None:
    first = Enrollment(1, 101, COMPLETED, completed_at=at("2025-03-01"), course_code="WP-101")
    other = Enrollment(1, 101, IN_PROGRESS, course_code="WP-101")
    later = Enrollment(1, 101, COMPLETED, completed_at=at("2025-04-01"), course_code="WP-101")
    for records in ([first, other, later], [later, other, first], [other, later, first]):
        (got,) = collect_facts(product(), [User(1, "jdoe")], records, {})
        assert got.enrollments["WP-101"] == first


def test_a_maintenance_enrollment_without_validity_gets_both_ends() -> None:
    learner = facts(
        completions=CLASSIC_2025,
        enrollments=(enrollment("CERT-WP", COMPLETED), enrollment("MOC-WP-2026", IN_PROGRESS)),
    )
    plan = plan_enrollments(product(), [learner], IDS, at("2026-02-01"))
    assert [(c.address, display(c.before), display(c.after)) for c in plan.changes] == [
        (
            "enrollment.MOC-WP-2026.jdoe",
            {"valid_from": None, "valid_until": None},
            {"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"},
        )
    ]


def test_a_period_closed_by_a_revocation_gets_no_new_enrollment() -> None:
    # first run after the revocation: the period can no longer be taken, so no enrollment
    # (and no enrollment notice) is created for it; the plan says so
    revoked = product(revocations=(Revocation("jdoe", at("2026-06-01"), "misconduct"),))
    learner = facts(completions=CLASSIC_2025, enrollments=(enrollment("CERT-WP", COMPLETED),))
    plan = plan_enrollments(revoked, [learner], IDS, at("2026-07-01"))
    assert [(c.address, c.action, c.reason) for c in plan.changes] == [
        ("enrollment.CERT-WP.jdoe", Action.UPDATE, "revoked: misconduct"),
    ]
    assert [(s.address, s.reason) for s in plan.skipped] == [
        (
            "enrollment.MOC-WP-2026.jdoe",
            "period 2026 is closed (revoked); no enrollment created",
        )
    ]
