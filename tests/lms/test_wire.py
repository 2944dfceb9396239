"""The Docebo wire module: dates, ids, statuses, envelopes and bodies."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certops.lms import paths, wire
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
    assert body["status"] == "published"
    assert body["self_unenrollment_settings"]["allow_self_unenrollment_from_course"] is False
    assert "can_self_unenroll" not in body  # the caller's right, not a course setting
    detail = {
        "id": 42,
        "code": body["code"],
        "name": body["name"],
        "description": body["description"],
        "type": body["course_type"],
        "is_published": True,
        "status": "non_subscribed",  # the caller's enrollment status, not publication
        "can_self_unenroll": True,
        "self_unenrollment_settings": body["self_unenrollment_settings"],
        "enrollment_policy": body["enrollment_policy"],
        "course_date_start": body["course_date_start"],
        "course_date_end": body["course_date_end"],
        "in_soft_deadline": body["soft_deadline"],
    }
    course = wire.course_from_detail(detail, EP)
    assert course.id == 42 and course.code == "MOC-2026"
    # Visibility is not in the detail: read as unknown, and listed as unread.
    assert course.settings == dataclasses.replace(settings, visible_only_to_enrolled=None)
    assert course.unread == {"visible_only_to_enrolled"}
    assert "code" not in wire.course_body(settings)  # updates never touch the natural key


def test_course_update_sends_only_the_fields_asked_for():
    settings = CourseSettings(name="n", date_end=datetime(2027, 1, 1, tzinfo=UTC))
    body = wire.course_body(settings, only={"date_end", "name"})
    assert body == {"course_date_end": "2026-12-31 23:59:59", "name": "n"}
    # A setting never known (visibility None) is never sent.
    assert "visibility" not in wire.course_body(settings)


def test_course_detail_without_a_setting_lists_it_as_unread():
    course = wire.course_from_detail({"id": 1, "code": "C", "name": "n"}, EP)
    assert course.unread == {
        "published",
        "self_unenrollment",
        "enrollment_policy",
        "soft_deadline",
        "visible_only_to_enrolled",
    }
    listed = wire.course_from_item({"id_course": 1, "code": "C", "name": "n"}, EP)
    assert "self_unenrollment" in listed.unread  # can_self_unenroll is the caller's right


def test_audience_rules_translate_course_ids_to_codes():
    body = wire.group_body("d", [[11, 12], [13]], "ANY", name="Certified: X")
    assert body["type"] == "automatic" and body["exclude_deactivated_users"] is True
    assert body["ruleset"]["operator"] == "OR"
    assert body["ruleset"]["sets"][0] == {
        "rules_operator": "AND",
        "rules": [
            {
                "type": "CourseEnrollmentStatus",
                "payload": {"course_ids": [11], "status": "completed"},
            },
            {
                "type": "CourseEnrollmentStatus",
                "payload": {"course_ids": [12], "status": "completed"},
            },
        ],
    }
    data = {**body, "uuid": "0e8f6c52-6b4e-4a6a-9d1e-5a0c2d3b4f11"}
    codes = {11: "WP-101", 12: "WP-102"}
    group = wire.group_from_detail(data, codes.get, EP)
    assert group.id == "0e8f6c52-6b4e-4a6a-9d1e-5a0c2d3b4f11" and group.automatic
    assert group.rules_operator == "ANY" and group.exclude_deactivated
    assert group.rules == (GroupRule(("WP-101", "WP-102")), GroupRule(("#13",)))


def test_audience_rules_certops_does_not_write_never_match_a_code():
    data = {
        "uuid": "u",
        "name": "g",
        "type": "automatic",
        "ruleset": {
            "operator": "AND",
            "sets": [
                {
                    "rules_operator": "AND",
                    "rules": [
                        {"type": "BranchMembership", "payload": {"branch_ids": [1]}},
                        # One rule naming two courses: its meaning (all? any?) is not
                        # documented, so it is kept as text and rewritten by the plan.
                        {
                            "type": "CourseEnrollmentStatus",
                            "payload": {"course_ids": [11, 12], "status": "completed"},
                        },
                        {
                            "type": "CourseEnrollmentStatus",
                            "payload": {"course_id": 11, "status": 2},
                        },
                    ],
                },
                {"rules_operator": "OR", "rules": []},
            ],
        },
    }
    group = wire.group_from_detail(data, {11: "WP-101"}.get, EP)
    assert group.rules_operator == "ALL"
    first, second = group.rules
    assert first.completed_all[0].startswith("BranchMembership=")
    assert first.completed_all[1].startswith("CourseEnrollmentStatus=")
    assert first.completed_all[2] == "WP-101"  # course_id and numeric status accepted
    assert second.completed_all == ("rules_operator=ANY",)


def test_enrollment_bodies_use_documented_fields_and_inclusive_end():
    row = NewEnrollment(
        user_id=5,
        course_id=42,
        status=EnrollmentStatus.COMPLETED,
        completed_at=datetime(2026, 2, 1, 12, tzinfo=UTC),
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=datetime(2027, 1, 1, tzinfo=UTC),
    )
    item = wire.batch_item(row)
    assert item == {
        "course_id": 42,
        "user_id": 5,
        "level": "student",
        "status": "completed",
        "batch_item_id": "5:42",
        "completion_date": "2026-02-01 12:00:00",
        "active_from": "2026-01-01 00:00:00",
        "active_until": "2026-12-31 23:59:59",
    }
    update = EnrollmentUpdate(course_id=42, user_ids=(5, 6), status=EnrollmentStatus.SUSPENDED)
    # The id arrays under both names the record shows (the schema's and a community's).
    assert wire.enrollment_update_body(update, [5, 6]) == {
        "user_id": [5, 6],
        "course_id": [42],
        "user_ids": [5, 6],
        "course_ids": [42],
        "status": 3,
    }


def test_enrollment_reads_accept_either_validity_suffix():
    base = {"user_id": 1, "course_id": 2, "enrollment_status": "enrolled"}
    dated = wire.enrollment_from_item(
        {
            **base,
            "enrollment_validity_begin_date": "2026-01-01 00:00:00",
            "enrollment_validity_end_date": "2026-12-31 23:59:59",
        },
        EP,
    )
    timed = wire.enrollment_from_item(
        {
            **base,
            "enrollment_validity_begin_datetime": "2026-01-01 00:00:00",
            "enrollment_validity_end_datetime": "2026-12-31 23:59:59",
        },
        EP,
    )
    assert dated == timed
    assert dated.valid_until == datetime(2027, 1, 1, tzinfo=UTC)


def test_multi_update_answers_in_both_documented_shapes():
    documented = wire.update_answer(
        {
            "data": {
                "updated": [{"course_id": 42, "user_id": 5}],
                "not_updated": [
                    {
                        "validation_errors": [{"ids": [{"messages": ["not enrolled"]}]}],
                        "invalid_enrollments": [{"course_id": "42", "user_id": "6"}],
                    }
                ],
            }
        },
        EP,
    )
    assert documented.updated == {(5, 42)}
    assert documented.failed == {(6, 42): "not enrolled"}
    older = wire.update_answer(
        {
            "data": {
                "updated": [{"id_user": 5, "id_course": 42}],
                "errors": [{"id_user": 6, "id_course": 42, "message": "nope"}],
            }
        },
        EP,
    )
    assert older.updated == {(5, 42)} and older.failed == {(6, 42): "nope"}
    assert not wire.update_answer({"data": {"success": True}}, EP).stated


def test_path_templates_and_permissions():
    assert paths.path_template("/learn/v1/courses/42") == "/learn/v1/courses/{id}"
    assert paths.path_template("/course/v1/courses/enrollments") == (
        "/course/v1/courses/enrollments"
    )
    assert paths.path_template("/audiences/v1/audience/0e8f6c52-6b4e-4a6a-9d1e-5a0c2d3b4f11") == (
        "/audiences/v1/audience/{id}"
    )
    assert "Enrollments" in paths.permission_for("/learn/v1/enrollments/4/5")
    assert "Course" in paths.permission_for("/learn/v1/courses/4")
    assert "Groups" in paths.permission_for("/audiences/v1/audience/x")


def test_error_detail_reads_yii_and_oauth_shapes():
    assert wire.error_detail(
        {"message": "bad", "errors": [{"field": "code", "message": "taken"}]}
    ) == ("bad; taken", "code")
    assert wire.error_detail({"error": "invalid_grant", "error_description": "nope"})[0]
    # Some services (audiences) answer ``message`` as a list of texts.
    assert wire.error_detail({"message": ["name taken", "too long"]})[0] == "name taken; too long"


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_instants_round_trip_through_the_wire(moment):
    instant = moment.replace(microsecond=0, tzinfo=UTC)
    assert wire.parse_instant(wire.format_instant(instant), "f", EP) == instant
    assert wire.parse_end_instant(wire.format_end_instant(instant), "f", EP) == instant
