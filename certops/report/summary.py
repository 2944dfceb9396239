"""What a manager reads, per product: counts, compliance, the current period, the trend,
the burn-up, and the two lists (expiring soon, lapsed at the last rollover). Pure.

Everything comes from the one live snapshot: the trend evaluates the engine at monthly
instants over the last 24 months (an instant in the past only sees evidence dated at or
before it, so this is what a report run then would have said), and the projection
evaluates it at monthly instants up to the next deadline with the evidence cut at the
report's instant ("if nobody else completes"). No instant reads the LMS again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from certops.config.model import Config, Period, Product
from certops.engine.facts import LearnerFacts
from certops.engine.lifecycle import CertificationState, LearnerState, evaluate
from certops.live import LiveSnapshot
from certops.lms.records import User
from certops.report.rows import (
    Maintenance,
    ProductPopulation,
    ReportRow,
    ReportState,
    current_period,
    populations,
    row_of_state,
    sorted_users,
)

TREND_MONTHS = 24
DEFAULT_EXPIRING_DAYS = 30


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The product's population at one instant."""

    at: datetime
    certified: int
    suspended: int  # lapsed, including those waiting for review
    owing: int  # certified and owing a period at that instant
    projected: bool = False  # after the report's instant: no further completion assumed


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """The current period of a product at the report's instant."""

    period: Period
    days_left: int  # to the period's own due day (negative once it has passed)
    owe: int  # outstanding at the instant
    completed: int  # met it
    in_progress: int  # of ``owe``
    not_started: int  # of ``owe``
    owed_by: int  # every learner who owed it at some point (met, outstanding, lapsed, ...)
    completions: tuple[datetime, ...]  # the instants that met it, sorted (the burn-up)


@dataclass(frozen=True, slots=True)
class ProductSummary:
    """One product's section of the HTML report."""

    product: Product
    counts: dict[ReportState, int]
    current: PeriodFigures | None
    trend: tuple[TrendPoint, ...]
    expiring: tuple[ReportRow, ...]
    last_rollover: Period | None  # the last period whose due day has passed
    lapsed: tuple[ReportRow, ...]  # lapsed on ``last_rollover``'s period

    @property
    def population(self) -> int:
        """Learners ever certified (every state but never)."""
        return sum(n for state, n in self.counts.items() if state is not ReportState.NEVER)

    @property
    def compliance(self) -> float | None:
        """Certified / population, None without a population."""
        people = self.population
        return self.counts.get(ReportState.CERTIFIED, 0) / people if people else None


