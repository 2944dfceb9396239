"""Deadline awareness: the digest's reminder ladder, and warnings before deadlines.

A digest notification ("maintenance course not yet completed") is sent monthly, weekly or
daily depending on how far away the deadline is. Docebo has no API for notifications, so
the plan asks a person to switch the schedule on the day each rung of the product's
ladder starts (see ``certops.engine.manual``); ``rung_at`` says which rung applies at an
instant. The deadline is the *current* period's last day: its ``due`` date, or the date
its whole-period ``extension`` moves it to; the rungs move with it. (A learner's own
extension moves only that learner's deadline, not the reminders.)

The plan also warns, from each of ``settings.deadline_warning_days`` days before the
current period's due date, how many of the learners who owe it have not completed; and
when it enrolls learners into a period with fewer than ``settings.min_period_days`` days
left before its due date (a period added or opened late), how many.

Days are calendar days in UTC: at any instant of 2026-12-24, a period due 2026-12-31 is
due in 7 days; on the due date itself, in 0 days ("today").

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from certops.config.model import Period, Product, Rung, Settings
from certops.engine.enrollments import EnrollmentPlan, PeriodProgress
from certops.plan.model import Action, ChangeType, PlanWarning

DEADLINE = "deadline"
SHORT_PERIOD = "short_period"


def days_left(period: Period, t: datetime) -> int:
    """Whole calendar days (UTC) from ``t``'s date to ``period``'s due date; negative once
    the due date has passed."""
    return (period.last_day - t.date()).days


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _due_in(days: int) -> str:
    return "due today" if days == 0 else f"due in {_plural(days, 'day')}"


@dataclass(frozen=True, slots=True)
class RungAt:
    """The rung of a ladder that applies at an instant, for one period.

    ``starts`` is the first day of the rung (``from_days`` before the due date, or the day
    the period opens if that is later); ``next_rung`` and ``next_starts`` name the rung
    that follows, if any."""

    rung: Rung
    period: Period
    starts: date
    next_rung: Rung | None = None
    next_starts: date | None = None

    @property
    def deadline(self) -> date:
        """The inclusive due date the rung counts down to."""
        return self.period.last_day


def _starts(rung: Rung, period: Period) -> date:
    return max(period.last_day - timedelta(days=rung.from_days), period.opens)


def rung_at(ladder: Sequence[Rung], period: Period, t: datetime) -> RungAt | None:
    """The rung of ``ladder`` (farthest from the deadline first) in force at ``t`` for
    ``period``: the last rung whose start day is on or before ``t``'s date. None before
    the first rung starts and once the period's deadline has passed."""
    if t >= period.deadline:
        return None
    today = t.date()
    current: int | None = None
    for i, rung in enumerate(ladder):
        if _starts(rung, period) <= today:
            current = i
    if current is None:
        return None
    after = ladder[current + 1] if current + 1 < len(ladder) else None
    return RungAt(
        rung=ladder[current],
        period=period,
        starts=_starts(ladder[current], period),
        next_rung=after,
        next_starts=_starts(after, period) if after is not None else None,
    )


def ladder_text(ladder: Sequence[Rung]) -> str:
    """The ladder in words: ``monthly from 90 days before the deadline, weekly from 30,
    daily from 7``."""
    parts = []
    for i, rung in enumerate(ladder):
        if rung.from_days == 0:
            when = "on the due date"
        elif i == 0:
            when = f"from {_plural(rung.from_days, 'day')} before the deadline"
        else:
            when = f"from {rung.from_days}"
        parts.append(f"{rung.every.value} {when}")
    return ", ".join(parts)


def _counts_text(progress: PeriodProgress, due: date) -> str:
    text = (
        f"{progress.not_completed} of {progress.owed} who owe it have not completed "
        f"({progress.in_progress} in progress, {progress.not_started} not started)"
    )
    if progress.extended:
        text += (
            f"; {progress.extended} of them {'has' if progress.extended == 1 else 'have'} "
            f"an extension past {due.isoformat()}"
        )
    return text


