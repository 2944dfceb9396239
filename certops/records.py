"""certops' own typed records of LMS objects.

The client (``certops.lms``: ``wire`` for the codecs, ``session`` for the calls) turns
Docebo JSON into these and back; nothing above the ``certops.lms`` package ever sees a
Docebo field name, status code or date string.
All datetimes are timezone-aware UTC; Docebo's zero dates become ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class EnrollmentStatus(StrEnum):
    """Enrollment status in certops' words (the plan's ``status`` values)."""

    ENROLLED = "enrolled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    SUSPENDED = "suspended"
    WAITING = "waiting"


class EnrollmentPolicy(StrEnum):
    """Who may enroll in a course."""

    ADMIN_ONLY = "admin_only"
    MODERATED = "moderated"
    FREE = "free"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class CourseSettings:
    """The course properties certops manages (the article's recommendations)."""

    name: str
    description: str = ""
    course_type: str = "elearning"
    published: bool = False
    self_unenrollment: bool = True
    enrollment_policy: EnrollmentPolicy = EnrollmentPolicy.FREE
    date_begin: datetime | None = None  # course validity start (00:00:00Z of a date)
    date_end: datetime | None = None  # course validity end (exclusive instant)
    soft_deadline: bool = False
    # Sent when a course is created; Docebo's course views do not show it, so it is never
    # read back (``Course.unread``) and never diffed: a manual check asks a person once.
    visible_only_to_enrolled: bool | None = None


@dataclass(frozen=True, slots=True)
class Course:
    id: int
    code: str
    settings: CourseSettings
    # Settings the LMS did not show (their values in ``settings`` are defaults, not what the
    # LMS holds): never compared, never written back.
    unread: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Catalog:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class CatalogItem:
    catalog_id: int
    catalog_code: str
    item_id: int
    item_code: str
    item_type: str = "course"


@dataclass(frozen=True, slots=True)
class GroupRule:
    """A rule set: the user completed every course in ``completed_all`` (AND)."""

    completed_all: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """A Docebo group ("audience"); ``id`` is its UUID."""

    id: str
    name: str
    description: str = ""
    automatic: bool = False
    rules_operator: str = "ANY"  # how rule sets combine: ALL or ANY
    rules: tuple[GroupRule, ...] = ()
    exclude_deactivated: bool = False  # deactivated users are never members


@dataclass(frozen=True, slots=True)
class Enrollment:
    user_id: int
    course_id: int
    status: EnrollmentStatus
    enrolled_at: datetime | None = None
    completed_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None  # exclusive instant (Docebo shows it minus 1 s)
    username: str = ""
    course_code: str = ""


@dataclass(frozen=True, slots=True)
class RowResult:
    """The outcome of one row of a batch write; batch errors are data, not exceptions."""

    index: int
    ok: bool
    message: str = ""
    key: tuple[str, ...] = field(default=())
