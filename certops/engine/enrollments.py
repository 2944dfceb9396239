"""Desired enrollments at instant ``t`` (docs/lifecycle.md, the desired LMS state).

``plan_enrollments`` evaluates every learner of a product and compares what the LMS holds
with what the lifecycle asks for:

- the certified course: ``completed`` while certified, ``suspended`` otherwise, for every
  learner with ``c0 <= t``;
- each owed period's maintenance course: an enrollment whose validity is
  ``[opens_k, d_k(u))``. Only validity is ever changed there, never the status (a learner's
  progress is theirs);
- deactivated learners: existing enrollments are updated, missing ones are reported as
  ``Skip`` instead of created;
- a certified enrollment that says ``completed`` without initial-path evidence is a
  ``PlanWarning``, never a change.

Choices where the contract is silent:

- ``valid_until`` in a change is the *exclusive* instant ``D+1 00:00:00Z`` (the records'
  convention); the client writes it to Docebo as ``D 23:59:59``.
- A change's write carries the learner's and the course's LMS ids; a course the same
  apply creates has none yet (``course_id`` None, filled in when it is created).
- A maintenance enrollment is wanted for every period in ``LearnerState.obligations``,
  including ones that already lapsed or were interrupted by a revocation: the contract
  says every learner who owed the period has its enrollment, and it keeps training history
  complete. A learner who only ever owed nothing gets none.
- Changes are ordered by course (the certified course, then periods in config order), then
  username; skips likewise; warnings by username.
- "Suspensions" for the safety limit are certified enrollments that are ``completed`` in
  the LMS now and that this plan sets to ``suspended``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from certops.config.model import Product
from certops.engine.facts import FactsError, LearnerFacts
from certops.engine.handmade import explained_users, hand_made
from certops.engine.lifecycle import (
    CertificationState,
    LearnerState,
    Obligation,
    ObligationOutcome,
    ProductRules,
    evaluate,
)
from certops.instants import due_day, format_instant_seconds
from certops.plan.model import (
    Action,
    ByHand,
    Change,
    ChangeType,
    EnrollmentWrite,
    PlanWarning,
    Skip,
    enrollment_target,
)
from certops.records import Enrollment, EnrollmentStatus


@dataclass(frozen=True, slots=True)
class PeriodProgress:
    """How far the learners who owe one period are at ``t``, for deadline warnings.

    ``owed`` counts learners whose obligation for the period is met or outstanding at
    ``t`` (a revoked certification owes nothing any more). Of the outstanding ones,
    ``in_progress`` have started the period's course in the LMS (status in progress, or
    completed after ``t`` when planning a past instant) and ``not_started`` have not (no
    enrollment, or enrolled); ``extended`` have an extension past the period's due date.
    """

    period: str
    owed: int = 0
    completed: int = 0
    in_progress: int = 0
    not_started: int = 0
    extended: int = 0

    @property
    def not_completed(self) -> int:
        return self.in_progress + self.not_started


@dataclass(frozen=True, slots=True)
class EnrollmentPlan:
    """The enrollment part of one product's plan, and the states it was derived from."""

    product: str
    changes: tuple[Change, ...]
    skipped: tuple[Skip, ...]
    warnings: tuple[PlanWarning, ...]
    states: tuple[LearnerState, ...]  # one per learner, sorted by username
    currently_certified: int  # certified-course enrollments `completed` in the LMS now
    suspensions: int  # of those, how many this plan sets to `suspended`
    progress: tuple[PeriodProgress, ...] = ()  # per period that anyone owes, config order
    by_hand: tuple[ByHand, ...] = ()  # status changes that undo a hand-made status


def iso(instant: datetime) -> str:
    """``instant`` as ISO 8601 UTC with a ``Z`` suffix, to the second."""
    return format_instant_seconds(instant)


def _address(course: str, username: str) -> str:
    """The displayed address of a learner's enrollment (warnings and by-hand marks)."""
    return enrollment_target(course, username).address


def _obligation_reason(ob: Obligation) -> str:
    due = due_day(ob.deadline).isoformat()
    if ob.outcome is ObligationOutcome.OUTSTANDING:
        text = f"owes period {ob.period}: complete {ob.course} by {due} (UTC)"
    elif ob.outcome is ObligationOutcome.MET:
        met = ob.met_at.date().isoformat() if ob.met_at else "?"
        text = f"owed period {ob.period}: completed {ob.course} on {met}"
    elif ob.outcome is ObligationOutcome.LAPSED:
        text = f"owed period {ob.period}: did not complete {ob.course} by {due} (UTC)"
    else:
        text = f"owed period {ob.period} until the certification was revoked"
    if ob.extension is not None:
        text += f"; extension until {due}" + (f": {ob.extension}" if ob.extension else "")
    return text