def deadline_warning(
    product: Product, planned: EnrollmentPlan, t: datetime, settings: Settings
) -> PlanWarning | None:
    """The warning that the current period's deadline is near, with how many who owe it
    have not completed; None when it is further away than the largest of
    ``settings.deadline_warning_days``, has passed, or everyone who owes it has completed.

    The current period is the one the learners work towards at ``t`` (the first whose
    deadline is after ``t``), once it has opened."""
    if not settings.deadline_warning_days:
        return None
    period = next((p for p in product.maintenance.periods if p.deadline > t), None)
    if period is None or t < period.opens_at:
        return None
    days = days_left(period, t)
    if days > max(settings.deadline_warning_days):
        return None
    progress = next((p for p in planned.progress if p.period == period.id), None)
    if progress is None or progress.not_completed == 0:
        return None
    # The warning stage: the nearest configured day the deadline is within (7 of [30, 7]).
    stage = min(d for d in settings.deadline_warning_days if d >= days)
    return PlanWarning(
        product=product.id,
        message=(
            f"{period.id} {_due_in(days)} ({period.last_day.isoformat()}); "
            + _counts_text(progress, period.last_day)
        ),
        kind=DEADLINE,
        details={
            "period": period.id,
            "course": period.course.code,
            "due": period.last_day.isoformat(),
            "days_left": days,
            "warning_days": stage,
            "owed": progress.owed,
            "completed": progress.completed,
            "not_completed": progress.not_completed,
            "in_progress": progress.in_progress,
            "not_started": progress.not_started,
            "extended": progress.extended,
        },
    )


def _enrolls(planned: EnrollmentPlan, course: str) -> int:
    return sum(
        1
        for c in planned.changes
        if c.action is Action.CREATE
        and c.type is ChangeType.ENROLLMENT
        and c.target.course == course
    )


def short_period_warnings(
    product: Product, planned: EnrollmentPlan, t: datetime, settings: Settings
) -> list[PlanWarning]:
    """Warnings about periods that leave learners fewer than ``settings.min_period_days``
    days before their due date:

    - an open period this plan enrolls learners into with fewer days left (a period that
      opens late, or is added to the configuration late), naming how many it enrolls;
    - the next period to open, when its own window (opens to due) is that short, naming
      how many learners are certified now (those who would owe it if nothing changed).
    """
    minimum = settings.min_period_days
    if minimum <= 0:
        return []
    warnings = []
    upcoming = next((p for p in product.maintenance.periods if p.opens_at > t), None)
    for period in product.maintenance.periods:
        if period.opens_at <= t < period.deadline:
            days = days_left(period, t)
            count = _enrolls(planned, period.course.code)
            if days >= minimum or count == 0:
                continue
            message = (
                f"this plan enrolls {_plural(count, 'learner')} into period {period.id} "
                f"({period.course.code}) with {_plural(days, 'day')} left before its due "
                f"date ({period.last_day.isoformat()}), fewer than settings.min_period_days "
                f"({minimum}); check the period's dates before applying"
            )
        elif period is upcoming:
            days = (period.last_day - period.opens).days
            if days >= minimum:
                continue
            count = sum(1 for s in planned.states if s.certified)
            message = (
                f"period {period.id} opens {period.opens.isoformat()}, only "
                f"{_plural(days, 'day')} before "
                f"its due date ({period.last_day.isoformat()}), fewer than "
                f"settings.min_period_days "
                f"({minimum}); it will enroll the learners who owe it then "
                f"({_plural(count, 'learner')} certified at {t.date().isoformat()})"
            )
        else:
            continue
        warnings.append(
            PlanWarning(
                product=product.id,
                message=message,
                kind=SHORT_PERIOD,
                details={
                    "period": period.id,
                    "course": period.course.code,
                    "opens": period.opens.isoformat(),
                    "due": period.last_day.isoformat(),
                    "days_left": days,
                    "min_period_days": minimum,
                    "enrolls": count,
                },
            )
        )
    return warnings


def deadline_warnings(
    product: Product, planned: EnrollmentPlan, t: datetime, settings: Settings
) -> list[PlanWarning]:
    """Every deadline warning of one product at ``t``: the near deadline, then short
    periods."""
    near = deadline_warning(product, planned, t, settings)
    return ([near] if near is not None else []) + short_period_warnings(
        product, planned, t, settings
    )
