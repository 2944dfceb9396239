"""Exceptions that change nothing for their learner are found (and only those)."""

from __future__ import annotations

import dataclasses
from datetime import date

from engine_builders import CLASSIC_2025, at, facts, period, product

from certops.config.model import (
    Extension,
    PeriodExtension,
    RefKind,
    Reinstatement,
    Revocation,
)
from certops.engine.idle import idle_exceptions
from certops.engine.lifecycle import evaluate

LEAVE = Extension("jdoe", "2026", date(2027, 1, 31), "parental leave")


def idle(config, learners, when):  # (kind, index, why) of each idle exception
    t = at(when)
    states = [evaluate(config, learner, t) for learner in learners]
    return [(i.kind, i.index, i.why) for i in idle_exceptions(config, states, t)]


def test_an_extension_still_running_or_still_to_come_is_not_idle() -> None:
    config = product(extensions=(LEAVE,))
    assert idle(config, [facts(completions=CLASSIC_2025)], "2027-01-15") == []
    assert idle(config, [facts(completions=CLASSIC_2025)], "2026-06-01") == []


def test_an_extension_of_a_period_completed_in_time_is_idle() -> None:
    done = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2026-06-01"})
    assert idle(product(extensions=(LEAVE,)), [done], "2026-07-01") == [
        (
            RefKind.EXTENSION,
            0,
            "the learner completed MOC-WP-2026 on 2026-06-01, before the period's deadline",
        )
    ]


def test_an_extension_of_a_period_the_learner_never_owed_is_idle_once_it_is_over() -> None:
    # Certified on 2026-12-01 with 90 days' grace: exempt from 2026, extension or not.
    late = facts(completions={"WP-EXAM": "2026-12-01"})
    config = product(grace=90, extensions=(LEAVE,))
    assert idle(config, [late], "2026-12-01") == []
    assert idle(config, [late], "2027-02-01") == [
        (RefKind.EXTENSION, 0, "the learner did not owe period 2026")
    ]


def test_any_exception_of_a_learner_never_certified_is_idle() -> None:
    config = product(
        extensions=(LEAVE,),
        reinstatements=(Reinstatement("jdoe", at("2026-02-01"), "fee paid"),),
        revocations=(Revocation("jdoe", at("2026-03-01"), "misconduct"),),
    )
    never = "the learner has not completed an initial path of Widget-Pro"
    only_101 = facts(completions={"WP-101": "2025-03-01"})
    assert idle(config, [only_101], "2026-06-01") == [
        (RefKind.EXTENSION, 0, never),
        (RefKind.REINSTATEMENT, 0, never),
        (RefKind.REVOCATION, 0, never),
    ]
    # Not even enrolled in the product's courses: no state at all, the same.
    assert idle(config, [], "2026-06-01") == [
        (RefKind.EXTENSION, 0, never),
        (RefKind.REINSTATEMENT, 0, never),
        (RefKind.REVOCATION, 0, never),
    ]


def test_a_reinstatement_while_certified_is_idle_and_one_after_a_lapse_is_not() -> None:
    while_certified = Reinstatement("jdoe", at("2026-06-01"), "goodwill")
    after_lapse = Reinstatement("jdoe", at("2027-02-10"), "fee paid")
    config = product(reinstatements=(while_certified, after_lapse))
    learner = facts(completions=CLASSIC_2025)
    assert idle(config, [learner], "2027-03-01") == [
        (RefKind.REINSTATEMENT, 0, "the learner was neither suspended nor revoked when it applies")
    ]
    # Dated after the plan's instant: judged when its day comes.
    assert idle(config, [learner], "2026-05-01") == []


def test_a_second_revocation_and_one_before_the_certification_are_idle() -> None:
    config = product(
        revocations=(
            Revocation("jdoe", at("2024-06-01"), "before"),
            Revocation("jdoe", at("2026-06-01"), "misconduct"),
            Revocation("jdoe", at("2026-07-01"), "again"),
        )
    )
    why = "the learner was not certified yet, or already revoked, when it applies"
    assert idle(config, [facts(completions=CLASSIC_2025)], "2026-08-01") == [
        (RefKind.REVOCATION, 0, why),
        (RefKind.REVOCATION, 2, why),
    ]


def test_a_learners_extension_within_the_whole_periods_is_idle() -> None:
    whole = PeriodExtension(date(2027, 3, 31), "LMS outage")
    periods = (dataclasses.replace(period(2026), extension=whole), period(2027))
    config = product(periods=periods, extensions=(LEAVE,))
    assert idle(config, [facts(completions=CLASSIC_2025)], "2027-01-15") == [
        (RefKind.EXTENSION, 0, "the whole period 2026 is extended to 2027-03-31 already")
    ]
