"""The lifecycle rules of docs/lifecycle.md, one small scenario per rule or edge."""

from __future__ import annotations

from datetime import date

import pytest

from certops.config.model import (
    Extension,
    InitialPath,
    LateCompletion,
    Reinstatement,
    Revocation,
)
from certops.engine.facts import FactsError, LearnerFacts
from certops.engine.lifecycle import (
    CertificationState,
    LearnerState,
    Obligation,
    ObligationOutcome,
    ProductRules,
    Transition,
    evaluate,
)
from tests.engine.engine_builders import CLASSIC_2025, at, facts, period, product

CERTIFIED = CertificationState.CERTIFIED
SUSPENDED = CertificationState.SUSPENDED
REVOKED = CertificationState.REVOKED
C0 = at("2025-03-02T09:30:00")
INITIAL = Transition(C0, CERTIFIED, "completed WP-101 and WP-102 on 2025-03-02 (path classic)")


def owed(year: int, outcome: ObligationOutcome, **more: object) -> Obligation:
    return Obligation(
        period=str(year),
        course=f"MOC-WP-{year}",
        opens_at=at(f"{year}-01-01"),
        deadline=more.pop("deadline", at(f"{year + 1}-01-01")),  # type: ignore[arg-type]
        outcome=outcome,
        **more,  # type: ignore[arg-type]
    )


# -- rule 1: initial certification ---------------------------------------------------------


def test_never_certified_when_no_path_is_complete() -> None:
    state = evaluate(product(), facts(completions={"WP-101": "2025-03-01"}), at("2027-06-01"))
    assert state == LearnerState("jdoe", "widget-pro", CertificationState.NEVER)
    assert state.reason == ""


def test_initial_certification_is_the_last_course_of_the_path() -> None:
    state = evaluate(product(), facts(completions=CLASSIC_2025), at("2025-06-01"))
    assert state == LearnerState(
        "jdoe", "widget-pro", CERTIFIED, since=C0, path="classic", certified_at=C0,
        history=(INITIAL,),
    )  # fmt: skip
    assert state.reason == INITIAL.reason


def test_two_paths_completed_at_different_times_the_earliest_certifies() -> None:
    early_exam = facts(completions={**CLASSIC_2025, "WP-EXAM": "2025-02-01T08:00:00"})
    state = evaluate(product(), early_exam, at("2025-06-01"))
    assert (state.path, state.certified_at) == ("exam", at("2025-02-01T08:00:00"))
    assert state.history[0].reason == "completed WP-EXAM on 2025-02-01 (path exam)"

    late_exam = facts(completions={**CLASSIC_2025, "WP-EXAM": "2025-04-01"})
    state = evaluate(product(), late_exam, at("2025-06-01"))
    assert (state.path, state.certified_at) == ("classic", C0)


def test_certified_by_both_paths_at_once_the_first_path_in_config_order_names_it() -> None:
    both = facts(completions={**CLASSIC_2025, "WP-EXAM": "2025-03-02T09:30:00"})
    assert evaluate(product(), both, at("2025-06-01")).path == "classic"
    reordered = product(
        paths=(InitialPath("exam", ("WP-EXAM",)), InitialPath("classic", ("WP-101", "WP-102")))
    )
    assert evaluate(reordered, both, at("2025-06-01")).path == "exam"


def test_evidence_after_t_is_ignored_and_certification_at_t_counts() -> None:
    learner = facts(completions=CLASSIC_2025)
    before = evaluate(product(), learner, at("2025-03-02T09:29:59"))
    assert before.state is CertificationState.NEVER
    assert evaluate(product(), learner, C0).state is CERTIFIED


# -- rules 2-5: periods, owing, meeting, lapse -----------------------------------------------


def test_a_period_is_owed_from_its_opening_not_before() -> None:
    learner = facts(completions=CLASSIC_2025)
    eve = evaluate(product(), learner, at("2025-12-31T23:59:59"))
    assert (eve.owes, eve.deadline, eve.obligations) == (None, None, ())
    state = evaluate(product(), learner, at("2026-01-01"))
    assert (state.owes, state.deadline) == ("2026", at("2027-01-01"))
    assert state.obligations == (owed(2026, ObligationOutcome.OUTSTANDING),)