# Added to the reason of an enrollment in a course the same apply creates.
CREATED_BY_THIS_APPLY = " (course created by this apply)"

# Live statuses of an outstanding obligation's course that mean the learner has started it
# (completed: after ``t``, when planning a past instant).
_STARTED = frozenset({EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.COMPLETED})


class _Planner:
    """Accumulates one product's changes; one instance per ``plan_enrollments`` call."""

    def __init__(self, product: Product, course_ids: Mapping[str, int | None], t: datetime) -> None:
        self.product = product
        self.t = t
        self.explained = explained_users(product)
        self.by_hand: list[ByHand] = []
        self.course_ids = course_ids
        self.rank = {product.certified_course.code: 0}
        for i, period in enumerate(product.maintenance.periods, start=1):
            self.rank.setdefault(period.course.code, i)
        self.changes: list[tuple[int, str, Change]] = []
        self.skipped: list[tuple[int, str, Skip]] = []
        self.warnings: list[tuple[str, PlanWarning]] = []
        self.currently_certified = 0
        self.suspensions = 0
        # period id -> [owed, completed, in progress, not started, extended]
        self.progress: dict[str, list[int]] = {p.id: [0] * 5 for p in product.maintenance.periods}
        self.due = {p.id: p.deadline for p in product.maintenance.periods}
        self._iso: dict[datetime, str] = {}  # the same few period instants, formatted once

    def iso(self, instant: datetime) -> str:
        text = self._iso.get(instant)
        if text is None:
            text = self._iso[instant] = iso(instant)
        return text

    def live(self, facts: LearnerFacts, code: str) -> Enrollment | None:
        # A course that does not exist yet (created by this apply) has no enrollments,
        # whatever a caller's facts claim.
        if self.course_ids.get(code) is None:
            return None
        return facts.enrollments.get(code)

    def _suffix(self, code: str) -> str:
        return CREATED_BY_THIS_APPLY if self.course_ids.get(code) is None else ""

    def create(self, facts: LearnerFacts, code: str, values: dict[str, Any], reason: str) -> None:
        """A new enrollment in ``code`` holding ``values`` (status, then completion or the
        validity window), or a skip for a deactivated learner."""
        target = enrollment_target(code, facts.username)
        rank = self.rank.get(code, len(self.rank))
        if not facts.active:
            skip = Skip(
                self.product.id,
                target,
                f"{facts.username} is deactivated: no new enrollment in {code} ({reason})",
            )
            self.skipped.append((rank, facts.username, skip))
            return
        change = Change(
            target=target,
            type=ChangeType.ENROLLMENT,
            action=Action.CREATE,
            product=self.product.id,
            write=EnrollmentWrite(facts.user_id, self.course_ids.get(code), **values),
            changed=tuple(values),
            reason=reason + self._suffix(code),
        )
        self.changes.append((rank, facts.username, change))

    def update(
        self,
        facts: LearnerFacts,
        code: str,
        live: Enrollment,
        before: dict[str, Any],
        after: dict[str, Any],
        reason: str,
    ) -> None:
        """Set the fields ``after`` names on the learner's enrollment ``live`` in ``code``
        (``before``: their live values)."""
        change = Change(
            target=enrollment_target(code, facts.username),
            type=ChangeType.ENROLLMENT,
            action=Action.UPDATE,
            product=self.product.id,
            write=EnrollmentWrite(facts.user_id, live.course_id, **after),
            changed=tuple(after),
            before=before,
            reason=reason,
        )
        self.changes.append((self.rank.get(code, len(self.rank)), facts.username, change))

    def warn(self, facts: LearnerFacts, code: str, message: str) -> None:
        warning = PlanWarning(self.product.id, message, _address(code, facts.username))
        self.warnings.append((facts.username, warning))

    def learner(self, facts: LearnerFacts, state: LearnerState) -> None:
        product = self.product
        code = product.certified_course.code
        cert = self.live(facts, code)
        if cert is not None and cert.status is EnrollmentStatus.COMPLETED:
            self.currently_certified += 1
        if state.state is CertificationState.NEVER:
            if cert is not None and cert.status is EnrollmentStatus.COMPLETED:
                paths = "; ".join(f"{p.name}: {', '.join(p.all_of)}" for p in product.initial_paths)
                self.warn(
                    facts,
                    code,
                    f"{facts.username}'s {code} enrollment is completed but no initial path "
                    f"is complete ({paths}); not changed",
                )
            return
        want = EnrollmentStatus.COMPLETED if state.certified else EnrollmentStatus.SUSPENDED
        if cert is None:
            values: dict[str, Any] = {"status": want}
            if state.certified and state.since is not None:
                # The LMS would otherwise record the day of the apply; Salesforce and
                # reports should show when the learner was actually certified.
                values["completed_at"] = state.since.replace(microsecond=0)
            self.create(facts, code, values, state.reason)
        elif cert.status is not want:
            if cert.status is EnrollmentStatus.COMPLETED:
                self.suspensions += 1
            address = _address(code, facts.username)
            mark = hand_made(product, cert, state, address, self.t, self.explained, self.iso)
            if mark is not None:
                self.by_hand.append(mark)
            self.update(facts, code, cert, {"status": cert.status}, {"status": want}, state.reason)
        for ob in state.obligations:
            self.maintenance(facts, ob)
            self.tally(facts, ob)
        if state.needs_review:
            self.warn(facts, code, f"{facts.username}: {state.needs_review}")

    def tally(self, facts: LearnerFacts, ob: Obligation) -> None:
        counts = self.progress.get(ob.period)
        if counts is None:
            return
        if ob.outcome is ObligationOutcome.MET:
            counts[0] += 1
            counts[1] += 1
        elif ob.outcome is ObligationOutcome.OUTSTANDING:
            counts[0] += 1
            live = self.live(facts, ob.course)
            started = live is not None and live.status in _STARTED
            counts[2 if started else 3] += 1
            if ob.deadline > self.due[ob.period]:
                counts[4] += 1

    def maintenance(self, facts: LearnerFacts, ob: Obligation) -> None:
        current = self.live(facts, ob.course)
        if current is None and ob.outcome is not ObligationOutcome.OUTSTANDING:
            # A period that is already closed (lapsed, or cut short by a revocation) gets no
            # new enrollment: it could not be taken any more, and Docebo would still send
            # the learner an enrollment notice for it.
            if ob.outcome is not ObligationOutcome.MET:
                skip = Skip(
                    self.product.id,
                    enrollment_target(ob.course, facts.username),
                    f"period {ob.period} is closed ({ob.outcome.value}); no enrollment created",
                )
                self.skipped.append(
                    (self.rank.get(ob.course, len(self.rank)), facts.username, skip)
                )
            return
        if current is None:
            new = {
                "status": EnrollmentStatus.ENROLLED,
                "valid_from": ob.opens_at,
                "valid_until": ob.deadline,
            }
            self.create(facts, ob.course, new, _obligation_reason(ob))
            return
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if current.valid_from != ob.opens_at:
            before["valid_from"] = current.valid_from
            after["valid_from"] = ob.opens_at
        if current.valid_until != ob.deadline:
            before["valid_until"] = current.valid_until
            after["valid_until"] = ob.deadline
        if after:
            self.update(facts, ob.course, current, before, after, _obligation_reason(ob))


