"""Answers decoded the fast way or the standard way, and paged reads that overlap their work.

A stand-in tenant (``httpx.MockTransport``) answers the real client; it counts what it
receives, so the tests see exactly which requests were sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials, RetryPolicy
from certops.lms.errors import LMSResponseError

QUICK = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002)


def _course(i: int) -> dict[str, object]:
    return {"id_course": i, "code": f"C-{i}", "name": f"Course {i}", "course_type": "elearning"}


def _tenant(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]):
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t0ken-abc", "expires_in": 3600})
        seen.append(request)
        return answer(request)

    return httpx.MockTransport(route)


async def _courses(transport: httpx.AsyncBaseTransport) -> list:
    async with connect_reader(
        parse_address("https://acme.docebosaas.com"),
        transport=transport,
        credentials=Credentials("my-client", "s3cret-value"),
        retry=QUICK,
    ) as lms:
        return await lms.list_courses()


def _page(items: list, *, more: bool, cursor: str | None = None) -> dict[str, object]:
    return {"data": {"items": items, "has_more_data": more, "cursor": cursor}}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        # The plain case: UTF-8 JSON.
        (json.dumps(_page([_course(1)], more=False)).encode(), {}),
        # A byte-order mark, which the fast decoder refuses.
        (b"\xef\xbb\xbf" + json.dumps(_page([_course(1)], more=False)).encode(), {}),
        # An id beyond 64 bits elsewhere in the answer.
        (
            json.dumps({**_page([_course(1)], more=False), "x": 2**70}).encode(),
            {},
        ),
    ],
)
def test_every_json_answer_reads_the_same(body: bytes, headers: dict[str, str]) -> None:
    seen: list[httpx.Request] = []
    transport = _tenant(lambda _r: httpx.Response(200, content=body, headers=headers or None), seen)
    courses = asyncio.run(_courses(transport))
    assert [(c.id, c.code) for c in courses] == [(1, "C-1")]
    assert courses[0].settings.name == "Course 1"


def test_an_answer_that_is_not_json_is_a_named_error() -> None:
    seen: list[httpx.Request] = []
    transport = _tenant(
        lambda _r: httpx.Response(200, content=b"<html>login</html>",
                                  headers={"content-type": "text/html"}),
        seen,
    )  # fmt: skip
    with pytest.raises(LMSResponseError, match="text/html, expected JSON"):
        asyncio.run(_courses(transport))


def test_a_paged_read_asks_each_page_once_in_order_and_stops_at_the_last() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        n = 0 if cursor is None else int(cursor)
        items = [_course(n * 200 + i) for i in range(1, 201 if n < 3 else 51)]
        more = n < 3
        return httpx.Response(200, json=_page(items, more=more, cursor=str(n + 1)))

    courses = asyncio.run(_courses(_tenant(answer, seen)))
    assert len(courses) == 3 * 200 + 50
    assert [r.url.params.get("cursor") for r in seen] == [None, "1", "2", "3"]


def test_a_failing_next_page_fails_the_read() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "1":
            return httpx.Response(404, json={"message": "cursor expired"})
        return httpx.Response(200, json=_page([_course(1)], more=True, cursor="1"))

    with pytest.raises(Exception, match="cursor expired"):
        asyncio.run(_courses(_tenant(answer, seen)))
    assert len(seen) == 2


def test_a_read_that_splits_after_its_first_page_sends_no_second_combined_page() -> None:
    """The first page of the combined enrollment read tells its size; a large read then
    goes on as one stream per course. The page after the first is never asked for."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        courses = request.url.params.get_list("course_id[]")
        if request.url.path.endswith("/courses"):
            return httpx.Response(200, json=_page([_course(1), _course(2)], more=False))
        row = {"user_id": 7, "enrollment_status": "completed"}
        if len(courses) > 1:  # the combined read: 200 pages in all, far too many
            data = _page([{**row, "course_id": 1}], more=True, cursor="next")
            data["data"].update(total_count=40_000, current_page_size=200)
            return httpx.Response(200, json=data)
        return httpx.Response(200, json=_page([{**row, "course_id": int(courses[0])}], more=False))

    async def read() -> list:
        async with connect_reader(
            parse_address("https://acme.docebosaas.com"),
            transport=_tenant(answer, seen),
            credentials=Credentials("my-client", "s3cret-value"),
            retry=QUICK,
        ) as lms:
            await lms.list_courses()
            return await lms.list_enrollments([1, 2])

    found = asyncio.run(read())
    assert sorted(e.course_id for e in found) == [1, 2]
    combined = [r for r in seen if len(r.url.params.get_list("course_id[]")) > 1]
    assert len(combined) == 1
    assert all(r.url.params.get("cursor") is None for r in seen)
