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
            {"user_id": 1, "course_id": 7, "enrollment_status": "0", "enrollment_created_at": 5},
            "'enrollment_created_at' is 5",
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
