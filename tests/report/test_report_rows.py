"""Report rows from the engine, learner by learner (pure: configs and facts built here)."""

from __future__ import annotations

from datetime import date

from certops.config.model import Extension, LateCompletion, Reinstatement, Revocation
from certops.lms.records import EnrollmentStatus, User
from certops.report.rows import (
    Filters,
    Maintenance,
    ReportState,
    build_row,
    current_period,
)
from certops.report.summary import trend_instants
from tests.engine.engine_builders import CLASSIC_2025, at, enrollment, facts, period, product

JDOE = User(1, "jdoe", "jane.doe@example.com", "Jane", "Doe")


def test_a_manual_late_completion_is_needs_review_with_the_lapse() -> None:
    wp = product(late=LateCompletion.MANUAL)
    late = {**CLASSIC_2025, "MOC-WP-2026": "2027-01-10T10:00:00"}
    row = build_row(wp, JDOE, facts(completions=late), at("2027-02-01"))
    assert row.state is ReportState.NEEDS_REVIEW
    assert row.needs_review and "add a reinstatement" in row.needs_review
    assert (row.lapsed_period, row.lapsed_at) == ("2026", at("2027-01-01"))
    assert row.owes is None and row.days_left is None
    assert Filters(states=(ReportState.NEEDS_REVIEW,)).keeps(row)
    assert not Filters(states=(ReportState.SUSPENDED,)).keeps(row)


def test_a_reinstatement_is_the_last_change_and_the_current_period_is_owed() -> None:
    wp = product(
        reinstatements=(Reinstatement("jdoe", at("2027-02-10"), "fee paid, invoice 1234"),)
    )
    started = enrollment("MOC-WP-2027", EnrollmentStatus.IN_PROGRESS)
    row = build_row(wp, JDOE, facts(completions=CLASSIC_2025, enrollments=(started,)),
                    at("2027-03-01"))  # fmt: skip
    assert row.state is ReportState.CERTIFIED and row.since == at("2027-02-10")
    assert (row.last_change, row.last_change_at) == ("reinstated", at("2027-02-10"))
    assert row.last_change_reason == "reinstated: fee paid, invoice 1234"
    assert (row.owes, row.deadline, row.days_left) == ("2027", date(2027, 12, 31), 305)
    assert (row.maintenance_course, row.maintenance) == ("MOC-WP-2027", Maintenance.IN_PROGRESS)
    assert row.lapsed_period == "2026"
    assert (row.name, row.email) == ("Jane Doe", "jane.doe@example.com")


def test_an_extension_and_the_last_day() -> None:
    wp = product(extensions=(Extension("jdoe", "2026", date(2027, 1, 31), "parental leave"),))
    row = build_row(wp, JDOE, facts(completions=CLASSIC_2025), at("2027-01-31T23:59:59"))
    assert (row.owes, row.deadline_at, row.days_left) == ("2026", at("2027-02-01"), 0)
    assert (row.extension_until, row.extension_reason) == (date(2027, 1, 31), "parental leave")
    assert row.maintenance is Maintenance.NOT_STARTED  # not even enrolled
    assert Filters(expiring_within=0).keeps(row)
    lapsed = build_row(wp, JDOE, facts(completions=CLASSIC_2025), at("2027-02-01"))
    assert lapsed.state is ReportState.SUSPENDED and lapsed.lapsed_at == at("2027-02-01")


def test_a_met_current_period_shows_completed_and_a_later_completion_does_not_count() -> None:
    wp = product()
    done = {**CLASSIC_2025, "MOC-WP-2026": "2026-05-04T10:00:00"}
    finished = enrollment(
        "MOC-WP-2026", EnrollmentStatus.COMPLETED, completed_at=at("2026-05-04T10:00:00")
    )
    met = build_row(wp, JDOE, facts(completions=done, enrollments=(finished,)), at("2026-06-01"))
    assert (met.owes, met.period, met.maintenance) == (None, "2026", Maintenance.COMPLETED)
    # Looking back to before the completion: it was owed and in progress then.
    before = build_row(wp, JDOE, facts(completions=done, enrollments=(finished,)), at("2026-04-01"))
    assert (before.owes, before.maintenance, before.days_left) == (
        "2026",
        Maintenance.IN_PROGRESS,
        274,
    )


def test_revoked_and_never_and_the_user_filter() -> None:
    wp = product(revocations=(Revocation("jdoe", at("2026-06-01"), "misconduct"),))
    row = build_row(wp, JDOE, facts(completions=CLASSIC_2025), at("2026-07-01"))
    assert (row.state, row.last_change, row.last_change_reason) == (
        ReportState.REVOKED,
        "revoked",
        "revoked: misconduct",
    )
    never = build_row(wp, JDOE, facts(), at("2026-07-01"))
    assert never.state is ReportState.NEVER and never.record()["since"] is None
    assert Filters(users=("JANE.DOE@example.com",)).keeps_user(JDOE)
    assert Filters(users=("jdoe",)).keeps_user(JDOE)
    assert not Filters(users=("JDOE",)).keeps_user(JDOE)  # usernames match exactly


def test_current_period_and_the_chart_instants() -> None:
    gap = product(periods=(period(2026), period(2027, opens=date(2027, 3, 1))))
    assert current_period(gap, at("2025-06-01")) is None
    assert current_period(gap, at("2026-06-01")).id == "2026"
    assert current_period(gap, at("2027-02-01")).id == "2026"  # between periods: the last
    assert current_period(gap, at("2027-03-01")).id == "2027"
    instants = trend_instants(at("2027-01-02"))
    assert (instants[0], instants[-2], instants[-1]) == (
        at("2025-02-01"),
        at("2027-01-01"),
        at("2027-01-02"),
    )
    assert len(instants) == 25
