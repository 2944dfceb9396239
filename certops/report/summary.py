"""What a manager reads, per product: counts, compliance, the current period and what to
expect at its deadline, the trend, the completion curves of this period and the last
one, and the two lists (expiring soon, lapsed at the last rollover). Pure.

Everything comes from the one live snapshot. The trend is the engine's answer at the
first instant of each of the last 24 months: each learner is evaluated once, at the
report's instant, and their state at an earlier instant is read off that result
(``certops.engine.lifecycle.earlier``: evidence after an instant never changes what
happened before it), which is what a report run then would have said.

What to expect at the current period's deadline is not a projection of nobody completing
(a cliff a year away) but the last period's pace: of the learners who still owed the last
period as many days before its deadline as there are now before this one's, the share
who completed it by its deadline is the share expected to complete this one. With no
earlier period, the pace of the last 60 days is kept until the deadline; with not even
that to go by, only the range is given (everyone or nobody completes).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from certops.config.model import Config, Period, Product
from certops.engine.facts import LearnerFacts
from certops.engine.lifecycle import (
    CertificationState,
    LearnerState,
    ProductRules,
    earlier,
    evaluate,
)
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
PROGRESS_EVERY = 5_000  # learners between two progress notes of a long report
RECENT_DAYS = 60  # the recent pace a period with no earlier one is expected to keep

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The product's population at one instant."""

    at: datetime
    certified: int
    suspended: int  # lapsed, including those waiting for review
    owing: int  # certified and owing a period at that instant


@dataclass(frozen=True, slots=True)
class Curve:
    """How a period's completions came in: how many learners owed it, and the instants
    that met it (sorted)."""

    period: Period
    owed: int
    completions: tuple[datetime, ...]

    def share_by(self, instant: datetime) -> float:
        """The share of those who owed it who had completed it by ``instant``."""
        if not self.owed:
            return 0.0
        return bisect.bisect_right(self.completions, instant) / self.owed

    @property
    def share(self) -> float:
        """The share who completed it (at any time)."""
        return len(self.completions) / self.owed if self.owed else 0.0


@dataclass(frozen=True, slots=True)
class Outlook:
    """What to expect at the current period's deadline.

    ``owe`` learners owe the period now and are due at its deadline (an extension past it
    keeps a learner out); ``expected`` of them are expected to complete it by then, from
    the last period's pace (None with no earlier period to go by)."""

    period: Period
    deadline: datetime  # exclusive
    certified: int  # now
    suspended: int  # now
    owe: int
    expected: int | None
    basis: str  # the expectation's reasoning, in words

    @property
    def expected_lapses(self) -> int | None:
        return None if self.expected is None else self.owe - self.expected

    @property
    def expected_certified(self) -> int | None:
        lapses = self.expected_lapses
        return None if lapses is None else self.certified - lapses

    @property
    def expected_suspended(self) -> int | None:
        lapses = self.expected_lapses
        return None if lapses is None else self.suspended + lapses


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """The current period of a product at the report's instant."""

    period: Period
    days_left: int  # to the period's last day (negative once it has passed)
    owe: int  # outstanding at the instant
    completed: int  # met it
    in_progress: int  # of ``owe``
    not_started: int  # of ``owe``
    owed_by: int  # every learner who owed it at some point (met, outstanding, lapsed, ...)
    completions: tuple[datetime, ...]  # the instants that met it, sorted

    @property
    def curve(self) -> Curve:
        return Curve(self.period, self.owed_by, self.completions)


@dataclass(frozen=True, slots=True)
class ProductSummary:
    """One product's section of the HTML report."""

    product: Product
    counts: dict[ReportState, int]
    current: PeriodFigures | None
    trend: tuple[TrendPoint, ...]
    expiring: tuple[ReportRow, ...]
    last_rollover: Period | None  # the last period whose deadline has passed
    lapsed: tuple[ReportRow, ...]  # lapsed on ``last_rollover``'s period
    previous: Curve | None = None  # the period before the current one, as it went
    outlook: Outlook | None = None  # what to expect at the current period's deadline

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


