"""The "set by hand?" marks: a certified-course status the rules never gave and no
exception explains, told apart from the lifecycle's own due changes."""

from __future__ import annotations

from certops.config.model import Extension, LateCompletion, Reinstatement, Safety
from certops.engine.enrollments import plan_enrollments
from certops.engine.safety import check_by_hand
from certops.lms.records import EnrollmentStatus
from tests.engine.engine_builders import CLASSIC_2025, at, enrollment, facts, period, product

COURSES = {"WP-101": 1, "WP-102": 2, "WP-EXAM": 3, "CERT-WP": 4, "MOC-WP-2026": 5}
ONE_PERIOD = (period(2026),)


def _plan(prod, learner, t: str):
    return plan_enrollments(prod, [learner], COURSES, at(t))


def test_completed_after_the_lapse_is_marked_with_the_reinstatement_to_add() -> None:
    cert = enrollment("CERT-WP", EnrollmentStatus.COMPLETED, completed_at=at("2027-01-05T10:00"))
    plan = _plan(product(periods=ONE_PERIOD), facts("jdoe", CLASSIC_2025, (cert,)), "2027-01-06")
    [mark] = plan.by_hand
    assert (mark.user, mark.lms_status, mark.rules_status) == ("jdoe", "completed", "suspended")
    assert mark.add_to == "reinstatements"
    assert mark.entry["at"] == "2027-01-05T10:00:00Z"
    assert check_by_hand(plan, Safety()) is not None
    assert check_by_hand(plan, Safety(max_reverted_manual=1)) is None
    # The change itself still follows the rules.
    [change] = [c for c in plan.changes if c.address == "enrollment.CERT-WP.jdoe"]
    assert change.after == {"status": "suspended"}


def test_a_lapse_that_is_due_now_is_not_marked() -> None:
    # Completed (certified) before the lapse: the LMS is just not updated yet.
    cert = enrollment("CERT-WP", EnrollmentStatus.COMPLETED, completed_at=at("2025-03-02T09:30"))
    plan = _plan(product(periods=ONE_PERIOD), facts("jdoe", CLASSIC_2025, (cert,)), "2027-01-06")
    assert plan.by_hand == ()
    assert plan.suspensions == 1


def test_a_suspension_the_rules_never_made_is_marked_with_a_revocation() -> None:
    cert = enrollment("CERT-WP", EnrollmentStatus.SUSPENDED)
    plan = _plan(product(periods=ONE_PERIOD), facts("jdoe", CLASSIC_2025, (cert,)), "2026-06-01")
    [mark] = plan.by_hand
    assert (mark.add_to, mark.entry["at"]) == ("revocations", "2026-06-01T00:00:00Z")


def test_a_suspension_after_a_lapse_and_a_late_completion_is_the_rules_own() -> None:
    moc = enrollment("MOC-WP-2026", EnrollmentStatus.COMPLETED, completed_at=at("2027-01-10"))
    cert = enrollment("CERT-WP", EnrollmentStatus.SUSPENDED)
    done = {**CLASSIC_2025, "MOC-WP-2026": "2027-01-10T00:00:00"}

    prod = product(periods=ONE_PERIOD, late=LateCompletion.REINSTATE)
    plan = _plan(prod, facts("jdoe", done, (cert, moc)), "2027-01-11")
    assert plan.by_hand == ()
    assert any(c.address == "enrollment.CERT-WP.jdoe" for c in plan.changes)


def test_a_learner_named_by_an_exception_is_explained_by_the_configuration() -> None:
    cert = enrollment("CERT-WP", EnrollmentStatus.SUSPENDED)
    ext = Extension("jdoe", "2026", at("2027-01-31").date(), "leave")
    plan = _plan(
        product(periods=ONE_PERIOD, extensions=(ext,)),
        facts("jdoe", CLASSIC_2025, (cert,)),
        "2027-01-06",
    )
    assert plan.by_hand == ()
    rein = Reinstatement("jdoe", at("2027-02-01"), "fee")
    cert = enrollment("CERT-WP", EnrollmentStatus.COMPLETED, completed_at=at("2027-01-05T10:00"))
    plan = _plan(
        product(periods=ONE_PERIOD, reinstatements=(rein,)),
        facts("jdoe", CLASSIC_2025, (cert,)),
        "2027-01-06",
    )
    assert plan.by_hand == ()
