"""Users (read only) and courses (list, create, view, update) with Docebo's quirks."""

from __future__ import annotations

import pytest
from sandbox_helpers import course_id, user_id

pytestmark = pytest.mark.anyio


async def test_user_list_items_have_string_ids_and_status(client):
    items = (
        await client.get("/manage/v1/user", params={"sort_attr": "username", "sort_dir": "asc"})
    ).json()["data"]["items"]
    dave = next(i for i in items if i["username"] == "dave")
    alice = next(i for i in items if i["username"] == "alice")
    assert isinstance(dave["user_id"], str) and dave["user_id"].isdigit()
    assert dave["status"] == "0"  # deactivated
    assert alice["status"] == "1"
    assert alice["fullname"] == "Alice Anders"
    assert alice["level"] == "6"
    assert alice["expiration_date"] is None
    assert [i["username"] for i in items] == ["admin", "alice", "bob", "carol", "dave", "erin"]


async def test_user_search_is_substring_and_case_insensitive(client):
    def names(answer):
        return sorted(i["username"] for i in answer.json()["data"]["items"])

    assert names(await client.get("/manage/v1/user", params={"search_text": "ANDERS"})) == ["alice"]
    assert names(await client.get("/manage/v1/user", params={"search_text": "example.org"})) == [
        "carol"
    ]
    full = await client.get("/manage/v1/user", params={"search_text": "ali", "match_type": "full"})
    assert names(full) == []
    by_mail = await client.get(
        "/manage/v1/user", params={"search_text": "bob@example.com", "match_type": "full"}
    )
    assert names(by_mail) == ["bob"]


async def test_user_sort_default_is_first_name_descending(client):
    items = (await client.get("/manage/v1/user")).json()["data"]["items"]
    assert [i["first_name"] for i in items] == ["Sandbox", "Erin", "Dave", "Carol", "Bob", "Alice"]