def plan_enrollments(
    product: Product,
    facts: Iterable[LearnerFacts],
    course_ids: Mapping[str, int | None],
    t: datetime,
) -> EnrollmentPlan:
    """Evaluate every learner of ``product`` at ``t`` and plan their enrollment changes.

    ``facts`` must hold every learner enrolled in any course the product names (one entry
    per username); ``course_ids`` maps course codes to LMS ids, None (or absent) for a course
    the same apply will create. Returns an ``EnrollmentPlan`` with the ``enrollment``
    changes, skips, warnings, the per-learner states and the counts the safety limit needs.
    Raises ``FactsError`` for a username given twice or an instant without a timezone.
    """
    rules = ProductRules.of(product)
    planner = _Planner(product, course_ids, t)
    states: list[LearnerState] = []
    seen: set[str] = set()
    for learner in facts:
        if learner.username in seen:
            raise FactsError(
                f"product {product.id}: learner {learner.username!r} given twice; "
                "expected one LearnerFacts per username"
            )
        seen.add(learner.username)
        state = evaluate(product, learner, t, rules=rules)
        states.append(state)
        planner.learner(learner, state)

    def by_rank(item: tuple[int, str, Any]) -> tuple[int, str]:
        return item[0], item[1]

    states.sort(key=lambda s: s.username)
    return EnrollmentPlan(
        product=product.id,
        changes=tuple(c for *_, c in sorted(planner.changes, key=by_rank)),
        skipped=tuple(s for *_, s in sorted(planner.skipped, key=by_rank)),
        warnings=tuple(w for _, w in sorted(planner.warnings, key=lambda w: w[0])),
        states=tuple(states),
        currently_certified=planner.currently_certified,
        suspensions=planner.suspensions,
        progress=tuple(
            PeriodProgress(pid, *counts) for pid, counts in planner.progress.items() if counts[0]
        ),
        by_hand=tuple(sorted(planner.by_hand, key=lambda m: m.user)),
    )
