"""Exceptions that change nothing for the learner they name. Pure.

An extension, a reinstatement or a revocation is a decision about one learner; one that
cannot affect its learner is almost always a mistake (the wrong product, the wrong
period, a reinstatement of someone who was never suspended), and silently accepting it
hides the mistake until it matters. The plan warns about each, from the learners' states
at ``t`` (what the LMS holds then):

- any exception of a learner who has not completed an initial path of the product
  (nothing applies to someone never certified);
- an extension of a period the learner completed before its deadline, of a period that
  is over without the learner having owed it, or one no later than the whole period's
  own extension;
- a reinstatement or revocation dated at or before ``t`` that the learner's history does
  not show taking effect (reinstated while certified, revoked while already revoked or
  before being certified).

An exception dated after ``t`` is judged when its day comes: before then it cannot be
told apart from one that will matter.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from certops.config.model import Product, RefKind
from certops.engine.lifecycle import CertificationState, LearnerState, ObligationOutcome


@dataclass(frozen=True, slots=True)
class IdleException:
    """One exception that changes nothing: the ``index``-th entry of the product's list of
    ``kind`` (extensions, reinstatements or revocations, in configuration order), and why."""

    kind: RefKind
    index: int
    user: str
    why: str


def idle_exceptions(
    product: Product,
    states: Iterable[LearnerState],
    t: datetime,
    skip: Collection[str] = (),
) -> list[IdleException]:
    """The exceptions of ``product`` (usernames, e-mail addresses already resolved) that
    change nothing for their learner at ``t``. ``states`` holds the state at ``t`` of every
    learner with an enrollment in the product's courses; learners in ``skip`` are left out
    (another warning already speaks of them, e.g. a deactivated user with no enrollment)."""
    by_user = {state.username: state for state in states}
    found: list[IdleException] = []

    def never(user: str) -> bool:
        state = by_user.get(user)
        return state is None or state.state is CertificationState.NEVER

    for i, ext in enumerate(product.extensions):
        if ext.user in skip:
            continue
        if never(ext.user):
            why: str | None = _never(product)
        else:
            why = _idle_extension(product, by_user[ext.user], ext.period, ext.until, t)
        if why:
            found.append(IdleException(RefKind.EXTENSION, i, ext.user, why))
    for i, rein in enumerate(product.reinstatements):
        if rein.user in skip or rein.at > t:
            continue
        if never(rein.user):
            found.append(IdleException(RefKind.REINSTATEMENT, i, rein.user, _never(product)))
        elif not _took_effect(by_user[rein.user], rein.at, CertificationState.CERTIFIED):
            found.append(
                IdleException(
                    RefKind.REINSTATEMENT,
                    i,
                    rein.user,
                    "the learner was neither suspended nor revoked when it applies",
                )
            )
    for i, rev in enumerate(product.revocations):
        if rev.user in skip or rev.at > t:
            continue
        if never(rev.user):
            found.append(IdleException(RefKind.REVOCATION, i, rev.user, _never(product)))
        elif not _took_effect(by_user[rev.user], rev.at, CertificationState.REVOKED):
            found.append(
                IdleException(
                    RefKind.REVOCATION,
                    i,
                    rev.user,
                    "the learner was not certified yet, or already revoked, when it applies",
                )
            )
    return found


def _never(product: Product) -> str:
    return f"the learner has not completed an initial path of {product.name}"


def _idle_extension(
    product: Product, state: LearnerState, period_id: str, until: date, t: datetime
) -> str | None:
    period = product.period(period_id)
    if period is None:
        return None  # the configuration checks report it
    if period.extension is not None and until <= period.last_day:
        return f"the whole period {period_id} is extended to {period.last_day.isoformat()} already"
    owed = [ob for ob in state.obligations if ob.period == period_id]
    for ob in owed:
        if (
            ob.outcome is ObligationOutcome.MET
            and ob.met_at is not None
            and ob.met_at < period.deadline
        ):
            return (
                f"the learner completed {ob.course} on {ob.met_at.date().isoformat()}, "
                f"before the period's deadline"
            )
    if not owed and t >= period.deadline:
        return f"the learner did not owe period {period_id}"
    return None


def _took_effect(state: LearnerState, at: datetime, into: CertificationState) -> bool:
    """Whether ``state``'s history changes into ``into`` at ``at`` (a reinstatement or a
    revocation taking effect)."""
    return any(
        not entry.note and entry.at == at and entry.state is into for entry in state.history[1:]
    )
