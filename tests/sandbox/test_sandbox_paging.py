"""Cursor paging over filters spanning several courses: every row once, in order, exact
counts while rows arrive, and a page that costs the same however deep it is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_helpers import PASSWORD_GRANT

from certops.config.model import Location
from certops.sandbox import create_app, init_sandbox
from certops.sandbox.dataset import load_into
from certops.sandbox.store import Store

pytestmark = pytest.mark.anyio

COURSES = ("K-1", "K-2", "K-3", "K-4")
LEARNERS = 30  # every learner in every course but K-4, which only the even ones take
ENROLLMENTS = "/course/v1/courses/enrollments"


def _locate(path: object, key: bool = False) -> Location:
    return Location("<paging>", 1, 1)


def _dataset(learners: int, courses: tuple[str, ...]) -> dict[str, Any]:
    users = [f"p{n:05d}" for n in range(learners)]
    return {
        "users": [{"username": u, "email": f"{u}@example.com"} for u in users],
        "courses": [{"code": c, "name": f"Course {c}", "type": "elearning"} for c in courses],
        "enrollments": [
            {"user": u, "course": c, "status": "enrolled", "enrolled_at": "2025-01-10T09:00:00Z"}
            for c in courses
            for n, u in enumerate(users)
            if c != "K-4" or n % 2 == 0
        ],
    }


def _sandbox(path: Path, learners: int, courses: tuple[str, ...]) -> Path:
    init_sandbox(path)
    store = Store(path)
    try:
        load_into(store, _dataset(learners, courses), _locate)
    finally:
        store.close()
    return path


@asynccontextmanager
async def _client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        answer = await client.post("/oauth2/token", data=PASSWORD_GRANT)
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


@pytest.fixture
def paging_app(tmp_path: Path):
    return create_app(_sandbox(tmp_path / "paging.db", LEARNERS, COURSES))


@pytest.fixture
async def paging(paging_app) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(paging_app) as client:
        yield client


async def _ids(client: httpx.AsyncClient, codes: tuple[str, ...]) -> dict[str, int]:
    items = (await client.get("/learn/v1/courses", params={"page_size": 200})).json()["data"]
    return {c["code"]: c["id_course"] for c in items["items"] if c["code"] in codes}


async def _users(client: httpx.AsyncClient) -> list[int]:
    data = (await client.get("/manage/v1/user", params={"sort_attr": "username"})).json()
    return sorted(int(u["user_id"]) for u in data["data"]["items"] if u["username"] != "admin")


async def test_cursor_walk_over_courses_returns_every_row_once_in_order_with_inserts(paging):
    ids = await _ids(paging, COURSES)
    users = await _users(paging)
    k1, k3, k4 = ids["K-1"], ids["K-3"], ids["K-4"]
    filter_ids = [k4, k1, k3]  # out of order on purpose: the answer is sorted anyway
    params: dict[str, Any] = {"course_id[]": filter_ids, "page_size": 7, "get_cursor": 1}
    params["get_total_count"] = 1
    odd = [u for n, u in enumerate(users) if n % 2]
    seen: list[tuple[int, int]] = []
    totals: list[int] = []
    pages = 0
    inserted = False
    while True:
        answer = await paging.get(ENROLLMENTS, params=params)
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        pages += 1
        assert data["current_page"] == pages
        seen.extend((i["course_id"], i["user_id"]) for i in data["items"])
        totals.append(data["total_count"])
        assert data["total_page_count"] == -(-data["total_count"] // 7)
        if not inserted and seen[-1][0] == k3:
            # Mid-walk: the odd learners join K-4 (ahead of the cursor, so they must be
            # read) and K-2 (outside the filter, so they must not).
            body = {"course_ids": [k4, ids["K-2"]], "user_ids": odd}
            assert (await paging.post("/learn/v1/enrollments", json=body)).status_code == 200
            inserted = True
        if not data["has_more_data"]:
            assert "cursor" not in data
            break
        params["cursor"] = data["cursor"]
    expected = sorted(
        [(k1, u) for u in users] + [(k3, u) for u in users] + [(k4, u) for u in users]
    )
    assert seen == expected  # every row once, in (course, user) order, K-4 complete
    before = 2 * LEARNERS + LEARNERS // 2
    assert totals[0] == before
    assert totals[-1] == 3 * LEARNERS  # the count follows the insert on the next page
    assert set(totals) == {before, 3 * LEARNERS}


async def test_cursor_counts_follow_writes_by_another_connection(paging, paging_app):
    ids = await _ids(paging, COURSES)
    params: dict[str, Any] = {"course_id[]": [ids["K-4"]], "page_size": 5, "get_cursor": 1}
    first = (await paging.get(ENROLLMENTS, params=params)).json()["data"]
    assert first["total_page_count"] == 3  # 15 even learners
    # `sandbox load` beside `sandbox serve`: another Store on the same file writes.
    other = Store(paging_app.state.sandbox.store.path)
    try:
        odd = [f"p{n:05d}" for n in range(1, LEARNERS, 2)]
        rows = [{"user": u, "course": "K-4", "status": "enrolled"} for u in odd]
        load_into(other, {"enrollments": rows}, _locate)
    finally:
        other.close()
    params["cursor"] = first["cursor"]
    second = (await paging.get(ENROLLMENTS, params={**params, "get_total_count": 1})).json()
    assert second["data"]["total_count"] == LEARNERS  # 15 + the 15 odd ones, not 15
    assert second["data"]["total_page_count"] == 6


async def test_cursor_pages_count_once_while_nothing_changes(paging, paging_app):
    statements: list[str] = []
    with paging_app.state.sandbox.store.read() as conn:
        conn.set_trace_callback(statements.append)
    try:
        params: dict[str, Any] = {"page_size": 10, "get_cursor": 1}
        pages = 0
        while True:
            data = (await paging.get(ENROLLMENTS, params=params)).json()["data"]
            pages += 1
            if not data["has_more_data"]:
                break
            params["cursor"] = data["cursor"]
    finally:
        with paging_app.state.sandbox.store.read() as conn:
            conn.set_trace_callback(None)
    counts = [s for s in statements if "COUNT(*)" in s and "FROM enrollments" in s]
    assert pages == 11  # 105 enrollments
    assert len(counts) == 1


async def test_page_numbers_and_cursor_agree_over_a_course_and_code_filter(paging):
    ids = await _ids(paging, COURSES)
    # learn/v1: id_course[] and code_course[] together mean courses in both.
    params = {"id_course[]": [ids["K-1"], ids["K-2"], ids["K-4"]], "code_course[]": "K-2,K-4"}
    by_page: list[tuple[int, int]] = []
    page = 1
    while True:
        answer = await paging.get(
            "/learn/v1/enrollments", params={**params, "page_size": 8, "page": page}
        )
        data = answer.json()["data"]
        by_page.extend((i["id"], i["user_id"]) for i in data["items"])
        assert data["total_page_count"] == 6  # 30 + 15 rows
        if not data["has_more_data"]:
            break
        page += 1
    cursor_params: dict[str, Any] = {**params, "page_size": 8, "get_cursor": 1}
    by_cursor: list[tuple[int, int]] = []
    while True:
        data = (await paging.get("/learn/v1/enrollments", params=cursor_params)).json()["data"]
        by_cursor.extend((i["id"], i["user_id"]) for i in data["items"])
        if not data["has_more_data"]:
            break
        cursor_params["cursor"] = data["cursor"]
    assert by_cursor == by_page
    assert len(by_page) == 45
    assert [c for c, _ in by_page] == sorted(c for c, _ in by_page)
    assert {c for c, _ in by_page} == {ids["K-2"], ids["K-4"]}


async def test_no_course_in_both_filters_is_an_empty_list(paging):
    ids = await _ids(paging, COURSES)
    params = {"id_course[]": ids["K-1"], "code_course[]": "K-2", "get_total_count": 1}
    data = (await paging.get("/learn/v1/enrollments", params=params)).json()["data"]
    assert data["items"] == [] and data["total_count"] == 0 and data["total_page_count"] == 1


@pytest.mark.parametrize(
    "cursor",
    [
        "eyJwIjoyLCJrIjpbWzFdLDJdfQ",  # {"p":2,"k":[[1],2]}: a list where a key part goes
        "eyJwIjoyLCJrIjpbIngiLDJdfQ",  # {"p":2,"k":["x",2]}: a text course id
        "WzFd",  # [1]
    ],
)
async def test_a_forged_cursor_is_a_400(paging, cursor):
    params = {"course_id[]": [1, 2], "cursor": cursor}
    answer = await paging.get(ENROLLMENTS, params=params)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "cursor"


async def test_a_deep_cursor_page_costs_what_the_first_does(tmp_path: Path):
    """SQLite's instruction count (a progress handler) for the first and the last cursor
    page of a four-course filter: a page must not read the rows of the courses before it,
    nor count the whole filter again."""
    app = create_app(_sandbox(tmp_path / "deep.db", 1500, COURSES))
    ticks = [0]

    def tick() -> int:
        ticks[0] += 1
        return 0

    async with _client(app) as client:
        ids = await _ids(client, COURSES)
        params: dict[str, Any] = {"course_id[]": list(ids.values()), "page_size": 200}
        params["get_cursor"] = 1
        with app.state.sandbox.store.read() as conn:
            conn.set_progress_handler(tick, 100)
        costs: list[int] = []
        try:
            while True:
                ticks[0] = 0
                data = (await client.get(ENROLLMENTS, params=params)).json()["data"]
                costs.append(ticks[0])
                if not data["has_more_data"]:
                    break
                params["cursor"] = data["cursor"]
        finally:
            with app.state.sandbox.store.read() as conn:
                conn.set_progress_handler(None, 100)
    assert len(costs) == 27  # 3 x 1,500 + 750 rows
    walk = costs[1:-1]  # the first page counts, the last one is partial
    assert max(walk) < 2 * min(walk), costs
    assert max(walk) < costs[0], costs


@pytest.mark.parametrize("sort", [{}, {"sort_attr": "email", "sort_dir": "desc"}])
async def test_descending_cursor_walk_over_ties_returns_every_user_once(paging, sort):
    # The learners share one (empty) first name: the walk runs through the ties by id.
    by_page, by_cursor = [], []
    page = 1
    while True:
        params = {**sort, "page_size": 7, "page": page}
        data = (await paging.get("/manage/v1/user", params=params)).json()["data"]
        by_page.extend(u["user_id"] for u in data["items"])
        if not data["has_more_data"]:
            break
        page += 1
    cursor_params: dict[str, Any] = {**sort, "page_size": 7, "get_cursor": 1}
    while True:
        data = (await paging.get("/manage/v1/user", params=cursor_params)).json()["data"]
        by_cursor.extend(u["user_id"] for u in data["items"])
        if not data["has_more_data"]:
            break
        cursor_params["cursor"] = data["cursor"]
    assert by_cursor == by_page
    assert len(set(by_cursor)) == LEARNERS + 1  # and the admin
    if not sort:
        assert by_cursor[1:] == sorted(by_cursor[1:], key=int, reverse=True)