async def test_user_bad_sort_is_400(client):
    answer = await client.get("/manage/v1/user", params={"sort_attr": "shoe_size"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "sort_attr"


async def test_user_view_and_404(client):
    uid = await user_id(client, "carol")
    data = (await client.get(f"/manage/v1/user/{uid}")).json()["data"]
    assert data["user_data"]["username"] == "carol"
    assert data["user_data"]["user_id"] == str(uid)
    assert data["additional_fields"] == []
    assert (await client.get("/manage/v1/user/1")).status_code == 404
    assert (await client.get("/manage/v1/user/abc")).status_code == 404


async def test_course_list_vs_detail_quirks_and_zero_dates(client):
    items = (await client.get("/learn/v1/courses")).json()["data"]["items"]
    a101 = next(i for i in items if i["code"] == "A-101")
    assert a101["course_type"] == "elearning" and "type" not in a101
    assert isinstance(a101["id_course"], int)
    assert a101["start_date"] == "0000-00-00" and a101["end_date"] == "0000-00-00"
    m2026 = next(i for i in items if i["code"] == "M-2026")
    assert (m2026["start_date"], m2026["end_date"]) == ("2026-01-01", "2026-12-31")
    detail = (await client.get(f"/learn/v1/courses/{a101['id_course']}")).json()["data"]
    assert detail["type"] == "elearning" and "course_type" not in detail
    assert detail["id"] == a101["id_course"]
    assert detail["course_date_start"] is None
    m_detail = (await client.get(f"/learn/v1/courses/{m2026['id_course']}")).json()["data"]
    assert m_detail["course_date_end"] == "2026-12-31 23:59:59"


async def test_create_course_with_the_articles_properties(client):
    body = {
        "name": "Certified: Alpha",
        "code": "CERT-A",
        "description": "Your Alpha certification status.",
        "course_type": "elearning",
        "status": "published",
        "self_unenrollment_settings": {
            "allow_self_unenrollment_from_course": False,
            "allow_self_unenrollment_from_completed_course": True,
        },
        "enrollment_policy": 0,
        "course_date_start": "2027-01-01 00:00:00",
        "course_date_end": "2027-12-31",
        "soft_deadline": False,
        "visibility": 2,
    }
    created = await client.post("/learn/v1/courses", json=body)
    assert created.status_code == 200, created.text
    new_id = created.json()["data"]["id_course"]
    detail = (await client.get(f"/learn/v1/courses/{new_id}")).json()["data"]
    assert detail["code"] == "CERT-A"
    assert detail["is_published"] is True and detail["status"] == "published"
    # can_self_unenroll is the caller's right (the admin is not enrolled), not the setting.
    assert detail["can_self_unenroll"] is False
    assert detail["self_unenrollment_settings"] == {
        "allow_self_unenrollment_from_course": False,
        "allow_self_unenrollment_from_completed_course": True,
    }
    assert detail["enrollment_policy"] == 0
    assert "visibility" not in detail  # written, never read back (as in Docebo's detail)
    assert detail["in_soft_deadline"] is False
    assert detail["course_date_start"] == "2027-01-01 00:00:00"
    assert detail["course_date_end"] == "2027-12-31 23:59:59"
    assert detail["uidCourse"].startswith("E-")


async def test_new_course_defaults(client):
    created = await client.post("/learn/v1/courses", json={"name": "X", "course_type": "webinar"})
    detail = (await client.get(f"/learn/v1/courses/{created.json()['data']['id_course']}")).json()
    assert detail["data"]["status"] == "under_maintenance"
    assert detail["data"]["code"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"course_type": "elearning"}, "name"),
        ({"name": "X"}, "course_type"),
        ({"name": "X", "course_type": "hologram"}, "course_type"),
        ({"name": "X", "course_type": "elearning", "code": "A-101"}, "code"),
        ({"name": "X", "course_type": "elearning", "enrollment_policy": 7}, "enrollment_policy"),
        ({"name": "X", "course_type": "elearning", "status": "live"}, "status"),
        ({"name": "X", "course_type": ["elearning"]}, "course_type"),
        ({"name": "X", "course_type": "elearning", "status": {"a": 1}}, "status"),
        ({"name": "X", "course_type": "elearning",
          "self_unenrollment_settings": {"allow_self_unenrollment_from_course": "maybe"}},
         "self_unenrollment_settings.allow_self_unenrollment_from_course"),
        ({"name": "X", "course_type": "elearning", "self_unenrollment_settings": True},
         "self_unenrollment_settings"),
        ({"name": "X", "course_type": "elearning", "course_date_end": "31/12/2026"},
         "course_date_end"),
        ({"name": "X", "course_type": "elearning", "course_date_start": "2027-01-01",
          "course_date_end": "2026-12-31"}, "course_date_end"),
    ],
)  # fmt: skip
async def test_create_course_errors_name_the_field(client, body, field):
    answer = await client.post("/learn/v1/courses", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field
    assert field in answer.json()["message"]


async def test_update_course_sets_only_given_fields(client):
    cid = await course_id(client, "A-102")
    answer = await client.put(
        f"/learn/v1/courses/{cid}", json={"status": "published", "course_date_end": "2026-06-30"}
    )
    assert answer.json()["data"] == {"success": True}
    detail = (await client.get(f"/learn/v1/courses/{cid}")).json()["data"]
    assert detail["is_published"] is True
    assert detail["course_date_end"] == "2026-06-30 23:59:59"
    assert detail["name"] == "Alpha 102"
    # clearing with a zero date
    await client.put(f"/learn/v1/courses/{cid}", json={"course_date_end": "0000-00-00 00:00:00"})
    detail = (await client.get(f"/learn/v1/courses/{cid}")).json()["data"]
    assert detail["course_date_end"] is None


async def test_update_course_errors(client):
    cid = await course_id(client, "A-102")
    assert (await client.put("/learn/v1/courses/999", json={"name": "X"})).status_code == 404
    taken = await client.put(f"/learn/v1/courses/{cid}", json={"code": "A-101"})
    assert taken.status_code == 400
    assert taken.json()["errors"][0]["field"] == "code"
    same = await client.put(f"/learn/v1/courses/{cid}", json={"code": "A-102"})
    assert same.status_code == 200


async def test_course_sort_direction_quirk_and_search(client):
    by_name = await client.get(
        "/learn/v1/courses", params={"sort_by": "name", "sort_by_direction": "desc"}
    )
    names = [i["name"] for i in by_name.json()["data"]["items"]]
    assert names == sorted(names, reverse=True)
    # Without a valid direction Docebo ignores sort_by.
    ignored = await client.get("/learn/v1/courses", params={"sort_by": "name"})
    ids = [i["id_course"] for i in ignored.json()["data"]["items"]]
    assert ids == sorted(ids)
    assert ignored.json()["data"]["sort"] == [{"sort_attr": "id_course", "sort_dir": "asc"}]
    found = await client.get("/learn/v1/courses", params={"search_text": "maintenance"})
    assert [i["code"] for i in found.json()["data"]["items"]] == ["M-2026"]


async def test_search_wildcards_are_literal(client):
    answer = await client.get("/manage/v1/user", params={"search_text": "%"})
    assert answer.json()["data"]["items"] == []
    answer = await client.get("/learn/v1/courses", params={"search_text": "_"})
    assert answer.json()["data"]["items"] == []
