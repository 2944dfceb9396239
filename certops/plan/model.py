"""The plan records (DESIGN.md section 5 is the contract for their JSON form)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    MANUAL = "manual"


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
class Plan:
    at: datetime
    lms: str
    changes: tuple[Change, ...]
    safety: tuple[SafetyTrip, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    skipped: tuple[Skip, ...] = ()
    products: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return bool(self.safety)
