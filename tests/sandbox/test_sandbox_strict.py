"""Strict by default (unknown fields are 400s naming them), lenient on request, the
``drop_fields`` fault, and the write shapes a client must follow: batch items, the
multi-update answer, who-am-I."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sandbox_helpers import PASSWORD_GRANT, course_id, user_id

from certops.sandbox import create_app, init_sandbox

pytestmark = pytest.mark.anyio


async def _fields_of(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["name"] == "Bad Request" and body["status"] == 400
    return [e["field"] for e in body["errors"]]


@pytest.mark.parametrize(
    ("method", "path", "body", "fields"),
    [
        # the legacy batch validity keys, and an integer level is a row problem (below)
        ("POST", "/learn/v1/enrollment/batch",
         {"items": [{"course_id": 1, "user_id": 12001,
                     "date_begin_validity": "2026-01-01", "date_expire_validity": "2026-12-31"}]},
         ["items[0].date_begin_validity", "items[0].date_expire_validity"]),
        ("POST", "/learn/v1/enrollment/batch",
         {"items": [{"course_id": 1, "user_id": 12001}], "options": {"send_emails": True}},
         ["options.send_emails"]),
        ("POST", "/learn/v1/enrollment/batch",
         {"items": [{"course_id": 1, "user_id": 12001}], "trigger_gamification": False},
         ["trigger_gamification"]),
        # can_self_unenroll is the caller's right, no longer a write field
        ("POST", "/learn/v1/courses",
         {"name": "X", "course_type": "elearning", "can_self_unenroll": False},
         ["can_self_unenroll"]),
        ("POST", "/learn/v1/courses",
         {"name": "X", "course_type": "elearning",
          "self_unenrollment_settings": {"allow_self_unenrollment": False}},
         ["self_unenrollment_settings.allow_self_unenrollment"]),
        ("POST", "/audiences/v1/audience",
         {"name": "G", "type": "automatic",
          "ruleset": {"sets": [{"rules": [], "foo": 1}], "operator": "OR"}},
         ["ruleset.sets[0].foo"]),
        ("POST", "/audiences/v1/audience",
         {"name": "G", "rule_sets": [], "assign_rules": 1}, ["rule_sets", "assign_rules"]),
        ("POST", "/audiences/v1/audience",
         {"name": "G", "type": "automatic", "ruleset": {"sets": [{"rules": [
             {"type": "CourseEnrollmentStatus",
              "payload": {"course_ids": [1], "status": "completed", "days": 3}}]}]}},
         ["ruleset.sets[0].rules[0].payload.days"]),
        ("PUT", "/learn/v1/enrollments",
         {"user_ids": [12001], "course_ids": [1], "status": 2, "score_given": 90},
         ["score_given"]),
        ("POST", "/learn/v1/catalog/batch",
         {"items": [{"code": "C", "name": "C", "visible": True}]}, ["items[0].visible"]),
    ],
)  # fmt: skip
async def test_strict_rejects_unknown_body_fields_by_path(client, method, path, body, fields):
    before = (await client.get("/_sandbox/")).json()["counts"]
    answer = await client.request(method, path, json=body)
    assert await _fields_of(answer) == fields
    assert f"unknown field '{fields[0]}'" in answer.json()["message"]
    assert (await client.get("/_sandbox/")).json()["counts"] == before  # nothing written


async def test_course_update_does_not_take_the_type(client):
    a101 = await course_id(client, "A-101")
    answer = await client.put(f"/learn/v1/courses/{a101}", json={"course_type": "webinar"})
    assert await _fields_of(answer) == ["course_type"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/learn/v1/courses", {"updated_from": "2026-01-01"}, "updated_from"),
        ("/manage/v1/user", {"page_size": 5, "sort": "username"}, "sort"),
        ("/course/v1/courses/enrollments", {"extra_fields[]": "enrollment_time_spent"},
         "extra_fields"),
        ("/audiences/v1/audience", {"name": "x"}, "name"),
        ("/manage/v1/user/session", {"verbose": 1}, "verbose"),
    ],
)  # fmt: skip
async def test_strict_rejects_unknown_query_parameters(client, path, params, field):
    assert await _fields_of(await client.get(path, params=params)) == [field]


async def test_known_fields_pass_in_strict_mode(client):
    a101 = await course_id(client, "A-101")
    listed = await client.get(
        "/learn/v1/enrollments",
        params={"id_course[]": a101, "status[]": "completed", "page_size": 2,
                "get_total_count": 1, "get_cursor": 1},
    )  # fmt: skip
    assert listed.status_code == 200, listed.text
    created = await client.post(
        "/learn/v1/courses",
        json={"name": "Cert", "code": "CERT", "course_type": "elearning", "visibility": 2,
              "self_unenrollment_settings": {"allow_self_unenrollment_from_course": False}},
    )  # fmt: skip
    assert created.status_code == 200, created.text


async def test_lenient_ignores_unknown_fields_like_docebo(client):
    settings = await client.put("/_sandbox/settings", json={"lenient": True})
    assert settings.json()["lenient"] is True
    a101, erin = await course_id(client, "A-101"), await user_id(client, "erin")
    created = await client.post(
        "/learn/v1/courses?updated_from=2026",
        json={"name": "Cert", "code": "CERT", "course_type": "elearning",
              "can_self_unenroll": False, "language": "english"},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    detail = (await client.get(f"/learn/v1/courses/{created.json()['data']['id_course']}")).json()
    # The unknown field was ignored: the setting keeps its default.
    assert detail["data"]["self_unenrollment_settings"]["allow_self_unenrollment_from_course"]
    cert = created.json()["data"]["id_course"]
    batch = await client.post(
        "/learn/v1/enrollment/batch",
        json={"items": [{"course_id": cert, "user_id": erin, "level": 3,
                         "date_expire_validity": "2026-12-31"}]},
    )  # fmt: skip
    assert batch.json()["data"][0]["success"] is True, batch.text
    item = (await client.get(f"/learn/v1/enrollments/{cert}/{erin}")).json()["data"]["records"]
    assert item["enroll_end_date"] == "0000-00-00 00:00:00"  # ignored, as Docebo would
    assert item["level"] == 3
    params = {"course_id[]": a101, "extra_fields[]": "x"}
    listed = await client.get("/course/v1/courses/enrollments", params=params)
    assert listed.status_code == 200
    # Back to strict.
    await client.put("/_sandbox/settings", json={"lenient": False})
    again = await client.get("/course/v1/courses/enrollments", params={"extra_fields[]": "x"})
    assert again.status_code == 400


async def test_lenient_is_stored_in_the_file(tmp_path: Path):
    """Set by init, seen by every application that opens the file (served or in-process)."""
    path = tmp_path / "lenient.db"
    init_sandbox(path, lenient=True)
    transport = httpx.ASGITransport(app=create_app(path))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        token = (await client.post("/oauth2/token", data=PASSWORD_GRANT)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        assert (await client.get("/_sandbox/settings")).json()["lenient"] is True
        answer = await client.get("/manage/v1/user", params={"whatever": 1})
        assert answer.status_code == 200
        await client.put("/_sandbox/settings", json={"lenient": False})
    # A second application on the same file sees the change.
    transport = httpx.ASGITransport(app=create_app(path))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as other:
        assert (await other.get("/_sandbox/settings")).json()["lenient"] is False


async def test_batch_item_shape_active_dates_string_level_and_echo(client):
    erin, carol = await user_id(client, "erin"), await user_id(client, "carol")
    m2026 = await course_id(client, "M-2026")
    answer = await client.post(
        "/learn/v1/enrollment/batch",
        json={
            "items": [
                {"course_id": m2026, "user_id": erin, "level": "student", "status": "subscribed",
                 "active_from": "2026-01-01 00:00:00", "active_until": "2026-12-31 23:59:59",
                 "batch_item_id": "erin-2026"},
                {"course_id": m2026, "user_id": carol, "level": 3, "batch_item_id": "carol-2026"},
                {"course_id": m2026, "user_id": carol, "status": 2},
                {"course_id": m2026, "user_id": carol, "level": "3"},
                {"course_id": m2026, "user_id": carol, "level": "tutor", "status": "completed",
                 "completion_date": "2026-03-01 10:00:00", "active_until": "2026-12-31"},
            ],
            "options": {"enroll_disabled_users": False, "duplicates_as_recertification": False,
                        "trigger_notifications": True},
        },
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    rows = answer.json()["data"]
    assert rows[0] == {"row_index": 0, "success": True, "message": None, "course_id": m2026,
                       "user_id": erin, "batch_item_id": "erin-2026"}  # fmt: skip
    # An integer level and a status code are row problems in strict mode; the echo stays.
    assert rows[1]["success"] is False and rows[1]["message"].startswith("level:")
    assert rows[1]["batch_item_id"] == "carol-2026"
    assert rows[2]["success"] is False and rows[2]["message"].startswith("status:")
    assert "batch_item_id" not in rows[2]
    assert rows[3]["success"] is False and rows[3]["message"].startswith("level:")
    assert rows[4]["success"] is True
    item = (await client.get(f"/learn/v1/enrollments/{m2026}/{erin}")).json()["data"]["records"]
    assert (item["enroll_begin_date"], item["enroll_end_date"]) == (
        "2026-01-01 00:00:00", "2026-12-31 23:59:59")  # fmt: skip
    carol_item = await client.get(f"/learn/v1/enrollments/{m2026}/{carol}")
    records = carol_item.json()["data"]["records"]
    assert records["level"] == 4 and records["status"] == "completed"
    assert records["enroll_end_date"] == "2026-12-31 23:59:59"


async def test_drop_fields_fault_answers_success_and_ignores_the_fields(client):
    faults = await client.put(
        "/_sandbox/faults",
        json={"latency_ms": 0, "drop_fields": ["active_until", "course_date_end"]},
    )
    assert faults.status_code == 200
    assert (await client.get("/_sandbox/faults")).json()["drop_fields"] == [
        "active_until", "course_date_end"]  # fmt: skip
    erin, m2026 = await user_id(client, "erin"), await course_id(client, "M-2026")
    batch = await client.post(
        "/learn/v1/enrollment/batch",
        json={"items": [{"course_id": m2026, "user_id": erin, "level": "student",
                         "active_from": "2026-01-01 00:00:00",
                         "active_until": "2026-12-31 23:59:59", "batch_item_id": "e"}]},
    )  # fmt: skip
    assert batch.json()["data"][0]["success"] is True, batch.text
    item = (await client.get(f"/learn/v1/enrollments/{m2026}/{erin}")).json()["data"]["records"]
    assert item["enroll_begin_date"] == "2026-01-01 00:00:00"
    assert item["enroll_end_date"] == "0000-00-00 00:00:00"  # silently not honoured
    created = await client.post(
        "/learn/v1/courses",
        json={"name": "MOC 2027", "code": "M-2027", "course_type": "elearning",
              "course_date_start": "2027-01-01", "course_date_end": "2027-12-31"},
    )  # fmt: skip
    assert created.status_code == 200
    detail = (await client.get(f"/learn/v1/courses/{created.json()['data']['id_course']}")).json()
    assert detail["data"]["course_date_start"] == "2027-01-01 00:00:00"
    assert detail["data"]["course_date_end"] is None
    # Reset with the other faults.
    assert (await client.put("/_sandbox/faults", json={})).json()["drop_fields"] == []


async def test_drop_fields_reaches_nested_fields_and_reads_are_untouched(client):
    await client.put("/_sandbox/faults", json={"drop_fields": ["exclude_deactivated_users"]})
    created = await client.post(
        "/audiences/v1/audience", json={"name": "G", "exclude_deactivated_users": True}
    )
    audience = created.json()["data"]["uuid"]
    view = (await client.get(f"/audiences/v1/audience/{audience}")).json()["data"]
    assert view["exclude_deactivated_users"] is False
    bad = await client.put("/_sandbox/faults", json={"drop_fields": "active_until"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "drop_fields"


async def test_multi_update_answer_shape(client):
    alice, dave = await user_id(client, "alice"), await user_id(client, "dave")
    a101, a102 = await course_id(client, "A-101"), await course_id(client, "A-102")
    answer = await client.put(
        "/learn/v1/enrollments",
        json={"user_ids": [alice, dave], "course_ids": [a101, a102], "status": 3,
              "date_expire_validity": "2026-06-30 23:59:59"},
    )  # fmt: skip
    assert answer.json()["data"] == {
        "updated": [
            {"course_id": a101, "user_id": alice},
            {"course_id": a101, "user_id": dave},
            {"course_id": a102, "user_id": alice},
        ],
        "not_updated": [
            {
                "validation_errors": ["User is not enrolled in the course"],
                "invalid_enrollments": [{"course_id": a102, "user_id": dave}],
            }
        ],
    }


async def test_session_is_the_token_owner(client, anon):
    answer = await client.get("/manage/v1/user/session")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["id"] == 12000
    assert (data["username"], data["user_level"]) == ("admin", "godadmin")
    assert (data["firstname"], data["lastname"]) == ("Sandbox", "Admin")
    token = await anon.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "certops-sandbox",
              "client_secret": "sandbox-secret"},
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    as_client = await anon.get("/manage/v1/user/session", headers=headers)
    assert as_client.json()["data"]["username"] == "admin"
    del anon.headers["Authorization"]
    assert (await anon.get("/manage/v1/user/session")).status_code == 401


async def test_patch_faults_merges_drop_fields_with_the_others(client):
    await client.put("/_sandbox/faults", json={"rate_limit": {"calls": 100, "window_s": 60}})
    merged = await client.patch("/_sandbox/faults", json={"drop_fields": ["active_until"]})
    assert merged.status_code == 200, merged.text
    faults = (await client.get("/_sandbox/faults")).json()
    assert faults["rate_limit"] == {"calls": 100, "window_s": 60}
    assert faults["drop_fields"] == ["active_until"]
    off = await client.patch("/_sandbox/faults", json={"rate_limit": None})
    assert off.json()["rate_limit"] is None and off.json()["drop_fields"] == ["active_until"]
    await client.put("/_sandbox/faults", json={})
    assert (await client.get("/_sandbox/faults")).json()["drop_fields"] == []
