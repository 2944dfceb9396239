"""Enrollments: both list endpoints and their filters, writes many/one, and the batch."""

from __future__ import annotations

import pytest
from sandbox_helpers import all_items, course_id, user_id

pytestmark = pytest.mark.anyio


async def _pairs(client, **params) -> set[tuple[str, str]]:
    items = await all_items(client, "/learn/v1/enrollments", **params)
    users = {int(u["user_id"]): u["username"] for u in await all_items(client, "/manage/v1/user")}
    return {(users[i["user_id"]], i["code"]) for i in items}


async def test_learn_list_item_shape_and_zero_dates(client):
    items = await all_items(client, "/learn/v1/enrollments")
    assert len(items) == 7
    bob = await user_id(client, "bob")
    item = next(i for i in items if i["user_id"] == bob and i["code"] == "A-102")
    assert item["id"] == await course_id(client, "A-102")
    assert item["status"] == "in_progress"
    assert item["type"] == "elearning" and item["name"] == "Alpha 102"
    assert item["level"] == 3
    assert item["date_inscr"] == "2025-01-10 09:00:00"
    assert item["course_complete_date"] == "0000-00-00 00:00:00"
    assert item["enroll_begin_date"] == "0000-00-00 00:00:00"
    assert item["enroll_end_date"] == "0000-00-00 00:00:00"
    assert item["soft_deadline"] is False


async def test_learn_list_filters(client):
    alice, bob = await user_id(client, "alice"), await user_id(client, "bob")
    a101 = await course_id(client, "A-101")
    assert await _pairs(client, **{"id_user[]": [alice]}) == {
        ("alice", "A-101"),
        ("alice", "A-102"),
    }
    assert await _pairs(client, **{"id_user[0]": alice, "id_user[1]": bob}) == {
        ("alice", "A-101"), ("alice", "A-102"), ("bob", "A-101"), ("bob", "A-102")}  # fmt: skip
    by_course = await _pairs(client, **{"id_course[]": [a101]})
    assert by_course == {("alice", "A-101"), ("bob", "A-101"), ("dave", "A-101"),
                         ("erin", "A-101")}  # fmt: skip
    assert await _pairs(client, **{"code_course[]": ["A-EXAM"]}) == {("carol", "A-EXAM")}
    assert await _pairs(client, **{"status[]": ["in_progress"]}) == {("bob", "A-102")}
    assert await _pairs(client, **{"status[]": ["suspended"]}) == {("erin", "A-101")}
    assert await _pairs(client, **{"status[]": ["not_started"]}) == {("dave", "A-101")}
    assert len(await _pairs(client, **{"status[]": ["2"]})) == 4
    combined = await _pairs(client, **{"code_course[]": ["A-101"], "status[]": ["completed"]})
    assert combined == {("alice", "A-101"), ("bob", "A-101")}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status[]": "done"}, "status[]"), ({"id_user[]": "x"}, "id_user[]"),
     ({"id_course[]": "1.5"}, "id_course[]")],
)  # fmt: skip
async def test_learn_list_bad_filters_are_400(client, params, field):
    answer = await client.get("/learn/v1/enrollments", params=params)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field


async def test_course_v1_list_shape_filters_and_null_dates(client):
    a101 = await course_id(client, "A-101")
    erin = await user_id(client, "erin")
    items = await all_items(client, "/course/v1/courses/enrollments", **{"course_id[]": [a101]})
    assert len(items) == 4
    statuses = {i["user_id"]: i["enrollment_status"] for i in items}
    assert statuses[await user_id(client, "dave")] == "enrolled"
    assert statuses[erin] == "suspended"
    erin_item = next(i for i in items if i["user_id"] == erin)
    # The names production readers of course rows use, by default.
    assert erin_item["enrollment_validity_begin_date"] == "2024-06-01 00:00:00"
    assert erin_item["enrollment_validity_end_date"] == "2024-12-31 23:59:59"
    assert "enrollment_validity_end_datetime" not in erin_item
    assert erin_item["enrollment_completion_date"] is None
    assert erin_item["enrollment_level"] == "student"
    assert erin_item["course_id"] == a101
    only = await all_items(
        client, "/course/v1/courses/enrollments", **{"course_id[]": [a101], "user_id[]": [erin]}
    )
    assert [i["user_id"] for i in only] == [erin]


