"""Report rows: one learner in one product at an instant, from the lifecycle engine. Pure.

``report_rows`` walks every user of a live snapshot for every configured product, in
config order then by username, evaluates each with the same engine ``plan`` and ``status``
use, and yields one ``ReportRow`` at a time: nothing builds a list of rows, so callers can
stream millions of them. ``learner_rows`` does the same for a few users read one by one
(``certops status``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from certops.config.model import Config, Period, Product, due_day
from certops.engine import logins
from certops.engine.facts import LearnerFacts, collect_facts
from certops.engine.lifecycle import (
    CertificationState,
    LearnerState,
    Obligation,
    ObligationOutcome,
    ProductRules,
    evaluate,
)
from certops.live import LiveSnapshot
from certops.lms.records import Enrollment, EnrollmentStatus, User
from certops.plan.jsonio import iso_utc
from certops.references import with_usernames

FORMAT_VERSION = 1  # of the JSON document; bumped only when a field changes meaning


class ReportState(StrEnum):
    """The state column: the engine's state, except a suspended learner whose late
    completion waits for a person's decision (``late_completion: manual``)."""

    CERTIFIED = "certified"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    NEVER = "never"
    NEEDS_REVIEW = "needs_review"


class Maintenance(StrEnum):
    """Where a learner stands with the maintenance course of the period in the row."""

    COMPLETED = "completed"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"  # enrolled (or not yet) but not started


# The stable column names of CSV and of each JSON row, in order (documented in README).
COLUMNS: tuple[str, ...] = (
    "username",
    "name",
    "email",
    "active",
    "product",
    "state",
    "since",
    "path",
    "owes",
    "deadline",
    "deadline_at",
    "days_left",
    "period",
    "maintenance_course",
    "maintenance",
    "extension_until",
    "extension_reason",
    "last_change",
    "last_change_at",
    "last_change_reason",
    "lapsed_period",
    "lapsed_at",
    "needs_review",
)


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One learner's certification in one product at the report's instant."""

    username: str
    name: str
    email: str
    active: bool
    product: str
    state: ReportState
    since: datetime | None = None  # when the state began
    path: str | None = None  # the initial path that first certified them
    owes: str | None = None  # the period outstanding at the instant
    deadline_at: datetime | None = None  # its exclusive deadline instant (extension applied)
    days_left: int | None = None  # whole UTC days from the instant's day to the due day
    period: str | None = None  # the period ``maintenance`` is about: owed, or met and current
    maintenance_course: str | None = None
    maintenance: Maintenance | None = None
    extension_until: date | None = None  # of ``period``, when extended
    extension_reason: str | None = None
    last_change: str | None = None  # "reinstated" or "revoked": the last such transition
    last_change_at: datetime | None = None
    last_change_reason: str | None = None
    lapsed_period: str | None = None  # the last period the learner lapsed on
    lapsed_at: datetime | None = None
    needs_review: str | None = None  # what a person should decide

    @property
    def deadline(self) -> date | None:
        """The inclusive due day (UTC) of ``owes``."""
        return None if self.deadline_at is None else due_day(self.deadline_at)

    def record(self) -> dict[str, Any]:
        """The row as ``COLUMNS`` -> JSON value (instants as ISO 8601 UTC, dates as days)."""

        def instant(value: datetime | None) -> str | None:
            return None if value is None else iso_utc(value)

        def day(value: date | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "active": self.active,
            "product": self.product,
            "state": self.state.value,
            "since": instant(self.since),
            "path": self.path,
            "owes": self.owes,
            "deadline": day(self.deadline),
            "deadline_at": instant(self.deadline_at),
            "days_left": self.days_left,
            "period": self.period,
            "maintenance_course": self.maintenance_course,
            "maintenance": None if self.maintenance is None else self.maintenance.value,
            "extension_until": day(self.extension_until),
            "extension_reason": self.extension_reason,
            "last_change": self.last_change,
            "last_change_at": instant(self.last_change_at),
            "last_change_reason": self.last_change_reason,
            "lapsed_period": self.lapsed_period,
            "lapsed_at": instant(self.lapsed_at),
            "needs_review": self.needs_review,
        }


@dataclass(frozen=True, slots=True)
class Filters:
    """Which rows a report keeps; empty tuples and None keep everything."""

    products: tuple[str, ...] = ()
    states: tuple[ReportState, ...] = ()
    expiring_within: int | None = None  # days: owes a period due within them, not completed
    users: tuple[str, ...] = ()  # usernames or e-mails

    def keeps_user(self, user: User) -> bool:
        """Whether ``user`` passes the ``users`` filter (username exact, e-mail any case)."""
        if not self.users:
            return True
        return user.username in self.users or user.email.lower() in (u.lower() for u in self.users)

    def keeps(self, row: ReportRow) -> bool:
        """Whether ``row`` passes the state and expiring filters."""
        if self.states and row.state not in self.states:
            return False
        if self.expiring_within is not None:
            return row.days_left is not None and row.days_left <= self.expiring_within
        return True


def current_period(product: Product, at: datetime) -> Period | None:
    """The product's period at ``at``: the one whose window contains it, else the last one
    that opened before it, else None (no period has opened yet)."""
    opened = [p for p in product.maintenance.periods if p.opens_at <= at]
    for period in opened:
        if at < period.deadline:
            return period
    return opened[-1] if opened else None


def display_name(user: User) -> str:
    """First and last name as the LMS holds them ("" when it has neither)."""
    return f"{user.first_name} {user.last_name}".strip()


def _maintenance(enrollment: Enrollment | None, at: datetime) -> Maintenance:
    # Only what was true at `at` counts: an enrollment made later had not started, and a
    # completion after `at` (the report looks back) was still in progress then.
    if enrollment is None or (enrollment.enrolled_at is not None and enrollment.enrolled_at > at):
        return Maintenance.NOT_STARTED
    if enrollment.status in (EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.COMPLETED):
        return Maintenance.IN_PROGRESS
    return Maintenance.NOT_STARTED


def _row_period(
    state: LearnerState, current: Period | None
) -> tuple[Obligation | None, Maintenance | None]:
    """The obligation the maintenance columns describe: the owed one, or the current
    period's if the learner met it."""
    if not state.obligations:
        return None, None
    last = state.obligations[-1]
    if last.outcome is ObligationOutcome.OUTSTANDING:
        return last, None  # the caller reads the enrollment for in progress / not started
    if current is not None:
        for ob in reversed(state.obligations):
            if ob.period == current.id and ob.outcome is ObligationOutcome.MET:
                return ob, Maintenance.COMPLETED
    return None, None


