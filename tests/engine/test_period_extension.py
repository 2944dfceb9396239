"""Extending a whole period (docs/lifecycle.md, "Extending a whole period"): every
learner's deadline moves, the period may run into the next one, and what the overlap
means is defined: obligations still come one at a time."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from engine_builders import CLASSIC_2025, at, enrollment, facts, period, product
from test_setup_manual import widget_pro

from certops.config import load_config
from certops.config.model import (
    DEFAULT_LADDER,
    Config,
    Extension,
    Maintenance,
    PeriodExtension,
)
from certops.engine.deadlines import days_left, rung_at
from certops.engine.desired import desired_setup
from certops.engine.enrollments import plan_enrollments
from certops.engine.lifecycle import CertificationState, ObligationOutcome, Transition, evaluate
from certops.engine.manual import NoAcks, current_period, manual_steps
from certops.errors import ConfigError
from certops.lms.records import EnrollmentStatus

CERTIFIED, SUSPENDED = CertificationState.CERTIFIED, CertificationState.SUSPENDED
OUTAGE = PeriodExtension(date(2027, 3, 31), "LMS outage in December")


def extended(**more: object):  # a product whose 2026 runs until 2027-03-31
    periods = (
        dataclasses.replace(period(2026), extension=OUTAGE),
        period(2027),
        period(2028),
    )
    return product(periods=periods, **more)  # type: ignore[arg-type]


def test_the_whole_period_extension_moves_every_learners_deadline() -> None:
    state = evaluate(extended(), facts(completions=CLASSIC_2025), at("2027-02-15"))
    assert (state.state, state.owes, state.deadline) == (CERTIFIED, "2026", at("2027-04-01"))
    assert state.obligations[-1].extension == "LMS outage in December"
    # Noted at the deadline it moves, the period's own due date.
    assert state.history[-1] == Transition(
        at("2027-01-01"), CERTIFIED, "extension until 2027-03-31: LMS outage in December", True
    )
    lapsed = evaluate(extended(), facts(completions=CLASSIC_2025), at("2027-04-01"))
    assert (lapsed.state, lapsed.since) == (SUSPENDED, at("2027-04-01"))
    assert lapsed.reason == "did not complete MOC-WP-2026 by 2027-03-31 (UTC)"


def test_in_the_overlap_who_completed_on_time_owes_the_next_period_from_its_opening() -> None:
    on_time = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2026-06-01"})
    state = evaluate(extended(), on_time, at("2027-02-15"))
    assert (state.owes, state.deadline) == ("2027", at("2028-01-01"))
    assert [o.outcome for o in state.obligations] == [
        ObligationOutcome.MET,
        ObligationOutcome.OUTSTANDING,
    ]


def test_in_the_overlap_who_completes_late_owes_the_next_period_from_then() -> None:
    late = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-02-10T10:00:00"})
    before = evaluate(extended(), late, at("2027-02-10T09:59:59"))
    assert (before.owes, before.deadline) == ("2026", at("2027-04-01"))
    after = evaluate(extended(), late, at("2027-02-10T10:00:00"))
    assert (after.state, after.owes, after.deadline) == (CERTIFIED, "2027", at("2028-01-01"))
    # The next period's own due date does not move.
    assert after.obligations[-1].extension is None


def test_a_learner_certified_in_the_overlap_owes_the_extended_period_first() -> None:
    # As if every learner had the extension: certified inside the extended window.
    newcomer = facts(completions={"WP-EXAM": "2027-02-01T12:00:00"})
    state = evaluate(extended(), newcomer, at("2027-02-02"))
    assert (state.owes, state.deadline) == ("2026", at("2027-04-01"))
    # With grace, a deadline two months away exempts them: they owe 2027 instead.
    graced = evaluate(extended(grace=90), newcomer, at("2027-02-02"))
    assert (graced.owes, graced.deadline) == ("2027", at("2028-01-01"))


def test_a_learners_own_extension_wins_only_when_later() -> None:
    longer = Extension("jdoe", "2026", date(2027, 5, 31), "parental leave")
    shorter = Extension("jdoe", "2026", date(2027, 1, 31), "short leave")
    learner = facts(completions=CLASSIC_2025)
    mine = evaluate(extended(extensions=(longer,)), learner, at("2027-04-15"))
    assert (mine.deadline, mine.obligations[-1].extension) == (at("2027-06-01"), "parental leave")
    theirs = evaluate(extended(extensions=(shorter,)), learner, at("2027-02-15"))
    assert theirs.deadline == at("2027-04-01")
    assert theirs.obligations[-1].extension == "LMS outage in December"


def test_enrollments_course_and_reminders_follow_the_extended_deadline() -> None:
    moc = enrollment(
        "MOC-WP-2026",
        EnrollmentStatus.IN_PROGRESS,
        valid_from=at("2026-01-01"),
        valid_until=at("2027-01-01"),
    )
    learner = facts(completions=CLASSIC_2025, enrollments=(moc,))
    ids = {"CERT-WP": 1, "MOC-WP-2026": 2, "MOC-WP-2027": 3}
    plan = plan_enrollments(extended(), [learner], ids, at("2026-12-01"))
    [change] = [c for c in plan.changes if c.target.course == "MOC-WP-2026"]
    assert change.after == {"valid_until": at("2027-04-01")}
    assert "extension until 2027-03-31: LMS outage in December" in change.reason
    # The maintenance course itself stays open until the extended deadline.
    product = extended()
    desired = desired_setup(Config(products=(product,)), at("2026-12-01"))
    assert desired.courses["MOC-WP-2026"].settings.date_end == at("2027-04-01")
    # Days left and the digest's ladder count down to the extended last day.
    outage = product.maintenance.periods[0]
    assert days_left(outage, at("2026-12-31")) == 90
    rung = rung_at(DEFAULT_LADDER, outage, at("2027-03-25"))
    assert rung is not None and rung.deadline == date(2027, 3, 31)
    assert rung.rung.every.value == "daily"


def test_during_the_overlap_the_rule_points_at_the_extended_period_and_notices_at_both() -> None:
    periods = (dataclasses.replace(period(2026), extension=OUTAGE), period(2027))
    product = widget_pro(maintenance=Maintenance(periods=periods))
    assert current_period(product, at("2027-02-15")).id == "2026"
    assert current_period(product, at("2027-04-01")).id == "2027"
    steps = {c.address: c for c in manual_steps(Config(products=(product,)), at("2027-02-15"),
                                                NoAcks())}  # fmt: skip
    rule = steps["enrollment_rule.Certified: Widget Pro courses"]
    assert rule.after["target_courses"] == ["CERT-WP", "MOC-WP-2026"]
    digest = steps["notification.Maintenance of certification not yet completed"]
    assert digest.after["courses"] == ["MOC-WP-2026", "MOC-WP-2027"]
    notice = steps["notification.Maintenance of certification enrollment"]
    assert notice.after["courses"] == ["MOC-WP-2026", "MOC-WP-2027"]


PRODUCT = """\
version: 1
products:
  - id: widget
    name: Widget
    group: {{name: "Certified: Widget"}}
    initial_paths:
      - {{name: basics, all_of: [W-101]}}
    certified_course: {{code: CERT-W, name: "Certified: Widget"}}
    maintenance:
      periods:
        - id: "2026"
          course: {{code: MOC-W-2026, name: "Widget 2026"}}
          opens: 2026-01-01
          due: 2026-12-31
          extension: {extension}
        - id: "2027"
          course: {{code: MOC-W-2027, name: "Widget 2027"}}
          opens: 2027-01-01
          due: 2027-12-31
