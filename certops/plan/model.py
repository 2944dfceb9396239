"""The plan records (docs/plan.md is the contract for their JSON form).

A change carries what it writes, typed and whole (``write``: a ``CourseWrite``,
``CatalogWrite``, ``CatalogItemWrite``, ``GroupWrite`` or ``EnrollmentWrite``, with the LMS
ids the write needs), the live values it replaces (``before``) and the names of the fields
it changes (``changed``). What a reviewer sees as ``after`` is read off the write, so what
is written is what was reviewed. JSON exists only at the plan file's edge
(``certops.plan.jsonio``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from certops.records import CourseSettings, EnrollmentStatus, GroupRule


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


class TargetKind(StrEnum):
    """What a change (or a skip) is about. Mostly the change's type; a manual check of a
    course's settings has its own kind, since it shares the course's displayed address
    with the course's create or update but is a different thing to do."""

    COURSE = "course"
    COURSE_CHECK = "course_check"
    CATALOG = "catalog"
    CATALOG_ITEM = "catalog_item"
    GROUP = "group"
    ENROLLMENT = "enrollment"
    ENROLLMENT_RULE = "enrollment_rule"
    NOTIFICATION = "notification"
    # A change read from a plan file saved before certops recorded targets, whose parts
    # its other fields do not give: only its address is known (``label``).
    SAVED = "saved"


# The fields of a target's natural key, in the order the address shows them.
TARGET_FIELDS = ("catalog", "course", "user", "name", "schedule")


@dataclass(frozen=True, slots=True)
class Target:
    """The object a change is about, by its natural key: a course by ``course`` (its
    code), a catalog by ``catalog``, a catalog item by both, a group, an enrollment rule
    or a notification by ``name`` (a digest's rung of the reminder ladder also by
    ``schedule``), an enrollment by ``course`` and ``user``.

    ``address`` is derived from it, for people and for the plan's JSON; code that needs a
    part reads the field, never the address (course codes and usernames may hold dots)."""

    kind: TargetKind
    course: str = ""
    user: str = ""
    catalog: str = ""
    name: str = ""
    schedule: str = ""
    label: str = ""  # kind SAVED only: the address as the plan file wrote it

    @property
    def address(self) -> str:
        """``course.CODE``, ``catalog_item.CATALOG.COURSE``, ``enrollment.COURSE.USER``, ..."""
        kind = self.kind
        if kind is TargetKind.SAVED:
            return self.label
        if kind in (TargetKind.COURSE, TargetKind.COURSE_CHECK):
            return f"course.{self.course}"
        if kind is TargetKind.CATALOG:
            return f"catalog.{self.catalog}"
        if kind is TargetKind.CATALOG_ITEM:
            return f"catalog_item.{self.catalog}.{self.course}"
        if kind is TargetKind.ENROLLMENT:
            return f"enrollment.{self.course}.{self.user}"
        if kind is TargetKind.NOTIFICATION and self.schedule:
            return f"notification.{self.name}{SCHEDULE_SEPARATOR}{self.schedule}"
        return f"{kind.value}.{self.name}"  # group, enrollment rule, notification

    def to_json(self) -> dict[str, str]:
        """The JSON form: ``kind`` and the key fields that are set."""
        out = {"kind": self.kind.value}
        for name in (*TARGET_FIELDS, "label"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


def course_target(code: str) -> Target:
    return Target(TargetKind.COURSE, course=code)


def enrollment_target(course: str, user: str) -> Target:
    return Target(TargetKind.ENROLLMENT, course=course, user=user)


# How a digest's rung shows in its address: ``notification.NAME.schedule.weekly``.
SCHEDULE_SEPARATOR = ".schedule."


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


# --- what a change writes -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseWrite:
    """A course to create (``course_id`` None) or to update, whole: ``settings`` as the
    configuration wants them; ``send``, the settings an update sends (a create sends them
    all); ``verify``, the settings read back and compared once written."""

    settings: CourseSettings
    send: frozenset[str]
    verify: frozenset[str]
    course_id: int | None = None

    def value(self, name: str) -> Any:
        return getattr(self.settings, name)


@dataclass(frozen=True, slots=True)
class CatalogWrite:
    """A catalog to create."""

    code: str
    name: str

    def value(self, name: str) -> Any:
        return {"code": self.code, "name": self.name}[name]


@dataclass(frozen=True, slots=True)
class CatalogItemWrite:
    """A course to put in a catalog."""

    catalog: str
    course: str

    def value(self, name: str) -> Any:
        return {"catalog": self.catalog, "course": self.course, "item_type": "course"}[name]


@dataclass(frozen=True, slots=True)
class GroupWrite:
    """An automatic group to create (``group_id`` None) or whose rules to set, whole: an
    update sends the live description back unchanged (admins own it once created)."""

    description: str
    rules: tuple[GroupRule, ...]
    operator: str = "ANY"  # how rule sets combine: ANY or ALL
    automatic: bool = True
    exclude_deactivated: bool = True
    group_id: str | None = None

    def value(self, name: str) -> Any:
        if name == "rules_operator":
            return self.operator
        return getattr(self, name)


@dataclass(frozen=True, slots=True)
class EnrollmentWrite:
    """An enrollment to create, or the fields to set on one (None: left as it is).
    ``course_id`` is None for a course the same apply creates (its id is known once it
    is)."""

    user_id: int
    course_id: int | None
    status: EnrollmentStatus | None = None
    completed_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None  # exclusive instant

    def value(self, name: str) -> Any:
        return getattr(self, name)


Write = CourseWrite | CatalogWrite | CatalogItemWrite | GroupWrite | EnrollmentWrite


@dataclass(frozen=True, slots=True)
class Change:
    """One change. ``write`` is what apply sends (None for a ``manual`` change, which a
    person does); ``changed`` names the fields the change sets, in the order they are
    shown; ``before`` holds their live values (typed: instants as aware datetimes, a
    status as ``EnrollmentStatus``, rule sets as ``GroupRule`` tuples); ``after`` is read
    off the write (a manual change's is ``asked``: what a person is asked to set, plain
    JSON-able values that its ``fingerprint`` hashes)."""

    target: Target
    type: ChangeType
    action: Action
    product: str | None
    write: Write | None = None
    changed: tuple[str, ...] = ()
    before: Mapping[str, Any] = field(default_factory=dict)
    asked: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    steps: tuple[str, ...] = ()  # manual changes: the UI actions, in words
    fingerprint: str = ""  # manual changes: hash of what is asked (for `certops ack`)
    # Set by the classifier once the whole plan is known; None in plans saved before
    # certops classified changes. Not part of the plan digest (it explains, it does not act).
    change_class: ChangeClass | None = None

    @property
    def address(self) -> str:
        """The change's address, derived from its target (for display and JSON)."""
        return self.target.address

    @property
    def after(self) -> Mapping[str, Any]:
        """The new values of the ``changed`` fields, as the write holds them (typed); for a
        manual change, what is asked."""
        if self.write is None:
            return self.asked
        return {name: self.write.value(name) for name in self.changed}


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
    target: Target
    reason: str

    @property
    def address(self) -> str:
        return self.target.address


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