def _last_change(state: LearnerState) -> tuple[str, datetime, str] | None:
    # The first transition is the initial certification; a later one into `certified`
    # can only be a reinstatement.
    for entry in reversed(state.history[1:]):
        if entry.note:
            continue
        if entry.state is CertificationState.REVOKED:
            return "revoked", entry.at, entry.reason
        if entry.state is CertificationState.CERTIFIED:
            return "reinstated", entry.at, entry.reason
    return None


def build_row(
    product: Product,
    user: User,
    facts: LearnerFacts,
    at: datetime,
    *,
    rules: ProductRules | None = None,
    current: Period | None = None,
) -> ReportRow:
    """The report row of ``user`` in ``product`` at ``at`` (``current``: the product's
    ``current_period`` at ``at``, passed in when building many rows)."""
    state = evaluate(product, facts, at, rules=rules)
    return row_of_state(product, user, facts, state, at, current or current_period(product, at))


def row_of_state(
    product: Product,
    user: User,
    facts: LearnerFacts,
    state: LearnerState,
    at: datetime,
    current: Period | None,
) -> ReportRow:
    """The report row of an engine result ``state`` (``evaluate`` of ``facts`` at ``at``)."""
    # The identity columns, the same for every state; named one by one so each keeps its type.
    username, name, email = user.username, display_name(user), user.email
    if state.state is CertificationState.NEVER:
        return ReportRow(
            username=username,
            name=name,
            email=email,
            active=user.active,
            product=product.id,
            state=ReportState.NEVER,
        )
    ob, status = _row_period(state, current)
    # The maintenance columns stay empty unless a period is described.
    period: str | None = None
    course: str | None = None
    extension_until: date | None = None
    extension_reason: str | None = None
    if ob is not None:
        if status is None:
            status = _maintenance(facts.enrollments.get(ob.course), at)
        period, course = ob.period, ob.course
        extension_until = None if ob.extension is None else due_day(ob.deadline)
        extension_reason = ob.extension
    change = _last_change(state)
    lapsed = next(
        (o for o in reversed(state.obligations) if o.outcome is ObligationOutcome.LAPSED), None
    )
    return ReportRow(
        state=ReportState.NEEDS_REVIEW if state.needs_review else ReportState(state.state.value),
        since=state.since,
        path=state.path,
        owes=state.owes,
        deadline_at=state.deadline,
        days_left=(None if state.deadline is None else (due_day(state.deadline) - at.date()).days),
        last_change=None if change is None else change[0],
        last_change_at=None if change is None else change[1],
        last_change_reason=None if change is None else change[2],
        lapsed_period=None if lapsed is None else lapsed.period,
        lapsed_at=None if lapsed is None else lapsed.deadline,
        needs_review=state.needs_review,
        username=username,
        name=name,
        email=email,
        active=user.active,
        product=product.id,
        period=period,
        maintenance_course=course,
        maintenance=status,
        extension_until=extension_until,
        extension_reason=extension_reason,
    )