def last_rollover(product: Product, at: datetime) -> Period | None:
    """The period whose deadline is the latest at or before ``at``."""
    passed = [p for p in product.maintenance.periods if p.deadline <= at]
    return max(passed, key=lambda p: p.deadline) if passed else None


def previous_period(product: Product, current: Period | None) -> Period | None:
    """The period listed before ``current``, if any."""
    periods = product.maintenance.periods
    if current is None or current not in periods:
        return None
    index = periods.index(current)
    return periods[index - 1] if index > 0 else None


@dataclass(slots=True)
class _Tally:
    """Mutable counters for one product while its learners are evaluated (private)."""

    instants: list[datetime]
    certified: list[int]
    suspended: list[int]
    owing: list[int]

    @classmethod
    def over(cls, instants: list[datetime]) -> _Tally:
        n = len(instants)
        return cls(instants, [0] * n, [0] * n, [0] * n)

    def add(self, index: int, state: CertificationState, owing: bool) -> None:
        if state is CertificationState.CERTIFIED:
            self.certified[index] += 1
            if owing:
                self.owing[index] += 1
        elif state is CertificationState.SUSPENDED:
            self.suspended[index] += 1

    def points(self) -> tuple[TrendPoint, ...]:
        return tuple(
            TrendPoint(t, self.certified[i], self.suspended[i], self.owing[i])
            for i, t in enumerate(self.instants)
        )


def outlook(
    current: Period,
    at: datetime,
    counts: Counter[ReportState],
    due: int,
    previous: Curve | None,
    completions: Sequence[datetime] = (),
) -> Outlook:
    """What to expect at ``current``'s deadline from ``due`` learners owing it now (see
    the module docstring for the reasoning); ``completions`` are the current period's so
    far, whose recent pace is the guide when there is no earlier period."""
    certified = counts[ReportState.CERTIFIED]
    suspended = counts[ReportState.SUSPENDED] + counts[ReportState.NEEDS_REVIEW]
    left = current.deadline - at
    if previous is None or not previous.owed:
        return _at_recent_pace(current, at, certified, suspended, due, completions)
    then = previous.period.deadline - left
    done_then = previous.share_by(then)
    waiting = 1.0 - done_then
    later = (previous.share - done_then) / waiting if waiting > 0 else 0.0
    later = min(max(later, 0.0), 1.0)
    days = left.days
    basis = (
        f"as period {previous.period.id} went: {_percent(waiting)} of its learners had not "
        f"completed it {days} day{'s' if days != 1 else ''} before its deadline, and "
        f"{_percent(later)} of those then did"
    )
    return Outlook(current, current.deadline, certified, suspended, due, round(due * later), basis)


def _at_recent_pace(
    current: Period,
    at: datetime,
    certified: int,
    suspended: int,
    due: int,
    completions: Sequence[datetime],
) -> Outlook:
    """The expectation without an earlier period: the learners still owing complete at the
    pace of the last ``RECENT_DAYS`` days (the share of those owing then who completed,
    kept day after day until the deadline)."""
    since = at - timedelta(days=RECENT_DAYS)
    recent = sum(1 for t in completions if since < t <= at)
    owing_then = due + recent
    if current.opens_at > since or not owing_then:
        return Outlook(
            current,
            current.deadline,
            certified,
            suspended,
            due,
            None,
            f"no earlier period or {RECENT_DAYS} days of this one to go by",
        )
    stay = (1 - recent / owing_then) ** (1 / RECENT_DAYS)  # share still owing a day later
    days = max((current.deadline - at).total_seconds() / 86_400, 0.0)
    share = 1 - stay**days
    basis = (
        f"at the pace of the last {RECENT_DAYS} days, when {recent:,} of the "
        f"{owing_then:,} who owed it then completed it"
    )
    return Outlook(current, current.deadline, certified, suspended, due, round(due * share), basis)


def _percent(share: float) -> str:
    return f"{share:.0%}"