def test_completion_one_second_before_the_deadline_meets_the_period() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2026-12-31T23:59:59"})
    state = evaluate(product(), learner, at("2027-01-02"))
    assert (state.state, state.since) == (CERTIFIED, C0)
    assert (state.owes, state.deadline) == ("2027", at("2028-01-01"))
    assert state.obligations == (
        owed(2026, ObligationOutcome.MET, met_at=at("2026-12-31T23:59:59")),
        owed(2027, ObligationOutcome.OUTSTANDING),
    )
    assert state.history == (
        INITIAL,
        Transition(
            at("2026-12-31T23:59:59"), CERTIFIED, "completed MOC-WP-2026 on 2026-12-31", note=True
        ),
    )


def test_completion_exactly_at_the_deadline_does_not_count_and_the_learner_lapses() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-01T00:00:00"})
    state = evaluate(product(), learner, at("2027-01-02"))
    assert (state.state, state.since, state.owes) == (SUSPENDED, at("2027-01-01"), None)
    assert state.reason == "did not complete MOC-WP-2026 by 2026-12-31 (UTC)"
    assert state.obligations == (owed(2026, ObligationOutcome.LAPSED),)
    # late_completion: manual -> noted, not reinstated; a person decides
    late = "completed MOC-WP-2026 late on 2027-01-01 (late_completion: manual)"
    assert state.history == (
        INITIAL,
        Transition(at("2027-01-01"), SUSPENDED, state.reason),
        Transition(at("2027-01-01"), SUSPENDED, late, note=True),
    )
    assert state.needs_review == (
        f"{late}: add a reinstatement to the config to restore the certification"
    )


def test_a_lapsed_learner_owes_no_later_period() -> None:
    state = evaluate(product(), facts(completions=CLASSIC_2025), at("2028-06-01"))
    assert (state.state, state.since, state.owes) == (SUSPENDED, at("2027-01-01"), None)
    assert state.obligations == (owed(2026, ObligationOutcome.LAPSED),)


def test_a_period_completed_before_it_opens_is_met_when_it_opens() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2025-12-20"})
    state = evaluate(product(), learner, at("2026-02-01"))
    assert (state.owes, state.obligations) == (
        None,
        (owed(2026, ObligationOutcome.MET, met_at=at("2025-12-20")),),
    )
    assert state.history[-1] == Transition(
        at("2026-01-01"), CERTIFIED, "completed MOC-WP-2026 on 2025-12-20", note=True
    )


def test_certified_inside_a_window_owes_that_period_from_c0() -> None:
    learner = facts(completions={"WP-EXAM": "2026-06-01T12:00:00"})
    assert evaluate(product(), learner, at("2026-06-01T11:59:59")).owes is None
    state = evaluate(product(), learner, at("2026-06-01T12:00:00"))
    assert (state.owes, state.obligations) == ("2026", (owed(2026, ObligationOutcome.OUTSTANDING),))


def test_no_period_is_owed_in_a_gap_between_periods() -> None:
    periods = (
        period(2026, due=date(2026, 6, 30)),
        period(2027, opens=date(2026, 9, 1), due=date(2027, 6, 30)),
    )
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2026-05-01"})
    gap = evaluate(product(periods=periods), learner, at("2026-08-01"))
    assert (gap.state, gap.owes) == (CERTIFIED, None)
    later = evaluate(product(periods=periods), learner, at("2026-09-01"))
    assert (later.owes, later.deadline) == ("2027", at("2027-07-01"))


# -- extensions --------------------------------------------------------------------------------

LEAVE = Extension("jdoe", "2026", date(2027, 1, 31), "parental leave")


def test_extension_moves_the_deadline_and_holds_the_next_period_back() -> None:
    extended = product(extensions=(LEAVE,))
    state = evaluate(extended, facts(completions=CLASSIC_2025), at("2027-01-15"))
    assert (state.state, state.owes, state.deadline) == (CERTIFIED, "2026", at("2027-02-01"))
    assert state.obligations == (
        owed(2026, ObligationOutcome.OUTSTANDING, deadline=at("2027-02-01"),
             extension="parental leave"),
    )  # fmt: skip
    assert state.history[-1] == Transition(
        at("2027-01-01"), CERTIFIED, "extension until 2027-01-31: parental leave", note=True
    )
    # lapses at the extended deadline, with the extended date in the reason
    lapsed = evaluate(extended, facts(completions=CLASSIC_2025), at("2027-02-01"))
    assert (lapsed.state, lapsed.since) == (SUSPENDED, at("2027-02-01"))
    assert lapsed.reason == "did not complete MOC-WP-2026 by 2027-01-31 (UTC)"


