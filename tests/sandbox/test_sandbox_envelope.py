"""Envelope, paging, cursors and error bodies, as Docebo shapes them."""

from __future__ import annotations

import pytest
from sandbox_helpers import all_items

pytestmark = pytest.mark.anyio

LIST_KEYS = {
    "count",
    "has_more_data",
    "current_page",
    "current_page_size",
    "total_page_count",
    "sort",
    "items",
}


async def test_list_envelope_fields(client):
    answer = await client.get("/manage/v1/user", params={"page_size": 2})
    body = answer.json()
    assert set(body) == {"data", "version", "_links"}
    assert body["version"] == "1.0.0"
    assert set(body["_links"]) == {"self", "first", "last", "goto"}
    data = body["data"]
    assert set(data) == LIST_KEYS  # no total_count, no cursor unless asked
    assert data["count"] == 2
    assert data["current_page"] == 1
    assert data["current_page_size"] == 2
    assert data["has_more_data"] is True
    assert data["total_page_count"] == 3  # 6 users (admin + 5)
    assert data["sort"] == [{"sort_attr": "first_name", "sort_dir": "desc"}]


async def test_single_object_envelope_has_empty_links_list(client):
    body = (await client.get("/manage/v1/user/12000")).json()
    assert body["_links"] == []
    assert body["version"] == "1.0.0"


async def test_total_count_only_when_asked(client):
    data = (await client.get("/manage/v1/user", params={"get_total_count": 1})).json()["data"]
    assert data["total_count"] == 6


async def test_last_page_and_page_past_the_end(client):
    last = (await client.get("/manage/v1/user", params={"page_size": 4, "page": 2})).json()
    assert last["data"]["count"] == 2
    assert last["data"]["has_more_data"] is False
    assert last["_links"]["last"].endswith("page=2")
    past = (await client.get("/manage/v1/user", params={"page_size": 4, "page": 9})).json()
    assert past["data"]["items"] == []
    assert past["data"]["has_more_data"] is False
    assert past["data"]["current_page"] == 9


async def test_empty_list(client):
    data = (await client.get("/audiences/v1/audience")).json()["data"]
    assert data["items"] == []
    assert data["count"] == 0
    assert data["has_more_data"] is False
    assert data["total_page_count"] == 1


async def test_default_page_sizes(client):
    courses = (await client.get("/learn/v1/courses")).json()["data"]
    users = (await client.get("/manage/v1/user")).json()["data"]
    assert courses["current_page_size"] == 20
    assert users["current_page_size"] == 200


async def test_page_size_above_maximum_is_clamped(client):
    data = (await client.get("/manage/v1/user", params={"page_size": 5000})).json()["data"]
    assert data["current_page_size"] == 200
    await client.put("/_sandbox/settings", json={"max_page_size": 4})
    data = (await client.get("/manage/v1/user", params={"page_size": 50})).json()["data"]
    assert data["current_page_size"] == 4
    assert data["count"] == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page": 0}, "page"),
        ({"get_total_count": "maybe"}, "get_total_count"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
async def test_bad_paging_parameters_are_400_naming_the_field(client, params, field):
    answer = await client.get("/manage/v1/user", params=params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == 400
    assert body["name"] == "Bad Request"
    assert body["errors"][0]["field"] == field


async def test_cursor_paging_walks_every_item_once(client):
    seen: list[str] = []
    params = {"page_size": 2, "get_cursor": 1, "sort_attr": "username", "sort_dir": "asc"}
    data = (await client.get("/manage/v1/user", params=params)).json()["data"]
    pages = 1
    while True:
        seen.extend(item["username"] for item in data["items"])
        if not data["has_more_data"]:
            assert "cursor" not in data
            break
        cursor = data["cursor"]
        # page is ignored once a cursor is given
        data = (
            await client.get("/manage/v1/user", params={**params, "cursor": cursor, "page": 99})
        ).json()["data"]
        pages += 1
        assert data["current_page"] == pages
    assert seen == ["admin", "alice", "bob", "carol", "dave", "erin"]


async def test_page_and_cursor_paging_agree_on_enrollments(client):
    by_page = await all_items(client, "/course/v1/courses/enrollments", page_size=3)
    by_cursor = []
    params: dict = {"page_size": 3, "get_cursor": 1}
    while True:
        data = (await client.get("/course/v1/courses/enrollments", params=params)).json()["data"]
        by_cursor.extend(data["items"])
        if not data["has_more_data"]:
            break
        params["cursor"] = data["cursor"]
    assert by_cursor == by_page
    assert len(by_page) == 7


async def test_404_and_405_use_the_error_body(client):
    missing = await client.get("/learn/v1/courses/999")
    assert missing.status_code == 404
    assert missing.json() == {
        "name": "Not Found",
        "message": "course 999 not found",
        "code": 0,
        "status": 404,
    }
    unknown = await client.get("/learn/v1/whatever")
    assert unknown.status_code == 404
    not_allowed = await client.delete("/learn/v1/enrollments")
    assert not_allowed.status_code == 405
    assert not_allowed.json()["name"] == "Method Not Allowed"


async def test_bad_json_body_is_400(client):
    answer = await client.post(
        "/learn/v1/courses", content=b"{", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert "JSON" in answer.json()["message"]
    answer = await client.post("/learn/v1/courses", json=[1, 2])
    assert answer.status_code == 400
