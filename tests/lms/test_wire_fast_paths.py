"""The fast paths of enrollment rows and instants read exactly what the general readers do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certops.lms import wire
from certops.lms.errors import LMSResponseError
from certops.lms.records import EnrollmentStatus

E = "GET /course/v1/courses/enrollments"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-14 11:00:00", datetime(2026, 8, 14, 11, tzinfo=UTC)),
        ("2026-08-14T11:00:00Z", datetime(2026, 8, 14, 11, tzinfo=UTC)),
        ("2026-08-14 13:00:00+02:00", datetime(2026, 8, 14, 11, tzinfo=UTC)),
        (" 2026-08-14 11:00:00 ", datetime(2026, 8, 14, 11, tzinfo=UTC)),
        ("2026-08-14", datetime(2026, 8, 14, tzinfo=UTC)),
        ("0000-00-00 00:00:00", None),
        ("0000-00-00", None),
        ("", None),
        (None, None),
    ],
)
def test_instants(text: str | None, expected: datetime | None) -> None:
    parsed = wire.parse_instant(text, "f", E)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("text", ["2026-13-01 00:00:00", "2026-08-14 25:00:00", "yesterday"])
def test_bad_instants_are_named(text: str) -> None:
    with pytest.raises(LMSResponseError, match="field 'f' is"):
        wire.parse_instant(text, "f", E)


def test_rows_with_strings_codes_and_either_suffix_read_as_the_plain_shape() -> None:
    plain = {
        "user_id": 5,
        "course_id": 7,
        "enrollment_status": "completed",
        "enrollment_created_at": "2026-01-02 10:00:00",
        "enrollment_completion_date": "2026-02-03 10:00:00",
        "enrollment_validity_begin_datetime": "2026-01-01 00:00:00",
        "enrollment_validity_end_datetime": "2026-12-31 23:59:59",
    }
    variant = {
        "user_id": "5",
        "course_id": " 7",
        "enrollment_status": 2,
        "enrollment_created_at": "2026-01-02T10:00:00Z",
        "enrollment_completion_date": "2026-02-03 12:00:00+02:00",
        "enrollment_validity_begin_date": "2026-01-01",
        "enrollment_validity_end_date": "2026-12-31",
    }
    a = wire.enrollment_from_item(plain, E, {5: "ann"}, {7: "WP-101"})
    b = wire.enrollment_from_item(variant, E, {5: "ann"}, {7: "WP-101"})
    assert a == b
    assert a.status is EnrollmentStatus.COMPLETED
    assert a.valid_until == datetime(2027, 1, 1, tzinfo=UTC)
    assert (a.username, a.course_code) == ("ann", "WP-101")


def test_the_datetime_suffix_wins_and_a_missing_window_is_none() -> None:
    row = {
        "user_id": 5,
        "course_id": 7,
        "enrollment_status": "Subscribed",
        "enrollment_validity_end_datetime": "2026-12-31 23:59:59",
        "enrollment_validity_end_date": "2026-06-30",
    }
    e = wire.enrollment_from_item(row, E)
    assert e.status is EnrollmentStatus.ENROLLED
    assert e.valid_until == datetime(2027, 1, 1, tzinfo=UTC)
    assert e.valid_from is None and e.enrolled_at is None and e.completed_at is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"course_id": 7, "enrollment_status": "completed"}, "'user_id' is missing"),
        ({"user_id": True, "course_id": 7, "enrollment_status": "completed"}, "'user_id' is"),
        ({"user_id": 1, "course_id": 7, "enrollment_status": "weird"}, "'enrollment_status'"),
        ({"user_id": 1, "course_id": 7}, "'enrollment_status' is missing"),
        (
            {"user_id": 1, "course_id": 7, "enrollment_status": "0", "enrollment_created_at": [5]},
            "'enrollment_created_at' is \\[5\\]",
        ),
        (
            {
                "user_id": 1,
                "course_id": 7,
                "enrollment_status": "completed",
                "enrollment_validity_end_date": "2026-13-01",
            },
            "'enrollment_validity_end_date'",
        ),
    ],
)
def test_odd_rows_are_named_errors(row: dict, message: str) -> None:
    with pytest.raises(LMSResponseError, match=message):
        wire.enrollment_from_item(row, E)


def test_a_repeated_window_reads_the_same_each_time_and_a_bad_one_always_fails() -> None:
    # Each distinct window text is parsed once and kept: the kept value must be the one
    # a fresh parse gives, for either end and either suffix, and a bad text is never kept.
    row = {
        "user_id": 5,
        "course_id": 7,
        "enrollment_status": "enrolled",
        "enrollment_validity_begin_date": "2031-01-01",
        "enrollment_validity_end_date": "2031-12-31",
    }
    first, again = wire.enrollment_from_item(row, E), wire.enrollment_from_item(row, E)
    assert first == again
    assert first.valid_from == datetime(2031, 1, 1, tzinfo=UTC)
    assert first.valid_until == datetime(2032, 1, 1, tzinfo=UTC)  # through the end of the day
    # The same text as the other end reads as that end, not as the value kept for the first.
    swapped = dict(row, enrollment_validity_begin_date="2031-12-31")
    assert wire.enrollment_from_item(swapped, E).valid_from == datetime(2031, 12, 31, tzinfo=UTC)
    bad = dict(row, enrollment_validity_end_date="2031-02-30")
    for _ in range(2):
        with pytest.raises(LMSResponseError, match="'enrollment_validity_end_date'"):
            wire.enrollment_from_item(bad, E)


@pytest.mark.parametrize(
    "variant",
    [
        {"user_id": 12},
        {"user_id": " 12"},
        {"status": 1},
        {"status": True},
        {"email": None, "first_name": None},
        {"last_name": 7},
    ],
)
def test_user_rows_read_the_same_through_either_path(variant: dict) -> None:
    plain = {
        "user_id": "12",
        "username": "ann",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "7" if variant.get("last_name") == 7 else "Lee",
        "status": "1",
    }
    fast = wire.user_from_item(plain, "GET /manage/v1/user")
    general = wire.user_from_item({**plain, **variant}, "GET /manage/v1/user")
    if "email" in variant:
        assert general == type(fast)(12, "ann", "", "", fast.last_name, True)
    else:
        assert general == fast


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"user_id": "²", "username": "ann"}, "'user_id' is '²'"),
        ({"user_id": "12", "username": 5, "status": "1"}, None),
        ({"user_id": "12", "username": "ann", "status": "2"}, "'status' is '2'"),
        ({"username": "ann"}, "'user_id' is missing"),
    ],
)
def test_odd_user_rows_are_named_errors(row: dict, message: str | None) -> None:
    if message is None:  # a numeric username is text to certops, as before
        assert wire.user_from_item(row, "GET /manage/v1/user").username == "5"
        return
    with pytest.raises(LMSResponseError, match=message):
        wire.user_from_item(row, "GET /manage/v1/user")