def test_meeting_an_extended_period_late_then_owes_the_current_one() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-20"})
    state = evaluate(product(extensions=(LEAVE,)), learner, at("2027-01-25"))
    assert (state.state, state.owes, state.deadline) == (CERTIFIED, "2027", at("2028-01-01"))
    assert [(o.period, o.outcome) for o in state.obligations] == [
        ("2026", ObligationOutcome.MET),
        ("2027", ObligationOutcome.OUTSTANDING),
    ]


def test_an_extension_unused_before_the_original_deadline_is_not_noted() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2026-06-01"})
    state = evaluate(product(extensions=(LEAVE,)), learner, at("2027-06-01"))
    assert not any("extension" in h.reason for h in state.history)
    assert state.obligations[0].deadline == at("2027-02-01")


def test_a_window_that_ends_while_an_extended_period_is_worked_on_is_not_owed() -> None:
    long_leave = Extension("jdoe", "2026", date(2028, 1, 31), "long leave")
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2028-01-15"})
    state = evaluate(product(extensions=(long_leave,)), learner, at("2028-02-01"))
    assert [(o.period, o.outcome) for o in state.obligations] == [
        ("2026", ObligationOutcome.MET),
        ("2028", ObligationOutcome.OUTSTANDING),
    ]


def test_the_latest_of_several_extensions_wins_whatever_their_order() -> None:
    short = Extension("jdoe", "2026", date(2027, 1, 15), "a")
    for exts in ((short, LEAVE), (LEAVE, short)):
        state = evaluate(
            product(extensions=exts), facts(completions=CLASSIC_2025), at("2026-06-01")
        )
        assert state.deadline == at("2027-02-01")


# -- grace -------------------------------------------------------------------------------------


def test_grace_exempts_a_new_learner_who_then_owes_the_next_period() -> None:
    learner = facts(completions={"WP-EXAM": "2026-11-01"})
    graced = product(grace=90)
    state = evaluate(graced, learner, at("2026-12-15"))
    assert (state.state, state.owes, state.obligations) == (CERTIFIED, None, ())
    assert state.history[-1] == Transition(
        at("2026-11-01"),
        CERTIFIED,
        "certified fewer than 90 days before 2026-12-31: exempt from 2026",
        note=True,
    )
    state = evaluate(graced, learner, at("2027-01-01"))
    assert (state.owes, state.deadline) == ("2027", at("2028-01-01"))
    # and lapses from 2027, not 2026
    assert evaluate(graced, learner, at("2028-01-01")).reason == (
        "did not complete MOC-WP-2027 by 2027-12-31 (UTC)"
    )


def test_grace_boundary_is_exactly_the_number_of_days_before_the_deadline() -> None:
    graced = product(grace=90)
    on_time = facts(completions={"WP-EXAM": "2026-10-03T00:00:00"})  # 2027-01-01 - 90 days
    assert evaluate(graced, on_time, at("2026-11-01")).owes == "2026"
    one_second_late = facts(completions={"WP-EXAM": "2026-10-03T00:00:01"})
    assert evaluate(graced, one_second_late, at("2026-11-01")).owes is None


# -- rule 6: reinstatement -------------------------------------------------------------------


def test_late_completion_reinstates_with_reinstate_and_owes_the_current_period() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-15"})
    state = evaluate(product(late=LateCompletion.REINSTATE, grace=90), learner, at("2027-02-01"))
    assert (state.state, state.since) == (CERTIFIED, at("2027-01-15"))
    assert state.reason == "completed MOC-WP-2026 late on 2027-01-15 (late_completion: reinstate)"
    assert (state.owes, state.deadline, state.needs_review) == ("2027", at("2028-01-01"), None)
    assert [h.state for h in state.history if not h.note] == [CERTIFIED, SUSPENDED, CERTIFIED]
    assert [(o.period, o.outcome) for o in state.obligations] == [
        ("2026", ObligationOutcome.LAPSED),
        ("2027", ObligationOutcome.OUTSTANDING),
    ]


def test_late_completion_with_manual_does_not_reinstate() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-15"})
    state = evaluate(product(late=LateCompletion.MANUAL), learner, at("2027-02-01"))
    assert (state.state, state.since, state.owes) == (SUSPENDED, at("2027-01-01"), None)
    assert state.needs_review is not None and "late on 2027-01-15" in state.needs_review


