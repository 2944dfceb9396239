"""The plan records (docs/plan.md is the contract for their JSON form)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    MANUAL = "manual"


class ChangeClass(StrEnum):
    """Why a change is in the plan (the rules are in docs/change-classes.md).

    ``drift``: the LMS moved away from what certops set or from an unchanged
    configuration, with no time-driven reason (a hand edit); ``schedule``: due because
    time passed (a deadline, a period opening, a completion); ``config``: the YAML asks
    for something new."""

    DRIFT = "drift"
    SCHEDULE = "schedule"
    CONFIG = "config"


class ChangeType(StrEnum):
    COURSE = "course"
    CATALOG = "catalog"
    CATALOG_ITEM = "catalog_item"
    GROUP = "group"
    ENROLLMENT = "enrollment"
    ENROLLMENT_RULE = "enrollment_rule"
    NOTIFICATION = "notification"


# Dependencies first (section 5): courses, then catalogs, catalog items and groups,
# then enrollments; manual steps last, since they name objects the others create.
TYPE_ORDER: dict[ChangeType, int] = {
    ChangeType.COURSE: 0,
    ChangeType.CATALOG: 1,
    ChangeType.CATALOG_ITEM: 2,
    ChangeType.GROUP: 3,
    ChangeType.ENROLLMENT: 4,
    ChangeType.ENROLLMENT_RULE: 5,
    ChangeType.NOTIFICATION: 6,
}


@dataclass(frozen=True, slots=True)
class Change:
    """One change. ``before``/``after`` hold only the fields that change (JSON-able values:
    str, int, float, bool, None, lists; instants as ISO 8601 UTC strings)."""

    address: str
    type: ChangeType
    action: Action
    product: str | None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    steps: tuple[str, ...] = ()  # manual changes: the UI actions, in words
    fingerprint: str = ""  # manual changes: hash of what is asked (for `certops ack`)
    # Set by the classifier once the whole plan is known; None in plans saved before
    # certops classified changes. Not part of the plan digest (it explains, it does not act).
    change_class: ChangeClass | None = None


@dataclass(frozen=True, slots=True)
class SafetyTrip:
    """A tripped safety limit: ``value`` (a fraction) is over ``threshold``. ``suspensions``
    of ``certified`` are the counts behind the fraction (None in plans saved before
    certops recorded them)."""

    product: str
    limit: str
    value: float
    threshold: float
    suspensions: int | None = None
    certified: int | None = None


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something a person should look at that certops will not change.

    ``kind`` names warnings a program may want to act on (``deadline``, ``short_period``;
    empty for the others) and ``details`` carries their numbers (JSON values), so that
    nobody has to parse ``message``."""

    product: str | None
    message: str
    address: str = ""
    kind: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Skip:
    """A change certops decided not to make (e.g. deactivated learner: no new enrollment)."""

    product: str | None
    address: str
    reason: str


@dataclass(frozen=True, slots=True)
class ByHand:
    """A certified-course status in the LMS that the rules do not give and no configured
    exception explains: most likely set by hand in Docebo. The plan still sets it back to
    the rules' verdict (its change is among ``changes`` at ``address``); this record says
    so apart, with the configuration entry that would make the hand-made status official:
    ``entry`` (user, at, reason) to add to the product's list ``add_to``
    (``reinstatements`` or ``revocations``)."""

    product: str
    address: str
    user: str
    lms_status: str
    rules_status: str
    rules_reason: str
    add_to: str
    entry: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    at: datetime
    lms: str
    changes: tuple[Change, ...]
    safety: tuple[SafetyTrip, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    skipped: tuple[Skip, ...] = ()
    products: tuple[str, ...] = ()
    by_hand: tuple[ByHand, ...] = ()  # changes that undo a status set by hand
    # Every product's suspension count against its limit, tripped or not (the reviewer's
    # "20 of 114, limit 25%"); ``safety`` holds only the tripped ones.
    limits: tuple[SafetyTrip, ...] = ()

    @property
    def blocked(self) -> bool:
        return bool(self.safety)