def summarize_product(
    population: ProductPopulation,
    users: Sequence[User],
    at: datetime,
    expiring_days: int = DEFAULT_EXPIRING_DAYS,
    progress: Say | None = None,
) -> ProductSummary:
    """The summary of one product's population at ``at``; ``progress`` is told how far it
    is every ``PROGRESS_EVERY`` learners."""
    product, rules = population.product, population.rules
    current = current_period(product, at)
    before = previous_period(product, current)
    rollover = last_rollover(product, at)
    tally = _Tally.over(trend_instants(at))
    counts: Counter[ReportState] = Counter()
    period_counts: Counter[str] = Counter()
    completions: list[datetime] = []
    previous_completions: list[datetime] = []
    previous_owed = 0
    due = 0
    expiring: list[ReportRow] = []
    lapsed: list[ReportRow] = []
    total = len(users)
    for done, user in enumerate(users, start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(f"report: {product.name}: {done:,} of {total:,} learners")
        facts = population.facts.get(user.username)
        if facts is None:
            counts[ReportState.NEVER] += 1  # no evidence at all: never, at every instant
            continue
        state = evaluate(product, facts, at, rules=rules)
        row = row_of_state(product, user, facts, state, at, current)
        counts[row.state] += 1
        if row.state is ReportState.NEVER:
            continue  # never certified by `at`, so not before it either
        for i, instant in enumerate(tally.instants):
            tally.add(i, *_state_at(state, instant, at, product, facts, rules))
        for ob in state.obligations:
            if current is not None and ob.period == current.id:
                period_counts["owed_by"] += 1
                if ob.met_at is not None:
                    completions.append(ob.met_at)
            elif before is not None and ob.period == before.id:
                previous_owed += 1
                if ob.met_at is not None:
                    previous_completions.append(ob.met_at)
        if current is not None and row.owes == current.id:
            if row.maintenance is not None:
                period_counts[row.maintenance.value] += 1
            if state.deadline == current.deadline:
                due += 1
        if row.days_left is not None and row.days_left <= expiring_days:
            expiring.append(row)
        if rollover is not None and row.lapsed_period == rollover.id:
            lapsed.append(row)
    figures = None
    previous = (
        Curve(before, previous_owed, tuple(sorted(previous_completions)))
        if before is not None
        else None
    )
    ahead = None
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
        if at < current.deadline:
            ahead = outlook(current, at, counts, due, previous, figures.completions)
    expiring.sort(key=lambda r: (r.days_left, r.username))
    return ProductSummary(
        product=product,
        counts={state: counts.get(state, 0) for state in ReportState},
        current=figures,
        trend=tally.points(),
        expiring=tuple(expiring),
        last_rollover=rollover,
        lapsed=tuple(lapsed),
        previous=previous,
        outlook=ahead,
    )


def _state_at(
    state: LearnerState,
    instant: datetime,
    at: datetime,
    product: Product,
    facts: LearnerFacts,
    rules: ProductRules,
) -> tuple[CertificationState, bool]:
    """The learner's state at ``instant`` (no later than ``at``), and whether they owed a
    period then: read off ``state`` (evaluated at ``at``), or evaluated again when it
    cannot be read off."""
    if instant == at:
        return state.state, state.certified and state.owes is not None
    found = earlier(state, instant)
    if found is not None:
        return found
    again = evaluate(product, facts, instant, rules=rules)
    return again.state, again.certified and again.owes is not None


def summarize(
    config: Config,
    live: LiveSnapshot,
    at: datetime,
    *,
    products: tuple[str, ...] = (),
    expiring_days: int = DEFAULT_EXPIRING_DAYS,
    progress: Say | None = None,
) -> Iterator[ProductSummary]:
    """Each configured product's summary (only ``products`` when given), in config order."""
    users = sorted_users(live)
    for population in populations(config, live, products):
        if progress is not None:
            progress(f"report: {population.product.name}: evaluating {len(users):,} learners")
        yield summarize_product(population, users, at, expiring_days, progress)