def test_reinstated_close_to_the_next_deadline_is_exempt_from_it() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-11-01"})
    graced = product(late=LateCompletion.REINSTATE, grace=90)
    state = evaluate(graced, learner, at("2027-12-01"))
    assert (state.state, state.since, state.owes) == (CERTIFIED, at("2027-11-01"), None)
    assert state.history[-1].reason == (
        "certified fewer than 90 days before 2027-12-31: exempt from 2027"
    )
    assert evaluate(graced, learner, at("2028-01-01")).owes == "2028"


FEE = Reinstatement("jdoe", at("2027-02-10"), "fee paid, invoice 1234")


def test_configured_reinstatement_restores_a_lapsed_learner() -> None:
    reinstated = product(reinstatements=(FEE,))
    learner = facts(completions=CLASSIC_2025)
    assert evaluate(reinstated, learner, at("2027-02-09")).state is SUSPENDED
    state = evaluate(reinstated, learner, at("2027-03-01"))
    assert (state.state, state.since, state.reason) == (
        CERTIFIED,
        at("2027-02-10"),
        "reinstated: fee paid, invoice 1234",
    )
    assert (state.owes, state.deadline) == ("2027", at("2028-01-01"))
    # a later configured reinstatement also clears a manual late completion's review
    late = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-15"})
    assert evaluate(reinstated, late, at("2027-03-01")).needs_review is None


def test_a_reinstatement_while_certified_changes_nothing() -> None:
    early = Reinstatement("jdoe", at("2026-06-01"), "by mistake")
    learner = facts(completions=CLASSIC_2025)
    assert evaluate(product(reinstatements=(early,)), learner, at("2027-06-01")) == evaluate(
        product(), learner, at("2027-06-01")
    )


def test_reinstatements_and_revocations_before_c0_are_ignored() -> None:
    config = product(
        reinstatements=(Reinstatement("jdoe", at("2024-01-01"), "x"),),
        revocations=(Revocation("jdoe", at("2024-06-01"), "y"),),
    )
    state = evaluate(config, facts(completions=CLASSIC_2025), at("2025-06-01"))
    assert (state.state, state.history) == (CERTIFIED, (INITIAL,))


# -- rule 7: revocation ------------------------------------------------------------------------

MISCONDUCT = Revocation("jdoe", at("2026-06-01"), "misconduct")


def test_revocation_ends_certification_and_the_outstanding_obligation() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-15"})
    revoked = product(revocations=(MISCONDUCT,), late=LateCompletion.REINSTATE)
    state = evaluate(revoked, learner, at("2027-06-01"))
    assert (state.state, state.since, state.reason) == (
        REVOKED,
        at("2026-06-01"),
        "revoked: misconduct",
    )
    # no lapse afterwards and the late completion does not reinstate a revoked learner
    assert [h.state for h in state.history] == [CERTIFIED, REVOKED]
    assert state.obligations == (owed(2026, ObligationOutcome.REVOKED),)
    assert state.owes is None


def test_revocation_of_a_lapsed_learner_blocks_late_completion() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-15"})
    config = product(
        revocations=(Revocation("jdoe", at("2027-01-10"), "misconduct"),),
        late=LateCompletion.REINSTATE,
    )
    state = evaluate(config, learner, at("2027-06-01"))
    assert [h.state for h in state.history] == [CERTIFIED, SUSPENDED, REVOKED]


def test_only_a_later_configured_reinstatement_undoes_a_revocation() -> None:
    back = Reinstatement("jdoe", at("2026-08-01"), "appeal upheld")
    state = evaluate(
        product(revocations=(MISCONDUCT,), reinstatements=(back,)),
        facts(completions=CLASSIC_2025),
        at("2026-09-01"),
    )
    assert (state.state, state.since, state.reason) == (
        CERTIFIED,
        at("2026-08-01"),
        "reinstated: appeal upheld",
    )
    # the period interrupted by the revocation is owed again: one record, not two
    assert (state.owes, state.obligations) == ("2026", (owed(2026, ObligationOutcome.OUTSTANDING),))

    same_instant = Reinstatement("jdoe", MISCONDUCT.at, "same time")
    state = evaluate(
        product(revocations=(MISCONDUCT,), reinstatements=(same_instant,)),
        facts(completions=CLASSIC_2025),
        at("2026-09-01"),
    )
    assert state.state is REVOKED