def _add_months(instant: datetime, months: int) -> datetime:
    index = instant.year * 12 + instant.month - 1 + months
    return instant.replace(year=index // 12, month=index % 12 + 1, day=1)


def trend_instants(at: datetime) -> list[datetime]:
    """The first instant of each of the 24 months up to ``at``, then ``at`` itself."""
    month = datetime(at.year, at.month, 1, tzinfo=UTC)
    found = [_add_months(month, -k) for k in range(TREND_MONTHS - 1, -1, -1)]
    if found[-1] != at:
        found.append(at)
    return found


def next_deadline(product: Product, at: datetime) -> datetime | None:
    """The first period deadline (without extensions) after ``at``."""
    later = [p.deadline for p in product.maintenance.periods if p.deadline > at]
    return min(later) if later else None


def projection_instants(product: Product, at: datetime) -> list[datetime]:
    """Month starts after ``at`` up to the next deadline, then the deadline itself."""
    deadline = next_deadline(product, at)
    if deadline is None:
        return []
    found = []
    month = _add_months(datetime(at.year, at.month, 1, tzinfo=UTC), 1)
    while month < deadline:
        found.append(month)
        month = _add_months(month, 1)
    found.append(deadline)
    return found


def last_rollover(product: Product, at: datetime) -> Period | None:
    """The period whose (unextended) deadline is the latest at or before ``at``."""
    passed = [p for p in product.maintenance.periods if p.deadline <= at]
    return max(passed, key=lambda p: p.deadline) if passed else None


def _cut(facts: LearnerFacts, at: datetime) -> LearnerFacts:
    # Evidence as of `at`: what a projection assumes ("nobody else completes").
    if all(done <= at for done in facts.completions.values()):
        return facts
    kept = {code: done for code, done in facts.completions.items() if done <= at}
    return replace(facts, completions=kept)


@dataclass(slots=True)
class _Tally:
    """Mutable counters for one product while its learners are evaluated (private)."""

    instants: list[datetime]
    projected: list[datetime]
    certified: list[int]
    suspended: list[int]
    owing: list[int]

    @classmethod
    def over(cls, instants: list[datetime], projected: list[datetime]) -> _Tally:
        n = len(instants) + len(projected)
        return cls(instants, projected, [0] * n, [0] * n, [0] * n)

    def add(self, index: int, state: LearnerState) -> None:
        if state.state is CertificationState.CERTIFIED:
            self.certified[index] += 1
            if state.owes is not None:
                self.owing[index] += 1
        elif state.state is CertificationState.SUSPENDED:
            self.suspended[index] += 1

    def points(self) -> tuple[TrendPoint, ...]:
        every = [(t, False) for t in self.instants] + [(t, True) for t in self.projected]
        return tuple(
            TrendPoint(t, self.certified[i], self.suspended[i], self.owing[i], projected)
            for i, (t, projected) in enumerate(every)
        )


def summarize_product(
    population: ProductPopulation,
    users: Sequence[User],
    at: datetime,
    expiring_days: int = DEFAULT_EXPIRING_DAYS,
) -> ProductSummary:
    """The summary of one product's population at ``at``."""
    product, rules = population.product, population.rules
    current = current_period(product, at)
    rollover = last_rollover(product, at)
    tally = _Tally.over(trend_instants(at), projection_instants(product, at))
    counts: Counter[ReportState] = Counter()
    period_counts: Counter[str] = Counter()
    completions: list[datetime] = []
    expiring: list[ReportRow] = []
    lapsed: list[ReportRow] = []
    for user in users:
        facts = population.facts.get(user.username)
        if facts is None:
            counts[ReportState.NEVER] += 1  # no evidence at all: never, at every instant
            continue
        state = evaluate(product, facts, at, rules=rules)
        row = row_of_state(product, user, facts, state, at, current)
        counts[row.state] += 1
        if row.state is ReportState.NEVER:
            continue  # never certified by `at`, so neither before it nor in the projection
        for i, instant in enumerate(tally.instants):
            tally.add(i, state if instant == at else evaluate(product, facts, instant, rules=rules))
        if tally.projected:
            cut = _cut(facts, at)
            base = len(tally.instants)
            for i, instant in enumerate(tally.projected):
                tally.add(base + i, evaluate(product, cut, instant, rules=rules))
        if current is not None:
            for ob in state.obligations:
                if ob.period == current.id:
                    period_counts["owed_by"] += 1
                    if ob.met_at is not None:
                        completions.append(ob.met_at)
                    break
            if row.owes == current.id and row.maintenance is not None:
                period_counts[row.maintenance.value] += 1
        if row.days_left is not None and row.days_left <= expiring_days:
            expiring.append(row)
        if rollover is not None and row.lapsed_period == rollover.id:
            lapsed.append(row)
    figures = None
    if current is not None:
        owe = (
            period_counts[Maintenance.IN_PROGRESS.value]
            + period_counts[Maintenance.NOT_STARTED.value]
        )
        figures = PeriodFigures(
            period=current,
            days_left=(current.last_day - at.date()).days,
            owe=owe,
            completed=len(completions),
            in_progress=period_counts[Maintenance.IN_PROGRESS.value],
            not_started=period_counts[Maintenance.NOT_STARTED.value],
            owed_by=period_counts["owed_by"],
            completions=tuple(sorted(completions)),
        )
    expiring.sort(key=lambda r: (r.days_left, r.username))
    return ProductSummary(
        product=product,
        counts={state: counts.get(state, 0) for state in ReportState},
        current=figures,
        trend=tally.points(),
        expiring=tuple(expiring),
        last_rollover=rollover,
        lapsed=tuple(lapsed),
    )


def summarize(
    config: Config,
    live: LiveSnapshot,
    at: datetime,
    *,
    products: tuple[str, ...] = (),
    expiring_days: int = DEFAULT_EXPIRING_DAYS,
) -> Iterator[ProductSummary]:
    """Each configured product's summary (only ``products`` when given), in config order."""
    users = sorted_users(live)
    for population in populations(config, live, products):
        yield summarize_product(population, users, at, expiring_days)