async def test_enroll_many_with_error_rows(client):
    cert = (
        await client.post(
            "/learn/v1/courses", json={"name": "Cert", "code": "CERT", "course_type": "elearning"}
        )
    ).json()
    cert_id = cert["data"]["id_course"]
    alice, bob = await user_id(client, "alice"), await user_id(client, "bob")
    a101 = await course_id(client, "A-101")
    answer = await client.post(
        "/learn/v1/enrollments",
        json={
            "course_ids": [cert_id, a101],
            "user_ids": [alice, bob, 99999],
            "level": 3,
            "date_begin_validity": "2026-01-01 00:00:00",
            "date_expire_validity": "2026-12-31 23:59:59",
        },
    )
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert {(r["id_user"], r["id_course"]) for r in data["enrolled"]} == {
        (alice, cert_id), (bob, cert_id)}  # fmt: skip
    messages = {(r["id_user"], r["id_course"]): r["message"] for r in data["errors"]}
    assert messages[(alice, a101)] == "User already enrolled"
    assert "User not found" in messages[(99999, cert_id)]
    one = (await client.get(f"/learn/v1/enrollments/{cert_id}/{alice}")).json()["data"]["records"]
    assert one["status"] == "subscribed"
    assert one["enroll_begin_date"] == "2026-01-01 00:00:00"
    assert one["enroll_end_date"] == "2026-12-31 23:59:59"


async def test_enroll_many_requires_ids(client):
    answer = await client.post("/learn/v1/enrollments", json={"user_ids": [1]})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "course_ids"


