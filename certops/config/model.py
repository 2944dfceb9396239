"""The typed configuration model.

Built only from a configuration that passed every check (see ``certops.config.load``).
Dates are ``datetime.date``; instants are timezone-aware UTC ``datetime``. Everything above
the loader works on these records, never on raw YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

# The UTC day helpers live with the other instant helpers; callers of the model import
# them from here too.
from certops.instants import due_day as due_day
from certops.instants import end_of_day as end_of_day
from certops.instants import start_of_day as start_of_day


class LateCompletion(StrEnum):
    REINSTATE = "reinstate"
    MANUAL = "manual"


class Every(StrEnum):
    """How often a Docebo digest notification is sent (its schedule in the admin UI)."""

    MONTHLY = "monthly"
    WEEKLY = "weekly"
    DAILY = "daily"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a node came from: ``FILE:LINE:COL`` (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class CourseSpec:
    code: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class CertifiedCourse:
    code: str
    name: str
    description: str = ""
    salesforce_sync: bool = False


@dataclass(frozen=True, slots=True)
class InitialPath:
    """One way to become certified: complete every course in ``all_of``."""

    name: str
    all_of: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PeriodExtension:
    """A whole period's deadline moved to the end of ``until`` for everyone who owes it
    (docs/lifecycle.md, "Extending a whole period")."""

    until: date
    reason: str


@dataclass(frozen=True, slots=True)
class Period:
    id: str
    course: CourseSpec
    opens: date
    due: date  # inclusive calendar date, UTC, as configured
    extension: PeriodExtension | None = None  # the whole period's, if any

    @property
    def opens_at(self) -> datetime:
        return start_of_day(self.opens)

    @property
    def last_day(self) -> date:
        """The inclusive last day to complete the period: ``due``, or the whole period's
        extension when it is later."""
        if self.extension is not None and self.extension.until > self.due:
            return self.extension.until
        return self.due

    @property
    def deadline(self) -> datetime:
        """Exclusive deadline instant: the end of ``last_day`` in UTC (the whole period's
        extension applied; a learner's own extension may move theirs later still)."""
        return end_of_day(self.last_day)

    @property
    def own_deadline(self) -> datetime:
        """The end of ``due`` in UTC, before any extension of the period."""
        return end_of_day(self.due)


@dataclass(frozen=True, slots=True)
class Maintenance:
    periods: tuple[Period, ...]
    new_learner_grace_days: int = 0
    late_completion: LateCompletion = LateCompletion.MANUAL


@dataclass(frozen=True, slots=True)
class Extension:
    user: str
    period: str
    until: date
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reinstatement:
    user: str
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Revocation:
    user: str
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NamedRef:
    """A Docebo object certops only names (enrollment rule, notification, group)."""

    name: str


@dataclass(frozen=True, slots=True)
class Rung:
    """One rung of a digest's reminder ladder: from ``from_days`` days before a period's
    deadline (its ``due`` date) on, the digest is sent ``every`` month, week or day."""

    from_days: int
    every: Every


# The ladder when neither the product nor ``settings.digest_ladder`` names one: the
# article's "monthly, weekly, or daily depending upon how far away the expiration date is".
DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung(90, Every.MONTHLY),
    Rung(30, Every.WEEKLY),
    Rung(7, Every.DAILY),
)


@dataclass(frozen=True, slots=True)
class Digest:
    """The digest notification ("not yet completed" reminders) and its reminder ladder;
    ``ladder`` is None when the product leaves it to ``settings.digest_ladder``."""

    name: str
    ladder: tuple[Rung, ...] | None = None


@dataclass(frozen=True, slots=True)
class Notifications:
    learner_enrolled: NamedRef | None = None
    admin_certified: NamedRef | None = None
    digest: Digest | None = None


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    group: NamedRef
    initial_paths: tuple[InitialPath, ...]
    certified_course: CertifiedCourse
    maintenance: Maintenance
    enrollment_rule: NamedRef | None = None
    notifications: Notifications = field(default_factory=Notifications)
    extensions: tuple[Extension, ...] = ()
    reinstatements: tuple[Reinstatement, ...] = ()
    revocations: tuple[Revocation, ...] = ()
    location: Location | None = field(default=None, compare=False)

    def period(self, period_id: str) -> Period | None:
        return next((p for p in self.maintenance.periods if p.id == period_id), None)


@dataclass(frozen=True, slots=True)
class Catalog:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Safety:
    max_suspend_fraction: float = 0.25
    min_population: int = 20
    # Statuses set by hand in the LMS (no configured exception explains them) that one run
    # may set back to the rules' verdict; more blocks the run. 0: every one is asked about.
    max_reverted_manual: int = 0
    # Values certops wrote (per its audit log) that someone has since changed in the LMS,
    # which one run may set back; more blocks the run. 0: every hand edit is asked about.
    max_reverted_drift: int = 0


@dataclass(frozen=True, slots=True)
class Settings:
    salesforce_catalog: Catalog | None = None
    safety: Safety = field(default_factory=Safety)
    # The reminder ladder of every digest that does not name its own.
    digest_ladder: tuple[Rung, ...] = DEFAULT_LADDER
    # Days before a period's due date at which the plan warns how many have not completed.
    deadline_warning_days: tuple[int, ...] = (30, 7)
    # A period enrolling learners with fewer days than this before its due date is warned.
    min_period_days: int = 60

    def ladder_of(self, digest: Digest) -> tuple[Rung, ...]:
        """The ladder ``digest`` follows: its own, else this configuration's default."""
        return digest.ladder if digest.ladder is not None else self.digest_ladder


class RefKind(StrEnum):
    """What a reference is (the word the error message starts with)."""

    EXTENSION = "extension"
    REINSTATEMENT = "reinstatement"
    REVOCATION = "revocation"
    INITIAL_COURSE = "initial path"


# The product list each user reference lives in.
USER_LISTS: dict[str, RefKind] = {
    "extensions": RefKind.EXTENSION,
    "reinstatements": RefKind.REINSTATEMENT,
    "revocations": RefKind.REVOCATION,
}


@dataclass(frozen=True, slots=True)
class Reference:
    """One name the configuration expects the LMS to have.

    ``value`` is a username (exceptions) or a course code (initial paths); ``detail`` is
    the initial path's name for a course (empty otherwise)."""

    kind: RefKind
    value: str
    product: str
    location: Location
    path: str
    detail: str = ""

    @property
    def is_user(self) -> bool:
        return self.kind is not RefKind.INITIAL_COURSE


@dataclass(frozen=True, slots=True)
class Config:
    products: tuple[Product, ...]
    settings: Settings = field(default_factory=Settings)
    files: tuple[str, ...] = ()
    # Every user and initial course the files name, located, in file order (indexed when
    # the files are loaded, so that nothing reads them again).
    references: tuple[Reference, ...] = field(default=(), compare=False)

    def product(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)
