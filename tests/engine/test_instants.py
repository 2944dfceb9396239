"""certops.instants: the one parser and writer of instants, microseconds pinned."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from certops.instants import (
    due_day,
    end_of_day,
    format_instant,
    format_instant_seconds,
    parse_instant,
    start_of_day,
    to_utc,
)

WITH_MICROS = datetime(2026, 12, 31, 23, 59, 59, 123456, tzinfo=UTC)


def test_microseconds_are_kept_by_the_plan_form_and_dropped_by_the_lms_form() -> None:
    assert format_instant(WITH_MICROS) == "2026-12-31T23:59:59.123456Z"
    assert format_instant(WITH_MICROS.replace(microsecond=0)) == "2026-12-31T23:59:59Z"
    # Dropped, not rounded: .999999 stays in the same second.
    assert format_instant_seconds(WITH_MICROS.replace(microsecond=999999)) == (
        "2026-12-31T23:59:59Z"
    )
    assert parse_instant(format_instant(WITH_MICROS)) == WITH_MICROS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-02T00:00:00Z", datetime(2027, 1, 2, tzinfo=UTC)),
        ("2027-01-02T00:00:00z", datetime(2027, 1, 2, tzinfo=UTC)),
        ("2027-01-02T02:00:00+02:00", datetime(2027, 1, 2, tzinfo=UTC)),
        ("2027-01-02T00:00:00", datetime(2027, 1, 2, tzinfo=UTC)),  # no zone: UTC
        ("2027-01-02", datetime(2027, 1, 2, tzinfo=UTC)),
        ("2027-01-02T00:00:00.5Z", datetime(2027, 1, 2, 0, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_gives_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected and parsed.tzinfo is UTC


def test_bad_text_and_out_of_range_instants_raise() -> None:
    with pytest.raises(ValueError):
        parse_instant("tomorrow")
    with pytest.raises(OverflowError):
        parse_instant("0001-01-01T00:00:00+14:00")


def test_naive_instants_are_utc_not_local() -> None:
    naive = datetime(2027, 1, 2, 3, 4, 5)
    assert to_utc(naive) == datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert format_instant(naive) == "2027-01-02T03:04:05Z"
    east = datetime(2027, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=3)))
    assert format_instant_seconds(east) == "2027-01-02T00:04:05Z"


def test_days_are_utc_and_deadlines_exclusive() -> None:
    assert start_of_day(date(2026, 12, 31)) == datetime(2026, 12, 31, tzinfo=UTC)
    assert end_of_day(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert due_day(end_of_day(date(2026, 12, 31))) == date(2026, 12, 31)