async def test_update_many_numeric_status_and_missing_pairs(client):
    alice, bob, dave = [await user_id(client, n) for n in ("alice", "bob", "dave")]
    a102 = await course_id(client, "A-102")
    answer = await client.put(
        "/learn/v1/enrollments",
        json={"user_ids": [bob, dave], "course_ids": [a102], "status": 2,
              "date_complete": "2026-03-01 10:00:00"},
    )  # fmt: skip
    data = answer.json()["data"]
    assert data == {
        "updated": [{"course_id": a102, "user_id": bob}],
        "not_updated": [
            {
                "validation_errors": ["User is not enrolled in the course"],
                "invalid_enrollments": [{"course_id": a102, "user_id": dave}],
            }
        ],
    }
    item = (await client.get(f"/learn/v1/enrollments/{a102}/{bob}")).json()["data"]["records"]
    assert item["status"] == "completed"
    assert item["course_complete_date"] == "2026-03-01 10:00:00"
    # The same update again is idempotent.
    again = await client.put(
        "/learn/v1/enrollments", json={"user_id": [bob], "course_id": [a102], "status": 2}
    )
    assert again.json()["data"] == {"updated": [{"course_id": a102, "user_id": bob}],
                                    "not_updated": []}  # fmt: skip
    item = (await client.get(f"/learn/v1/enrollments/{a102}/{bob}")).json()["data"]["records"]
    assert item["course_complete_date"] == "2026-03-01 10:00:00"
    assert alice  # alice untouched
    alice_item = await client.get(f"/learn/v1/enrollments/{a102}/{alice}")
    assert alice_item.json()["data"]["records"]["course_complete_date"] == "2025-03-01 12:00:00"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"status": 9}, "status"), ({"status": "done"}, "status"),
     ({"date_expire_validity": "someday"}, "date_expire_validity"),
     ({"level": 5}, "level")],
)  # fmt: skip
async def test_update_many_bad_values_are_400(client, body, field):
    answer = await client.put(
        "/learn/v1/enrollments", json={"user_ids": [12001], "course_ids": [1], **body}
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field


async def test_suspend_and_validity_end_written_as_end_of_day(client):
    alice, a101 = await user_id(client, "alice"), await course_id(client, "A-101")
    answer = await client.put(
        f"/learn/v1/enrollments/{a101}/{alice}",
        json={
            "status": 3,
            "date_begin_validity": "2026-01-01",
            "date_expire_validity": "2026-12-31",
        },
    )
    assert answer.json()["data"] == {"success": True}
    item = (await client.get(f"/learn/v1/enrollments/{a101}/{alice}")).json()["data"]["records"]
    assert item["status"] == "suspended"
    assert item["enroll_end_date"] == "2026-12-31 23:59:59"
    assert item["course_complete_date"] == "2025-02-01 12:00:00"  # history kept


async def test_one_enrollment_get_post_put_and_404s(client):
    erin, a102 = await user_id(client, "erin"), await course_id(client, "A-102")
    assert (await client.get(f"/learn/v1/enrollments/{a102}/{erin}")).status_code == 404
    created = await client.post(f"/learn/v1/enrollments/{a102}/{erin}", json={"level": 3})
    assert created.json()["data"]["enrolled"] == [{"id_user": erin, "id_course": a102}]
    again = await client.post(f"/learn/v1/enrollments/{a102}/{erin}", json={})
    assert again.json()["data"]["errors"][0]["message"] == "User already enrolled"
    assert (await client.put(f"/learn/v1/enrollments/{a102}/{erin}", json={"status": 1})).json()[
        "data"
    ] == {"success": True}
    item = (await client.get(f"/learn/v1/enrollments/{a102}/{erin}")).json()["data"]["records"]
    assert item["status"] == "in_progress"
    assert (await client.put(f"/learn/v1/enrollments/{a102}/99999", json={})).status_code == 404
    assert (await client.post(f"/learn/v1/enrollments/999/{erin}", json={})).status_code == 404


async def test_batch_rows_with_errors_and_options(client):
    answer = await client.post(
        "/learn/v1/enrollment/batch",
        json={
            "items": [
                {
                    "course_code": "A-EXAM",
                    "username": "alice",
                    "status": "completed",
                    "completion_date": "2026-02-02 10:00:00",
                },
                {"course_code": "A-EXAM", "username": "nobody"},
                {"course_code": "NOPE", "username": "alice"},
                {"course_code": "A-EXAM", "username": "dave"},
                {"course_code": "A-101", "username": "alice"},
                {"course_code": "A-EXAM", "username": "bob", "status": "finished"},
                {"course_id": "abc", "user_id": 1},
                {"course_code": "A-EXAM", "username": "erin", "active_until": "2026-12-31"},
            ],
            "options": {"trigger_notifications": True},
        },
    )
    assert answer.status_code == 200
    rows = answer.json()["data"]
    assert [r["row_index"] for r in rows] == list(range(8))
    assert [r["success"] for r in rows] == [True, False, False, False, False, False, False, True]
    assert "User not found" in rows[1]["message"]
    assert "Course not found" in rows[2]["message"]
    assert "deactivated" in rows[3]["message"]
    assert rows[4]["message"] == "User already enrolled"
    assert "status" in rows[5]["message"]
    assert rows[0]["course_id"] == await course_id(client, "A-EXAM")
    assert rows[0]["user_id"] == await user_id(client, "alice")
    erin = await user_id(client, "erin")
    exam = await course_id(client, "A-EXAM")
    item = (await client.get(f"/learn/v1/enrollments/{exam}/{erin}")).json()["data"]["records"]
    assert item["enroll_end_date"] == "2026-12-31 23:59:59"


async def test_batch_options_enroll_disabled_and_recertification(client):
    answer = await client.post(
        "/learn/v1/enrollment/batch",
        json={
            "items": [
                {"course_code": "A-EXAM", "username": "dave"},
                {"course_code": "A-101", "username": "bob", "status": "suspended"},
            ],
            "options": {"enroll_disabled_users": True, "duplicates_as_recertification": True},
        },
    )
    assert [r["success"] for r in answer.json()["data"]] == [True, True]
    bob, a101 = await user_id(client, "bob"), await course_id(client, "A-101")
    item = (await client.get(f"/learn/v1/enrollments/{a101}/{bob}")).json()["data"]["records"]
    assert item["status"] == "suspended"


async def test_batch_without_items_is_400(client):
    answer = await client.post("/learn/v1/enrollment/batch", json={"options": {}})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "items"
    bad_option = await client.post(
        "/learn/v1/enrollment/batch",
        json={"items": [{}], "options": {"enroll_disabled_users": "perhaps"}},
    )
    assert bad_option.status_code == 400


async def test_unknown_course_code_filter_is_an_empty_list(client):
    data = (await client.get("/learn/v1/enrollments", params={"code_course[]": "NOPE"})).json()
    assert data["data"]["items"] == [] and data["data"]["count"] == 0


async def test_ids_beyond_integer_range(client):
    assert (await client.get("/learn/v1/courses/99999999999999999999999")).status_code == 404
    answer = await client.get("/learn/v1/enrollments", params={"id_user[]": "9" * 30})
    assert answer.status_code == 400
    assert "out of range" in answer.json()["message"]


async def test_batch_enrollment_date_and_enrollment_date_now(client):
    await client.put("/_sandbox/clock", json={"now": "2026-04-01T10:00:00Z"})
    rows = [{"course_code": "A-EXAM", "username": "bob", "enrollment_date": "2025-12-01 08:00:00"}]
    await client.post("/learn/v1/enrollment/batch", json={"items": rows})
    now_rows = [{**rows[0], "username": "erin"}]
    await client.post(
        "/learn/v1/enrollment/batch",
        json={"items": now_rows, "options": {"enrollment_date_now": True}},
    )
    exam = await course_id(client, "A-EXAM")
    items = await all_items(client, "/learn/v1/enrollments", **{"id_course[]": [exam]})
    dates = {i["user_id"]: i["date_inscr"] for i in items}
    assert dates[await user_id(client, "bob")] == "2025-12-01 08:00:00"
    assert dates[await user_id(client, "erin")] == "2026-04-01 10:00:00"


async def test_batch_row_with_validity_end_before_begin_is_a_row_error(client):
    # The same order check as the many/one writes, but as a row error: the row after it
    # is still enrolled.
    rows = [
        {
            "course_code": "A-EXAM",
            "username": "bob",
            "active_from": "2026-06-01",
            "active_until": "2026-01-31",
        },
        {"course_code": "A-EXAM", "username": "erin", "active_from": "2026-06-01"},
    ]
    answer = await client.post("/learn/v1/enrollment/batch", json={"items": rows})
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert [r["success"] for r in data] == [False, True]
    assert data[0]["message"].startswith("active_until:")
    assert "before active_from" in data[0]["message"]
    exam = await course_id(client, "A-EXAM")
    bob = await user_id(client, "bob")
    assert (await client.get(f"/learn/v1/enrollments/{exam}/{bob}")).status_code == 404
