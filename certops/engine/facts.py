"""What the lifecycle rules need to know about one learner in one product.

``LearnerFacts`` is the engine's only view of the LMS: who the learner is, when they
completed the product's courses, and the live enrollments certops may have to change.
``collect_facts`` builds them from the LMS records a reader returns, in one pass, so the
rest of the engine never touches ``User`` lists or course ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from certops.config.model import Product
from certops.errors import CertopsError
from certops.records import Enrollment, EnrollmentStatus, User


class FactsError(CertopsError):
    """Facts handed to the engine are inconsistent (a bug in the caller, named precisely)."""


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    # A read-only view over a private copy: the caller's dict may change, the facts do not.
    return MappingProxyType(dict(mapping))


def _check_completions(username: str, completions: Mapping[str, Any]) -> None:
    for code, instant in completions.items():
        if not isinstance(instant, datetime) or instant.tzinfo is None:
            raise FactsError(
                f"learner {username!r}: completion of {code!r} must be a "
                f"timezone-aware datetime, got {instant!r}"
            )


@dataclass(frozen=True, slots=True)
class LearnerFacts:
    """One learner's evidence for one product.

    ``completions`` maps a course code to the instant the learner completed it, only for
    completed enrollments in courses the product names (initial and maintenance courses).
    ``enrollments`` maps a course code to the live enrollment, for every course the product
    names in which the learner is enrolled. Both are read-only views.
    """

    username: str
    user_id: int
    active: bool = True
    completions: Mapping[str, datetime] = field(default_factory=dict)
    enrollments: Mapping[str, Enrollment] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_completions(self.username, self.completions)
        # frozen dataclass: __post_init__ must go through object.__setattr__
        object.__setattr__(self, "completions", _frozen(self.completions))
        object.__setattr__(self, "enrollments", _frozen(self.enrollments))


def managed_codes(product: Product) -> list[str]:
    """The course codes certops creates and keeps in shape for ``product``: the certified
    course and every period's maintenance course."""
    return [product.certified_course.code] + [p.course.code for p in product.maintenance.periods]


def product_course_codes(product: Product) -> tuple[str, ...]:
    """Every course code ``product`` names: initial courses, certified course, periods."""
    codes: dict[str, None] = {}  # ordered set
    for path in product.initial_paths:
        codes.update(dict.fromkeys(path.all_of))
    codes[product.certified_course.code] = None
    for period in product.maintenance.periods:
        codes[period.course.code] = None
    return tuple(codes)


def _preferred(current: Enrollment | None, candidate: Enrollment) -> Enrollment:
    # Docebo keeps one enrollment per user and course; if a reader ever returns two, keep a
    # deterministic one: a completed enrollment with the earliest completion wins.
    if current is None:
        return candidate

    def rank(e: Enrollment) -> tuple[int, datetime | None]:
        done = e.status is EnrollmentStatus.COMPLETED and e.completed_at is not None
        return (0 if done else 1, e.completed_at if done else None)

    a, b = rank(current), rank(candidate)
    if a[0] != b[0]:
        return current if a[0] < b[0] else candidate
    if a[1] is not None and b[1] is not None and b[1] < a[1]:
        return candidate
    return current


def index_by_code(
    enrollments: Iterable[Enrollment], course_codes: Mapping[int, str]
) -> dict[str, list[Enrollment]]:
    """``enrollments`` grouped by course code, each group in the order given.

    ``course_codes`` maps LMS course ids to codes, for enrollments that carry no code.
    Built once per snapshot, it lets each product read only the enrollments of the
    courses it names instead of every enrollment read."""
    by_code: dict[str, list[Enrollment]] = {}
    for enrollment in enrollments:
        code = enrollment.course_code or course_codes.get(enrollment.course_id, "")
        group = by_code.get(code)
        if group is None:
            by_code[code] = [enrollment]
        else:
            group.append(enrollment)
    return by_code


def _per_user(
    product: Product,
    users: Mapping[int, User],
    by_code: Mapping[str, Sequence[Enrollment]],
) -> dict[int, dict[str, Enrollment]]:
    # Each known user's enrollment in each course the product names (one per course).
    per_user: dict[int, dict[str, Enrollment]] = {}
    for code in product_course_codes(product):
        for enrollment in by_code.get(code, ()):
            user_id = enrollment.user_id
            if user_id not in users:
                continue
            mine = per_user.get(user_id)
            if mine is None:
                per_user[user_id] = {code: enrollment}
            else:
                mine[code] = _preferred(mine.get(code), enrollment)
    return per_user


def facts_from_index(
    product: Product,
    users: Mapping[int, User],
    by_code: Mapping[str, Sequence[Enrollment]],
) -> list[LearnerFacts]:
    """``collect_facts`` over users by id and enrollments grouped by ``index_by_code``."""
    evidence = set(product_course_codes(product)) - {product.certified_course.code}
    completed = EnrollmentStatus.COMPLETED
    facts = []
    for user_id, mine in _per_user(product, users, by_code).items():
        user = users[user_id]
        completions = {
            code: e.completed_at
            for code, e in mine.items()
            if code in evidence and e.status is completed and e.completed_at is not None
        }
        facts.append(_owned_facts(user, completions, mine))
    facts.sort(key=lambda f: f.username)
    return facts


def enrolled_usernames(
    product: Product,
    users: Mapping[int, User],
    by_code: Mapping[str, Sequence[Enrollment]],
) -> set[str]:
    """The usernames ``facts_from_index`` would return facts for, without building them."""
    return {users[user_id].username for user_id in _per_user(product, users, by_code)}


def _owned_facts(
    user: User, completions: dict[str, datetime], enrollments: dict[str, Enrollment]
) -> LearnerFacts:
    # LearnerFacts over two dicts built here and never shared: viewed read-only without
    # the copies the public constructor makes (it guards against a caller's dict changing).
    _check_completions(user.username, completions)
    facts = object.__new__(LearnerFacts)
    set_field = object.__setattr__
    set_field(facts, "username", user.username)
    set_field(facts, "user_id", user.id)
    set_field(facts, "active", user.active)
    set_field(facts, "completions", MappingProxyType(completions))
    set_field(facts, "enrollments", MappingProxyType(enrollments))
    return facts


def collect_facts(
    product: Product,
    users: Iterable[User],
    enrollments: Iterable[Enrollment],
    course_codes: Mapping[int, str],
) -> list[LearnerFacts]:
    """Group LMS records into one ``LearnerFacts`` per learner, sorted by username.

    Returns facts only for users enrolled in at least one course ``product`` names.
    ``course_codes`` maps LMS course ids to codes (used when an enrollment carries no code).
    Enrollments of users missing from ``users`` are ignored: certops cannot tell whether
    such a user is active, so it must not create anything for them. The certified course's
    own completion is not evidence (it is certops' output), so it is not a completion.
    """
    by_id = {u.id: u for u in users}
    return facts_from_index(product, by_id, index_by_code(enrollments, course_codes))