"""


def _problems(tmp_path: Path, extension: str) -> list[str]:
    file = tmp_path / "widget.yaml"
    file.write_text(PRODUCT.format(extension=extension), encoding="utf-8")
    try:
        load_config([str(file)])
    except ConfigError as exc:
        return [f"{p.line}:{p.column}: {p.message}" for p in exc.problems]
    return []


def test_an_extension_into_the_next_period_validates(tmp_path: Path) -> None:
    assert _problems(tmp_path, '{until: 2027-03-31, reason: "LMS outage"}') == []


def test_a_whole_period_extension_is_checked_where_it_is_written(tmp_path: Path) -> None:
    assert _problems(tmp_path, '{until: 2026-11-30, reason: "typo"}') == [
        "15:30: period '2026' is extended until 2026-11-30, before its due date (2026-12-31); "
        "an extension can only move a deadline later"
    ]
    assert _problems(tmp_path, '{until: 2027-12-31, reason: "a year"}') == [
        "15:30: period '2026' is extended until 2027-12-31, not before period '2027' ends "
        "(2027-12-31): everyone still working on '2026' would skip '2027' altogether; end the "
        "extension before 2027-12-31, or extend '2027' too"
    ]
    assert _problems(tmp_path, "{until: 2027-03-31}") == [
        "15:22: products[0].maintenance.periods[0].extension has no reason; every extension "
        "of a whole period says why it was granted (kept for audit, shown in plans), e.g. "
        'reason: "LMS outage in December" (files written before reasons were required: add '
        "one to each entry; `certops validate` lists them all)"
    ]
