"""Shared data and helpers for the sandbox tests (the SMALL dataset, id look-ups, paging)."""

from __future__ import annotations

from typing import Any

import httpx

SMALL = {
    "users": [
        {"username": "alice", "email": "alice@example.com", "first_name": "Alice",
         "last_name": "Anders"},
        {"username": "bob", "email": "bob@example.com", "first_name": "Bob", "last_name": "Brown"},
        {"username": "carol", "email": "carol@example.org", "first_name": "Carol",
         "last_name": "Clark"},
        {"username": "dave", "email": "dave@example.com", "first_name": "Dave",
         "last_name": "Dunn", "active": False},
        {"username": "erin", "email": "erin@example.com", "first_name": "Erin",
         "last_name": "Evans"},
    ],
    "courses": [
        {"code": "A-101", "name": "Alpha 101", "type": "elearning"},
        {"code": "A-102", "name": "Alpha 102", "type": "elearning"},
        {"code": "A-EXAM", "name": "Alpha Exam", "type": "elearning"},
        {"code": "M-2026", "name": "Alpha Maintenance 2026", "type": "elearning",
         "date_begin": "2026-01-01", "date_end": "2026-12-31"},
    ],
    "catalogs": [{"code": "SF-SYNC", "name": "Salesforce Sync"}],
    "enrollments": [
        {"user": "alice", "course": "A-101", "status": "completed",
         "enrolled_at": "2025-01-10T09:00:00Z", "completed_at": "2025-02-01T12:00:00Z"},
        {"user": "alice", "course": "A-102", "status": "completed",
         "enrolled_at": "2025-01-10T09:00:00Z", "completed_at": "2025-03-01T12:00:00Z"},
        {"user": "bob", "course": "A-101", "status": "completed",
         "enrolled_at": "2025-01-10T09:00:00Z", "completed_at": "2025-02-02T12:00:00Z"},
        {"user": "bob", "course": "A-102", "status": "in_progress",
         "enrolled_at": "2025-01-10T09:00:00Z"},
        {"user": "carol", "course": "A-EXAM", "status": "completed",
         "enrolled_at": "2025-05-01T09:00:00Z", "completed_at": "2025-05-02T10:00:00Z"},
        {"user": "dave", "course": "A-101", "status": "enrolled",
         "enrolled_at": "2025-06-01T09:00:00Z"},
        {"user": "erin", "course": "A-101", "status": "suspended",
         "enrolled_at": "2024-06-01T09:00:00Z", "valid_from": "2024-06-01",
         "valid_until": "2024-12-31"},
    ],
}  # fmt: skip

CLIENT = {"client_id": "certops-sandbox", "client_secret": "sandbox-secret"}
PASSWORD_GRANT = {"grant_type": "password", "username": "admin", "password": "admin", **CLIENT}


async def user_id(client: httpx.AsyncClient, username: str) -> int:
    """The id of ``username``, found through the API."""
    answer = await client.get(
        "/manage/v1/user", params={"search_text": username, "match_type": "full"}
    )
    items = answer.json()["data"]["items"]
    assert len(items) == 1, items
    return int(items[0]["user_id"])


async def course_id(client: httpx.AsyncClient, code: str) -> int:
    """The id of the course with ``code``, found through the API."""
    answer = await client.get("/learn/v1/courses", params={"search_text": code})
    found = [c["id_course"] for c in answer.json()["data"]["items"] if c["code"] == code]
    assert len(found) == 1, answer.json()
    return found[0]


async def all_items(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict]:
    """Every item of a list endpoint, following ``has_more_data`` page by page."""
    items: list[dict] = []
    page = 1
    while True:
        answer = await client.get(path, params={**params, "page": page})
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        items.extend(data["items"])
        if not data["has_more_data"]:
            return items
        page += 1
