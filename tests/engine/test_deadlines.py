"""The digest ladder's rungs and the deadline warnings, as pure functions of config and t."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from test_setup_manual import period, widget_pro

from certops.config.model import (
    DEFAULT_LADDER,
    Config,
    CourseSpec,
    Digest,
    Every,
    Maintenance,
    Notifications,
    Period,
    Rung,
    Settings,
)
from certops.engine.deadlines import (
    DEADLINE,
    deadline_warning,
    ladder_text,
    rung_at,
    short_period_warnings,
)
from certops.engine.enrollments import EnrollmentPlan, PeriodProgress
from certops.engine.manual import NoAcks, manual_steps
from certops.plan.ack import AckFile
from certops.plan.model import Action, Change, ChangeType, enrollment_target

DIGEST = "Maintenance of certification not yet completed"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedules(config: Config, t: datetime, acks: object = None) -> dict[str, Change]:
    return {
        c.address: c
        for c in manual_steps(config, t, acks or NoAcks())  # type: ignore[arg-type]
        if ".schedule." in c.address
    }


@pytest.mark.parametrize(
    ("instant", "every", "starts"),
    [
        ("2026-10-01T23:59:59", None, None),  # 91 days before: no rung yet
        ("2026-10-02T00:00:00", Every.MONTHLY, date(2026, 10, 2)),  # 90 days before
        ("2026-11-30T23:59:59", Every.MONTHLY, date(2026, 10, 2)),
        ("2026-12-01T00:00:00", Every.WEEKLY, date(2026, 12, 1)),  # 30 days before
        ("2026-12-23T12:00:00", Every.WEEKLY, date(2026, 12, 1)),
        ("2026-12-24T00:00:00", Every.DAILY, date(2026, 12, 24)),  # 7 days before
        ("2026-12-31T23:59:59", Every.DAILY, date(2026, 12, 24)),  # the due date itself
        ("2027-01-01T00:00:00", None, None),  # the deadline has passed
    ],
)
def test_rung_at_follows_the_calendar_days_before_the_due_date(
    instant: str, every: Every | None, starts: date | None
) -> None:
    rung = rung_at(DEFAULT_LADDER, period(2026), at(instant))
    assert (rung.rung.every if rung else None) is every
    assert (rung.starts if rung else None) == starts


def test_rung_names_the_next_switch() -> None:
    monthly = rung_at(DEFAULT_LADDER, period(2026), at("2026-10-15T00:00:00"))
    assert monthly is not None and monthly.deadline == date(2026, 12, 31)
    assert monthly.next_rung == Rung(30, Every.WEEKLY)
    assert monthly.next_starts == date(2026, 12, 1)
    daily = rung_at(DEFAULT_LADDER, period(2026), at("2026-12-26T00:00:00"))
    assert daily is not None and daily.next_rung is None and daily.next_starts is None


def test_a_late_opening_period_starts_at_the_rung_that_applies_then() -> None:
    short = Period(
        "2026", CourseSpec("MOC-S", "S"), opens=date(2026, 12, 2), due=date(2026, 12, 31)
    )
    # Monthly and weekly would both start before the period opens: weekly applies, from
    # the day it opens.
    rung = rung_at(DEFAULT_LADDER, short, at("2026-12-02T08:00:00"))
    assert rung is not None and rung.rung.every is Every.WEEKLY
    assert rung.starts == date(2026, 12, 2)


def test_ladder_in_words() -> None:
    assert ladder_text(DEFAULT_LADDER) == (
        "monthly from 90 days before the deadline, weekly from 30, daily from 7"
    )
    assert ladder_text((Rung(14, Every.WEEKLY), Rung(0, Every.DAILY))) == (
        "weekly from 14 days before the deadline, daily on the due date"
    )


def test_the_product_ladder_wins_over_the_settings_default() -> None:
    own = (Rung(60, Every.WEEKLY), Rung(3, Every.DAILY))
    default = (Rung(45, Every.MONTHLY),)
    settings = Settings(digest_ladder=default)
    mine = widget_pro(notifications=Notifications(digest=Digest(DIGEST, own)))
    theirs = widget_pro(notifications=Notifications(digest=Digest(DIGEST)))
    t = at("2026-12-05T00:00:00")  # 26 days before the deadline
    assert list(schedules(Config((mine,), settings), t)) == [
        f"notification.{DIGEST}.schedule.weekly"
    ]
    assert list(schedules(Config((theirs,), settings), t)) == [
        f"notification.{DIGEST}.schedule.monthly"
    ]
    # The digest's own setup step describes the ladder it follows.
    [step] = [
        c
        for c in manual_steps(Config((mine,), settings), t, NoAcks())
        if c.address == f"notification.{DIGEST}"
    ]
    assert "Schedule: weekly from 60 days before the deadline, daily from 3" in " ".join(step.steps)


def test_each_rung_is_acknowledged_alone_and_a_moved_due_date_asks_again(
    tmp_path: Path,
) -> None:
    config = Config((widget_pro(),))
    acks = AckFile.load(tmp_path / ".certops-ack.yaml")
    t = at("2026-12-05T00:00:00")
    [weekly] = schedules(config, t).values()
    assert weekly.type is ChangeType.NOTIFICATION and weekly.action is Action.MANUAL
    assert weekly.after == {
        "event": "course_not_completed_digest",
        "schedule": "weekly",
        "deadlines": [
            {
                "product": "widget-pro",
                "period": "2026",
                "due": "2026-12-31",
                "from_days": 30,
                "starts": "2026-12-01",
                "next": {"every": "daily", "starts": "2026-12-24"},
            }
        ],
    }
    assert weekly.reason == (
        f'set the digest "{DIGEST}" to weekly: 30 days before the 2026-12-31 deadline '
        "(widget-pro, period 2026)"
    )
    acks.record(weekly.address, weekly.fingerprint, t, "jdoe")
    assert schedules(config, t, acks) == {}
    # The next rung is another step, not silenced by the first.
    assert list(schedules(config, at("2026-12-26T00:00:00"), acks)) == [
        f"notification.{DIGEST}.schedule.daily"
    ]
    # The same rung of the next period's deadline is asked again.
    again = schedules(config, at("2027-12-05T00:00:00"), acks)
    assert list(again) == [weekly.address] and again[weekly.address].fingerprint != (
        weekly.fingerprint
    )
    # Moving the period's due date moves the rungs: the fingerprint holds the deadline.
    later = dataclasses.replace(period(2026), due=date(2027, 1, 2))
    moved = Config((widget_pro(maintenance=Maintenance(periods=(later, period(2027)))),))
    [step] = schedules(moved, t, acks).values()
    assert step.address == weekly.address and step.fingerprint != weekly.fingerprint
    assert "from 2026-12-03, 30 days before the 2027-01-02 deadline" in " ".join(step.steps)


def test_a_digest_shared_by_products_at_different_rungs_asks_to_split_it() -> None:
    gadget = widget_pro(
        id="gadget",
        maintenance=Maintenance(
            periods=(dataclasses.replace(period(2026), course=CourseSpec("MOC-G", "G")),)
        ),
    )
    same = schedules(Config((widget_pro(), gadget)), at("2026-12-05T00:00:00"))
    [shared] = same.values()
    assert shared.product is None
    assert [d["product"] for d in shared.after["deadlines"]] == ["gadget", "widget-pro"]
    early = dataclasses.replace(
        period(2026), course=CourseSpec("MOC-G", "G"), due=date(2026, 12, 10)
    )
    rushed = dataclasses.replace(gadget, maintenance=Maintenance(periods=(early,)))
    split = schedules(Config((widget_pro(), rushed)), at("2026-12-05T00:00:00"))
    assert sorted(split) == [
        f"notification.{DIGEST}.schedule.daily",
        f"notification.{DIGEST}.schedule.weekly",
    ]
    for change in split.values():
        assert "give each product its own digest" in " ".join(change.steps)


def plan_of(
    progress: tuple[PeriodProgress, ...], changes: tuple[Change, ...] = ()
) -> EnrollmentPlan:
    return EnrollmentPlan(
        product="widget-pro",
        changes=changes,
        skipped=(),
        warnings=(),
        states=(),
        currently_certified=0,
        suspensions=0,
        progress=progress,
    )


PROGRESS = PeriodProgress("2026", owed=114, completed=91, in_progress=9, not_started=14)


def test_deadline_warning_in_the_issue_words() -> None:
    warning = deadline_warning(
        widget_pro(), plan_of((PROGRESS,)), at("2026-12-24T10:00:00"), Settings()
    )
    assert warning is not None and warning.kind == DEADLINE
    assert warning.message == (
        "2026 due in 7 days (2026-12-31); 23 of 114 who owe it have not completed "
        "(9 in progress, 14 not started)"
    )
    assert warning.details["warning_days"] == 7 and warning.details["not_completed"] == 23


@pytest.mark.parametrize(
    ("instant", "days", "stage"),
    [
        ("2026-11-30T00:00:00", None, None),  # 31 days: not yet
        ("2026-12-01T00:00:00", 30, 30),
        ("2026-12-23T00:00:00", 8, 30),
        ("2026-12-24T00:00:00", 7, 7),
        ("2026-12-31T23:00:00", 0, 7),  # "due today"
        ("2027-01-01T00:00:00", None, None),  # the next period is not due for a year
    ],
)
def test_deadline_warning_from_each_configured_day(
    instant: str, days: int | None, stage: int | None
) -> None:
    warning = deadline_warning(widget_pro(), plan_of((PROGRESS,)), at(instant), Settings())
    assert (warning.details["days_left"] if warning else None) == days
    assert (warning.details["warning_days"] if warning else None) == stage
    if days == 0:
        assert warning is not None and warning.message.startswith("2026 due today (2026-12-31)")


def test_no_deadline_warning_when_everyone_completed_or_warnings_are_off() -> None:
    t = at("2026-12-24T00:00:00")
    done = PeriodProgress("2026", owed=10, completed=10)
    assert deadline_warning(widget_pro(), plan_of((done,)), t, Settings()) is None
    off = Settings(deadline_warning_days=())
    assert deadline_warning(widget_pro(), plan_of((PROGRESS,)), t, off) is None
    assert (
        deadline_warning(
            widget_pro(), plan_of((PROGRESS,)), t, Settings(deadline_warning_days=(3,))
        )
        is None
    )


def test_deadline_warning_counts_extensions() -> None:
    extended = dataclasses.replace(PROGRESS, extended=1)
    warning = deadline_warning(
        widget_pro(), plan_of((extended,)), at("2026-12-24T00:00:00"), Settings()
    )
    assert warning is not None
    assert warning.message.endswith("; 1 of them has an extension past 2026-12-31")


def enroll(code: str, user: str) -> Change:
    return Change(
        target=enrollment_target(code, user),
        type=ChangeType.ENROLLMENT,
        action=Action.CREATE,
        product="widget-pro",
    )


def test_short_period_warning_names_how_many_it_enrolls() -> None:
    product = widget_pro()
    enrolls = (*(enroll("MOC-WP-2026", f"u{i}") for i in range(3)), enroll("CERT-WP", "u9"))
    t = at("2026-11-15T00:00:00")  # 46 days before the 2026 deadline
    [warning] = short_period_warnings(product, plan_of((), enrolls), t, Settings())
    assert warning.message.startswith(
        "this plan enrolls 3 learners into period 2026 (MOC-WP-2026) with 46 days left"
    )
    assert warning.details["enrolls"] == 3 and warning.details["days_left"] == 46
    # Enough days left, no enrollment, or the check turned off: nothing to say.
    assert (
        short_period_warnings(product, plan_of((), enrolls), at("2026-10-01T00:00:00"), Settings())
        == []
    )
    assert short_period_warnings(product, plan_of(()), t, Settings()) == []
    assert (
        short_period_warnings(product, plan_of((), enrolls), t, Settings(min_period_days=0)) == []
    )
