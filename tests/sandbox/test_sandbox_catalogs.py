"""Catalogs: list, view, batch create and items batch with per-row results."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_catalog_batch_create_rows(client):
    answer = await client.post(
        "/learn/v1/catalog/batch",
        json={"items": [{"code": "NEW", "name": "New one"}, {"code": "SF-SYNC", "name": "Dup"},
                        {"name": "no code"}]},
    )  # fmt: skip
    assert answer.status_code == 200
    rows = answer.json()["data"]
    assert rows[0]["success"] is True and isinstance(rows[0]["catalogue_id"], int)
    assert rows[1] == {"row_index": 1, "success": False, "message": "Catalog code already exists"}
    assert rows[2]["success"] is False and "code" in rows[2]["message"]


async def test_catalog_batch_padded_duplicate_code_is_a_row_error(client):
    # " SF-SYNC " is stored stripped, so it duplicates SF-SYNC: a row error, not a 500 that
    # rolls back the good row next to it.
    answer = await client.post(
        "/learn/v1/catalog/batch",
        json={"items": [{"code": "FRESH", "name": "Fresh"}, {"code": " SF-SYNC ", "name": "Dup"}]},
    )
    assert answer.status_code == 200
    rows = answer.json()["data"]
    assert rows[0]["success"] is True
    assert rows[1] == {"row_index": 1, "success": False, "message": "Catalog code already exists"}
    listed = await client.get("/learn/v1/catalog", params={"search_text": "FRESH"})
    assert [c["catalogue_code"] for c in listed.json()["data"]["items"]] == ["FRESH"]


async def test_catalog_items_batch_and_views(client):
    answer = await client.post(
        "/learn/v1/catalog/items/batch",
        json={
            "items": [
                {"catalog_code": "SF-SYNC", "item_code": "A-101", "item_type": "course"},
                {"catalog_code": "SF-SYNC", "item_code": "A-101", "item_type": "course"},
                {"catalog_code": "SF-SYNC", "item_code": "NOPE", "item_type": "course"},
                {"catalog_code": "NOPE", "item_code": "A-101", "item_type": "course"},
                {"catalog_code": "SF-SYNC", "item_code": "LP", "item_type": "learning_plan"},
            ]
        },
    )
    rows = answer.json()["data"]
    assert [r["success"] for r in rows] == [True, False, False, False, False]
    assert rows[1]["message"] == "Item already in catalog"
    assert "Item not found" in rows[2]["message"]
    assert "Catalog not found" in rows[3]["message"]
    assert [r["row_index"] for r in rows] == [0, 1, 2, 3, 4]

    listed = (await client.get("/learn/v1/catalog", params={"show_item_list": 1})).json()
    catalog = listed["data"]["items"][0]
    assert catalog["catalogue_code"] == "SF-SYNC"
    assert catalog["number_items"] == 1
    assert catalog["sub_items"][0]["item_code"] == "A-101"
    assert isinstance(catalog["sub_items"][0]["item_id"], str)
    plain = (await client.get("/learn/v1/catalog")).json()["data"]["items"][0]
    assert "sub_items" not in plain

    view = (await client.get(f"/learn/v1/catalog/{catalog['catalogue_id']}")).json()["data"]
    assert view["count"] == 1
    item = view["items"][0]
    # Reads name a course `learning_course_type` (writes say `course`), as tenants do.
    assert item["item_type"] == "learning_course_type" and item["item_id"].isdigit()
    assert item["item_can_enroll"] == 2 and item["item_visibility"] == 0


async def test_catalog_errors(client):
    assert (await client.get("/learn/v1/catalog/999")).status_code == 404
    empty = await client.post("/learn/v1/catalog/batch", json={"items": []})
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["field"] == "items"
    assert (await client.get("/learn/v1/catalog/batch")).status_code == 405


async def test_catalog_search(client):
    await client.post("/learn/v1/catalog/batch", json={"items": [{"code": "X", "name": "Other"}]})
    found = (await client.get("/learn/v1/catalog", params={"search_text": "sales"})).json()
    assert [c["catalogue_code"] for c in found["data"]["items"]] == ["SF-SYNC"]
