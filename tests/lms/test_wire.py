"""The Docebo wire module: dates, ids, statuses, envelopes and bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certops.lms import wire
from certops.lms.api import EnrollmentUpdate, NewEnrollment
from certops.lms.errors import LMSResponseError
from certops.lms.records import CourseSettings, EnrollmentPolicy, EnrollmentStatus, GroupRule

EP = "GET /x"


def test_dates_are_aware_utc_and_zero_dates_are_none():
    assert wire.parse_instant("2026-03-04 05:06:07", "f", EP) == datetime(
        2026, 3, 4, 5, 6, 7, tzinfo=UTC
    )
    assert wire.parse_instant("2026-03-04", "f", EP) == datetime(2026, 3, 4, tzinfo=UTC)
    for zero in ("0000-00-00", "0000-00-00 00:00:00", "", None):
        assert wire.parse_instant(zero, "f", EP) is None


def test_validity_end_reads_as_exclusive_instant_and_writes_back_minus_one_second():
    end = wire.parse_end_instant("2026-12-31 23:59:59", "f", EP)
    assert end == datetime(2027, 1, 1, tzinfo=UTC)
    assert wire.format_end_instant(end) == "2026-12-31 23:59:59"
    assert wire.parse_end_instant("2026-12-31", "f", EP) == datetime(2027, 1, 1, tzinfo=UTC)
    assert wire.parse_end_instant("0000-00-00 00:00:00", "f", EP) is None


def test_bad_date_names_field_and_endpoint():
    with pytest.raises(LMSResponseError, match=r"GET /x.*'enrollment_created_at'"):
        wire.parse_instant("31/12/2026", "enrollment_created_at", EP)


def test_ids_are_coerced_and_bad_ids_are_named():
    assert wire.as_int("12001", "user_id", EP) == 12001
    assert wire.as_int(7, "group_id", EP) == 7
    with pytest.raises(LMSResponseError, match="'user_id'"):
        wire.as_int("abc", "user_id", EP)
    with pytest.raises(LMSResponseError, match="'user_id'"):
        wire.as_int(True, "user_id", EP)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("enrolled", EnrollmentStatus.ENROLLED),
        ("subscribed", EnrollmentStatus.ENROLLED),
        ("in_progress", EnrollmentStatus.IN_PROGRESS),
        ("completed", EnrollmentStatus.COMPLETED),
        ("suspended", EnrollmentStatus.SUSPENDED),
        ("waiting", EnrollmentStatus.WAITING),
        ("waiting_list", EnrollmentStatus.WAITING),
        (3, EnrollmentStatus.SUSPENDED),
    ],
)
def test_status_words(value, status):
    assert wire.read_status(value, "enrollment_status", EP) is status


def test_unknown_status_is_a_named_error():
    with pytest.raises(LMSResponseError, match="'enrollment_status'"):
        wire.read_status("archived", "enrollment_status", EP)


def test_missing_field_names_field_and_endpoint():
    with pytest.raises(LMSResponseError, match=r"GET /x: field 'items' is missing"):
        wire.list_page({"data": {"count": 0}}, EP)
    with pytest.raises(LMSResponseError, match="'data'"):
        wire.list_page({"items": []}, EP)


def test_list_page_reads_cursor_and_bare_arrays():
    page = wire.list_page(
        {"data": {"items": [{"a": 1}], "has_more_data": True, "cursor": "abc"}}, EP
    )
    assert page.items == [{"a": 1}] and page.has_more and page.cursor == "abc"
    bare = wire.list_page({"data": [{"a": 1}]}, EP)
    assert bare.items == [{"a": 1}] and not bare.has_more


def test_course_detail_and_body_round_trip():
    settings = CourseSettings(
        name="Maintenance 2026",
        description="d",
        published=True,
        self_unenrollment=False,
        enrollment_policy=EnrollmentPolicy.ADMIN_ONLY,
        date_begin=datetime(2026, 1, 1, tzinfo=UTC),
        date_end=datetime(2027, 1, 1, tzinfo=UTC),
        soft_deadline=False,
        visible_only_to_enrolled=True,
    )
    body = wire.course_body(settings, code="MOC-2026")
    assert body["course_date_end"] == "2026-12-31 23:59:59"
    assert body["course_date_start"] == "2026-01-01 00:00:00"
    assert body["enrollment_policy"] == 0 and body["visibility"] == 2
    detail = {
        "id": 42,
        "code": body["code"],
        "name": body["name"],
        "description": body["description"],
        "type": body["course_type"],
        "is_published": True,
        "can_self_unenroll": body["can_self_unenroll"],
        "enrollment_policy": body["enrollment_policy"],
        "course_date_start": body["course_date_start"],
        "course_date_end": body["course_date_end"],
        "in_soft_deadline": body["soft_deadline"],
        "visibility": body["visibility"],
    }
    course = wire.course_from_detail(detail, EP)
    assert course.id == 42 and course.code == "MOC-2026"
    assert course.settings == settings
    assert "code" not in wire.course_body(settings)  # updates never touch the natural key


def test_group_rules_translate_course_ids_to_codes():
    body = wire.group_body("d", [[11, 12], [13]], "ANY", name="Certified: X")
    assert body["rule_sets"][0]["rules"][1] == {
        "condition_type": "course_completed",
        "condition_value": "12",
    }
    data = {**body, "group_id": "7", "type": "automatic"}
    codes = {11: "WP-101", 12: "WP-102"}
    group = wire.group_from_detail(data, codes.get, EP)
    assert group.id == 7 and group.automatic
    assert group.rules == (GroupRule(("WP-101", "WP-102")), GroupRule(("#13",)))


def test_enrollment_bodies_use_codes_and_inclusive_end():
    row = NewEnrollment(
        user_id=5,
        course_id=42,
        status=EnrollmentStatus.COMPLETED,
        completed_at=datetime(2026, 2, 1, 12, tzinfo=UTC),
        valid_until=datetime(2027, 1, 1, tzinfo=UTC),
    )
    item = wire.batch_item(row)
    assert item == {
        "course_id": 42,
        "user_id": 5,
        "level": 3,
        "status": "completed",
        "completion_date": "2026-02-01 12:00:00",
        "date_expire_validity": "2026-12-31 23:59:59",
    }
    update = EnrollmentUpdate(course_id=42, user_ids=(5, 6), status=EnrollmentStatus.SUSPENDED)
    assert wire.enrollment_update_body(update, [5, 6]) == {
        "user_ids": [5, 6],
        "course_ids": [42],
        "status": 3,
    }


def test_path_templates_and_permissions():
    assert wire.path_template("/learn/v1/courses/42") == "/learn/v1/courses/{id}"
    assert wire.path_template("/course/v1/courses/enrollments") == (
        "/course/v1/courses/enrollments"
    )
    assert "Enrollments" in wire.permission_for("/learn/v1/enrollments/4/5")
    assert "Course" in wire.permission_for("/learn/v1/courses/4")


def test_error_detail_reads_yii_and_oauth_shapes():
    assert wire.error_detail(
        {"message": "bad", "errors": [{"field": "code", "message": "taken"}]}
    ) == ("bad; taken", "code")
    assert wire.error_detail({"error": "invalid_grant", "error_description": "nope"})[0]


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_instants_round_trip_through_the_wire(moment):
    instant = moment.replace(microsecond=0, tzinfo=UTC)
    assert wire.parse_instant(wire.format_instant(instant), "f", EP) == instant
    assert wire.parse_end_instant(wire.format_end_instant(instant), "f", EP) == instant
