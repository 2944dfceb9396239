"""Reads accept every shape the public record shows, and fail only on what a decision
needs: an instant in any evidenced form, a course list whose odd fields are left unread, a
user whose names are odd."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certops.lms import wire
from certops.lms.errors import LMSResponseError

E = "GET /x"


@pytest.mark.parametrize(
    ("value", "instant"),
    [
        ("2026-12-31 23:59:59", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-12-31", datetime(2026, 12, 31, tzinfo=UTC)),
        ("2026-12-31T10:00:00+02:00", datetime(2026, 12, 31, 8, tzinfo=UTC)),
        ("2026-12-31T10:00:00Z", datetime(2026, 12, 31, 10, tzinfo=UTC)),
        ("1693586500594", datetime(2023, 9, 1, 16, 41, 40, 594000, tzinfo=UTC)),
        (1693586500594, datetime(2023, 9, 1, 16, 41, 40, 594000, tzinfo=UTC)),
        ("1693586500", datetime(2023, 9, 1, 16, 41, 40, tzinfo=UTC)),
        (1693586500, datetime(2023, 9, 1, 16, 41, 40, tzinfo=UTC)),
        ("0000-00-00", None),
        ("0000-00-00 00:00:00", None),
        ("0000-00-00T00:00:00Z", None),
        ("", None),
        (None, None),
        (0, None),
    ],
)
def test_every_instant_shape_of_the_record_reads(value: object, instant: datetime | None) -> None:
    assert wire.parse_instant(value, "f", E) == instant


@pytest.mark.parametrize("value", ["soon", True, [1], {"d": 1}, "2026-13-01", "9" * 30])
def test_an_instant_that_is_none_of_them_is_a_named_error(value: object) -> None:
    with pytest.raises(LMSResponseError) as err:
        wire.parse_instant(value, "enrollment_completion_date", E)
    message = str(err.value)
    assert E in message and "'enrollment_completion_date'" in message
    assert "epoch seconds or milliseconds" in message


def test_a_date_only_end_means_through_that_day() -> None:
    assert wire.parse_end_instant("2026-12-31", "f", E) == datetime(2027, 1, 1, tzinfo=UTC)
    assert wire.parse_end_instant("2026-12-31 23:59:59", "f", E) == datetime(2027, 1, 1, tzinfo=UTC)


def test_the_course_list_fails_only_without_an_id() -> None:
    odd = {
        "id_course": "17",
        "code": "WP-101",
        "name": {"en": "not text"},
        "start_date": "next spring",
        "end_date": [2026],
        "enrollment_policy": "open",
        "course_type": None,
    }
    course = wire.course_from_item(odd, E)
    assert (course.id, course.code) == (17, "WP-101")
    assert {"name", "date_begin", "date_end", "enrollment_policy"} <= course.unread
    assert course.settings.date_begin is None and course.settings.name == ""
    with pytest.raises(LMSResponseError, match="'id_course' is missing"):
        wire.course_from_item({"code": "WP-101"}, E)


def test_odd_user_names_read_as_empty_but_the_username_is_required() -> None:
    user = wire.user_from_item(
        {"user_id": "12", "username": "ann", "first_name": {"x": 1}, "last_name": 7}, E
    )
    assert (user.id, user.username, user.first_name, user.last_name) == (12, "ann", "", "7")
    with pytest.raises(LMSResponseError, match="'username' is missing"):
        wire.user_from_item({"user_id": 12}, E)


@pytest.mark.parametrize(
    ("sent", "kind"),
    [
        ("learning_course_type", "course"),
        ("course", "course"),
        (None, "course"),
        ("learning_plan", "learning_plan"),
        ("learningplan", "learning_plan"),
        ("session", "session"),
    ],
)
def test_catalog_item_kinds(sent: object, kind: str) -> None:
    assert wire.item_kind(sent) == kind