# -- dates ------------------------------------------------------------------------------------


def test_a_leap_day_due_date() -> None:
    leap = (period(2028, opens=date(2027, 3, 1), due=date(2028, 2, 29)),)
    config = product(periods=leap, grace=90)
    learner = facts(completions=CLASSIC_2025)
    state = evaluate(config, learner, at("2028-02-29T12:00:00"))
    assert (state.owes, state.deadline) == ("2028", at("2028-03-01"))
    assert state.obligations[0].opens_at == at("2027-03-01")

    met = facts(completions={**CLASSIC_2025, "MOC-WP-2028": "2028-02-29T23:59:59"})
    assert evaluate(config, met, at("2028-03-02")).state is CERTIFIED
    lapsed = evaluate(config, learner, at("2028-03-01"))
    assert (lapsed.state, lapsed.reason) == (
        SUSPENDED,
        "did not complete MOC-WP-2028 by 2028-02-29 (UTC)",
    )
    # grace counts back from 2028-03-01: 90 days is 2027-12-02
    assert evaluate(
        config, facts(completions={"WP-EXAM": "2027-12-02"}), at("2028-01-01")
    ).owes == ("2028")
    newcomer = facts(completions={"WP-EXAM": "2027-12-02T00:00:01"})
    assert evaluate(config, newcomer, at("2028-01-01")).history[-1].reason == (
        "certified fewer than 90 days before 2028-02-29: exempt from 2028"
    )


# -- inputs -----------------------------------------------------------------------------------


def test_an_instant_without_a_timezone_is_rejected_with_a_message() -> None:
    with pytest.raises(FactsError, match="t must be a timezone-aware instant"):
        evaluate(product(), facts(completions=CLASSIC_2025), at("2026-01-01").replace(tzinfo=None))
    with pytest.raises(FactsError, match="completion of 'WP-101' must be a timezone-aware"):
        LearnerFacts("jdoe", 1, True, {"WP-101": at("2025-01-01").replace(tzinfo=None)})


def test_rules_built_for_another_product_are_not_used() -> None:
    revoked = product(revocations=(MISCONDUCT,))
    stale = ProductRules.of(product())
    state = evaluate(revoked, facts(completions=CLASSIC_2025), at("2026-07-01"), rules=stale)
    assert state.state is REVOKED


def test_a_completion_at_the_deadline_with_reinstate_lapses_and_reinstates_at_once() -> None:
    learner = facts(completions={**CLASSIC_2025, "MOC-WP-2026": "2027-01-01T00:00:00"})
    state = evaluate(product(late=LateCompletion.REINSTATE), learner, at("2027-01-01"))
    assert (state.state, state.since, state.owes) == (CERTIFIED, at("2027-01-01"), "2027")
    assert [(h.at, h.state) for h in state.history] == [
        (C0, CERTIFIED),
        (at("2027-01-01"), SUSPENDED),
        (at("2027-01-01"), CERTIFIED),
    ]
    assert state.obligations[0].outcome is ObligationOutcome.LAPSED


def test_a_configured_reinstatement_at_the_lapse_instant_applies() -> None:
    config = product(reinstatements=(Reinstatement("jdoe", at("2027-01-01"), ""),))
    state = evaluate(config, facts(completions=CLASSIC_2025), at("2027-01-01"))
    assert (state.state, state.reason, state.owes) == (CERTIFIED, "reinstated", "2027")


def test_a_second_revocation_while_revoked_changes_nothing() -> None:
    twice = product(
        revocations=(MISCONDUCT, Revocation("jdoe", at("2026-07-01"), "again")),
    )
    state = evaluate(twice, facts(completions=CLASSIC_2025), at("2026-08-01"))
    assert (state.since, state.reason) == (at("2026-06-01"), "revoked: misconduct")
    assert [h.state for h in state.history] == [CERTIFIED, REVOKED]


def test_an_extension_of_an_unknown_period_is_ignored() -> None:
    config = product(extensions=(Extension("jdoe", "1999", date(2030, 1, 1), "typo"),))
    state = evaluate(config, facts(completions=CLASSIC_2025), at("2026-06-01"))
    assert (state.deadline, state.obligations[0].extension) == (at("2027-01-01"), None)
