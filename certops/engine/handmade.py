"""Certified-course statuses set by hand: told apart from the lifecycle's own changes. Pure.

The configuration is the source of truth, so a plan always sets a learner's certified
course back to the rules' verdict. But an admin who reinstated or suspended someone by
hand in Docebo made a decision, and reverting it silently loses that decision. So a status
change is marked "set by hand?" when the LMS status is one the rules never gave for the
current state, and no configured exception names the learner:

- the LMS says ``completed`` but the rules stopped certifying at ``since`` (a lapse or a
  revocation) and the enrollment was completed *after* that instant: certops' own
  certification instants are never later than the state that ended them, so someone
  marked it completed afterwards. (Completed before ``since``: the status is just not yet
  updated for a lapse that is due now, an ordinary lifecycle change.)
- the LMS says ``suspended`` but the rules have certified the learner without a break
  since the initial path: certops never suspended them, so someone did.

A learner named by any extension, reinstatement or revocation of the product is
explained by the configuration (e.g. an extension added after certops suspended them).
Other statuses (``enrolled``, ``in_progress``) are not decisions and are never marked.
Each mark carries the entry to add to the configuration to make the hand-made status
official: a reinstatement at the instant the enrollment was completed, or a revocation at
the plan's instant (the LMS does not say when a status was suspended).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from certops.config.model import Product
from certops.engine.lifecycle import CertificationState, LearnerState
from certops.plan.model import ByHand
from certops.records import Enrollment, EnrollmentStatus

HAND_REASON = "set by hand in the LMS before {day}; confirm, and say why"


def explained_users(product: Product) -> frozenset[str]:
    """Usernames the product's configured exceptions name."""
    return (
        frozenset(e.user for e in product.extensions)
        | frozenset(r.user for r in product.reinstatements)
        | frozenset(r.user for r in product.revocations)
    )


def hand_made(
    product: Product,
    live: Enrollment,
    state: LearnerState,
    address: str,
    t: datetime,
    explained: frozenset[str],
    iso: Callable[[datetime], str],
) -> ByHand | None:
    """The mark of a certified-course status change that undoes a hand-made status, or
    None when the change is the lifecycle's own (or the configuration explains it).

    ``live`` is the learner's certified-course enrollment, ``state`` their state at ``t``;
    ``iso`` formats an instant the way the plan does."""
    # The reinstatement's instant: when it was marked completed; the revocation's: now.
    if state.username in explained:
        return None
    day = t.date().isoformat()
    if live.status is EnrollmentStatus.COMPLETED and not state.certified:
        done = live.completed_at
        if done is None or state.since is None or done <= state.since:
            return None
        return ByHand(
            product=product.id,
            address=address,
            user=state.username,
            lms_status=live.status.value,
            rules_status=state.state.value,
            rules_reason=state.reason,
            add_to="reinstatements",
            entry={"user": state.username, "at": iso(done), "reason": HAND_REASON.format(day=day)},
        )
    if live.status is EnrollmentStatus.SUSPENDED and state.certified:
        broken = any(
            not entry.note and entry.state is not CertificationState.CERTIFIED
            for entry in state.history
        )
        if broken:
            return None
        return ByHand(
            product=product.id,
            address=address,
            user=state.username,
            lms_status=live.status.value,
            rules_status=state.state.value,
            rules_reason=state.reason,
            add_to="revocations",
            entry={"user": state.username, "at": iso(t), "reason": HAND_REASON.format(day=day)},
        )
    return None


def entry_yaml(mark: ByHand) -> str:
    """The configuration entry of ``mark`` as one YAML flow mapping."""
    # JSON strings are YAML double-quoted scalars: safe for any username or reason.
    parts = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in mark.entry.items()]
    return "{" + ", ".join(parts) + "}"