@dataclass(frozen=True, slots=True)
class ProductPopulation:
    """One product's learners as the engine sees them: every user, with their facts."""

    product: Product
    rules: ProductRules
    facts: Mapping[str, LearnerFacts]  # by username; users without any enrollment absent

    def facts_of(self, user: User) -> LearnerFacts:
        """``user``'s facts (empty ones, hence never certified, when they have none)."""
        found = self.facts.get(user.username)
        return found if found is not None else LearnerFacts(user.username, user.id, user.active)


def populations(
    config: Config, live: LiveSnapshot, products: tuple[str, ...] = ()
) -> Iterator[ProductPopulation]:
    """Each configured product's population in ``live`` (only ``products`` when given),
    one product at a time, so only one product's facts are held at once. Exceptions that
    name their learner by e-mail address apply to the username ``live`` gives it."""
    config = with_usernames(config, live)
    for product in config.products:
        if products and product.id not in products:
            continue
        facts = {f.username: f for f in live.learner_facts(product)}
        yield ProductPopulation(product, ProductRules.of(product), facts)


def sorted_users(live: LiveSnapshot) -> list[User]:
    """The snapshot's users by username (the report's row order within a product)."""
    return sorted(live.users_by_id.values(), key=lambda u: u.username)


def report_rows(
    config: Config, live: LiveSnapshot, at: datetime, filters: Filters = Filters()
) -> Iterator[ReportRow]:
    """Every user × configured product at ``at`` that passes ``filters``, one at a time,
    in config order then by username."""
    users = [u for u in sorted_users(live) if filters.keeps_user(u)]
    for population in populations(config, live, filters.products):
        product = population.product
        current = current_period(product, at)
        for user in users:
            row = build_row(
                product,
                user,
                population.facts_of(user),
                at,
                rules=population.rules,
                current=current,
            )
            if filters.keeps(row):
                yield row


def learner_rows(
    config: Config,
    users: Sequence[User],
    course_ids: Mapping[str, int],
    enrollments: Iterable[Enrollment],
    at: datetime,
) -> Iterator[ReportRow]:
    """The rows of a few users read one by one (``certops status``), in the order given,
    each user's products in config order."""
    codes_by_id = {cid: code for code, cid in course_ids.items()}
    held = list(enrollments)
    config = logins.with_usernames(config, {u.username for u in users}, users)
    per_product = []
    for product in config.products:
        facts = {f.username: f for f in collect_facts(product, users, held, codes_by_id)}
        per_product.append(ProductPopulation(product, ProductRules.of(product), facts))
    for user in users:
        for population in per_product:
            yield build_row(
                population.product, user, population.facts_of(user), at, rules=population.rules
            )
