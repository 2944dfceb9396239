"""What the data says about rules Docebo does not store, and the exceptions it holds. Pure.

Two things an imported product needs are not settings of any Docebo object:

- the maintenance rules (``new_learner_grace_days``, ``late_completion``). They decide who
  owes which period, so they are inferred: each candidate is evaluated with the lifecycle
  engine over the live data, and the one that explains the LMS best wins (fewest changes
  a plan would make, each of which would otherwise need an exception, plus maintenance
  enrollments nobody owes; ties go to the smaller grace, then to ``manual``, the
  defaults);
- the decisions certops carried out from an earlier configuration (a revocation, a
  reinstatement): their reasons live only in certops' audit log, and after a rollover a
  revocation looks like a lapse in the data, so they are taken from the log;
- the exceptions an admin granted by hand. Where the LMS differs from what the rules give,
  import writes the entry that explains it, with the instant from the data and a reason
  saying it was imported and must be confirmed: a certified status the rules do not give
  (set completed after the rules suspended the learner) becomes a reinstatement, a
  suspension the rules never made becomes a revocation (at the import's instant: Docebo
  does not say when), and a maintenance enrollment valid past the period's due date
  becomes an extension to that date. These are the engine's own "set by hand?" marks, so
  a plan right after the import finds none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from certops.config.model import (
    Extension,
    LateCompletion,
    Product,
    Reinstatement,
    Revocation,
    due_day,
)
from certops.engine.enrollments import CREATED_BY_THIS_APPLY, EnrollmentPlan, plan_enrollments
from certops.engine.facts import LearnerFacts
from certops.history import StatusWrite
from certops.plan.jsonio import iso_utc, parse_iso_utc
from certops.plan.model import Action, ChangeType

GRACE_CANDIDATES = (0, 30, 60, 90, 120, 180)
ROUNDS = 4  # exceptions can reveal others (an extension keeps a learner certified)


@dataclass(frozen=True, slots=True)
class Inferred:
    """A product with its inferred rules and imported exceptions, and how well it fits:
    ``remaining`` is the number of learner changes a plan at the same instant would still
    make (lifecycle changes that are really due, or differences nothing can explain)."""

    product: Product
    remaining: int
    unowed: int  # maintenance enrollments of learners the rules say do not owe the period


def reason(day: date, what: str) -> str:
    """The reason of an imported exception: ``imported 2026-12-01: WHAT; confirm``."""
    return f"imported {day.isoformat()}: {what}; confirm"


def with_decisions(
    product: Product, writes: Iterable[StatusWrite], facts: Sequence[LearnerFacts], day: date
) -> Product:
    """``product`` with the revocations and reinstatements certops itself carried out (its
    audit log's last status write of a learner's certified course, with the plan's reason)
    that the LMS still shows. No LMS holds the reason of a status, and after a rollover a
    revocation looks like a lapse: the log is the only place where either survives. The
    instant is the one the applying plan evaluated (the decision's own is at or before
    it)."""
    code = product.certified_course.code
    held = {f.username: f.enrollments.get(code) for f in facts}
    reinstatements: list[Reinstatement] = []
    revocations: list[Revocation] = []
    for write in writes:
        live = held.get(write.user)
        if write.course != code or live is None or live.status.value != write.status:
            continue  # another course, or the LMS changed since: the data says the rest
        said = write.reason.removesuffix(CREATED_BY_THIS_APPLY)
        text = reason(
            day, f"{said} (certops applied it at {iso_utc(write.at)}; from its audit log)"
        )
        if write.status == "suspended" and _decision(said, "revoked"):
            revocations.append(Revocation(write.user, write.at, text))
        elif write.status == "completed" and _decision(said, "reinstated"):
            reinstatements.append(Reinstatement(write.user, write.at, text))
    if not (reinstatements or revocations):
        return product
    return replace(
        product,
        reinstatements=(*product.reinstatements, *reinstatements),
        revocations=(*product.revocations, *revocations),
    )


def _decision(text: str, word: str) -> bool:
    """Whether a plan's reason is the lifecycle's word for a configured decision
    (``revoked: misconduct``, ``reinstated``), not a rule's (a lapse, a late completion)."""
    return text == word or text.startswith(word + ": ")


def _unowed(product: Product, plan: EnrollmentPlan, facts: Sequence[LearnerFacts]) -> int:
    periods = {p.course.code: p.id for p in product.maintenance.periods}
    owed = {s.username: {o.period for o in s.obligations} for s in plan.states}
    count = 0
    for learner in facts:
        for code in learner.enrollments:
            period = periods.get(code)
            if period is not None and period not in owed.get(learner.username, set()):
                count += 1
    return count


def with_exceptions(
    product: Product,
    facts: Sequence[LearnerFacts],
    course_ids: Mapping[str, int | None],
    t: datetime,
) -> Inferred:
    """``product`` with the exceptions that explain the live data at ``t`` added."""
    day = t.date()
    for _ in range(ROUNDS):
        plan = plan_enrollments(product, facts, course_ids, t)
        reinstatements: list[Reinstatement] = []
        revocations: list[Revocation] = []
        for mark in plan.by_hand:
            at = parse_iso_utc(str(mark.entry["at"]))
            if mark.add_to == "reinstatements":
                reinstatements.append(
                    Reinstatement(mark.user, at, reason(day, "reinstated by hand"))
                )
            else:
                revocations.append(Revocation(mark.user, at, reason(day, "suspended by hand")))
        extensions: list[Extension] = []
        periods = {p.course.code: p for p in product.maintenance.periods}
        for change in plan.changes:
            if change.type is not ChangeType.ENROLLMENT or change.action is not Action.UPDATE:
                continue
            code, user = change.target.course, change.target.user
            period = periods.get(code)
            live, rule = change.before.get("valid_until"), change.after.get("valid_until")
            if period is None or live is None or rule is None or live <= rule:
                continue
            until = due_day(live)
            extensions.append(
                Extension(
                    user,
                    period.id,
                    until,
                    reason(day, f"deadline moved by hand to {until.isoformat()}"),
                )
            )
        if not (reinstatements or revocations or extensions):
            break
        product = replace(
            product,
            extensions=(*product.extensions, *extensions),
            reinstatements=(*product.reinstatements, *reinstatements),
            revocations=(*product.revocations, *revocations),
        )
    plan = plan_enrollments(product, facts, course_ids, t)
    return Inferred(product, len(plan.changes), _unowed(product, plan, facts))


def infer_rules(
    product: Product,
    facts: Sequence[LearnerFacts],
    course_ids: Mapping[str, int | None],
    t: datetime,
) -> Inferred:
    """The maintenance rules and exceptions that explain the live data best (see the
    module docstring)."""
    best: tuple[int, Product] | None = None
    for grace in GRACE_CANDIDATES:
        for late in (LateCompletion.MANUAL, LateCompletion.REINSTATE):
            maintenance = replace(
                product.maintenance, new_learner_grace_days=grace, late_completion=late
            )
            candidate = replace(product, maintenance=maintenance)
            # One plan per candidate: a difference an exception would explain is one
            # change here, as it would be one exception, so the ranking is the same as
            # with the exceptions added (done once, for the winner).
            plan = plan_enrollments(candidate, facts, course_ids, t)
            score = len(plan.changes) + _unowed(candidate, plan, facts)
            # Candidates are tried smallest grace first, manual first: a tie keeps those.
            if best is None or score < best[0]:
                best = (score, candidate)
    assert best is not None
    return with_exceptions(best[1], facts, course_ids, t)
