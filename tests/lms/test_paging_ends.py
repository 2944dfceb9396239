"""Paged reads end, whatever the tenant answers.

Stand-in tenants (``httpx.MockTransport``) page in each way the record shows, and
misbehave in each way that would otherwise keep a read going forever: a page or a cursor
given back again, ``current_page`` standing still, ``has_more_data`` never cleared. The
real client must read the good ones whole and stop the bad ones within a few calls, with
a message that names the paging problem.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials, RetryPolicy
from certops.lms import paging as paging_module
from certops.lms.errors import LMSResponseError

QUICK = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002)
ROWS = 1000  # five pages of 200


def _course(i: int) -> dict[str, object]:
    return {"id_course": i, "code": f"C-{i}", "name": f"Course {i}"}


def _rows(page: int) -> list[dict[str, object]]:
    start = (page - 1) * 200
    return [_course(i) for i in range(start + 1, min(start + 200, ROWS) + 1)]


def _answer(page: int, **data: Any) -> httpx.Response:
    body = {
        "items": _rows(page),
        "has_more_data": page * 200 < ROWS,
        "current_page": page,
        "current_page_size": 200,
        "total_page_count": ROWS // 200,
        **data,
    }
    return httpx.Response(200, json={"data": body, "version": "1.0.0"})


def _read(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[Any, list[httpx.Request]]:
    """The course list through the real client against a tenant answering ``answer``:
    (courses or the error raised, the requests the tenant saw)."""
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t0ken-abc", "expires_in": 3600})
        seen.append(request)
        return answer(request)

    async def go() -> Any:
        async with connect_reader(
            parse_address("https://acme.docebosaas.com"),
            transport=httpx.MockTransport(route),
            credentials=Credentials("my-client", "s3cret-value"),
            retry=QUICK,
        ) as lms:
            try:
                return await lms.list_courses()
            except LMSResponseError as exc:
                return exc

    return asyncio.run(go()), seen


def _page(request: httpx.Request) -> int:
    return int(request.url.params.get("page", "1"))


def test_a_tenant_that_pages_by_number_and_ignores_the_cursor_is_read_whole() -> None:
    # It hands out a cursor but follows only ``page``: the bug that read page 2 forever.
    courses, seen = _read(lambda r: _answer(_page(r), cursor=f"opaque-{_page(r)}"))
    assert len(courses) == ROWS
    assert [_page(r) for r in seen] == [1, 2, 3, 4, 5]
    # Each request after the first carries the page number and the cursor it was given.
    assert [r.url.params.get("cursor") for r in seen] == [
        None,
        *(f"opaque-{n}" for n in (1, 2, 3, 4)),
    ]


def test_a_tenant_that_follows_the_cursor_and_ignores_the_page_is_read_whole() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        page = 1 if cursor is None else int(cursor.removeprefix("after-")) + 1
        return _answer(page, cursor=f"after-{page}")

    courses, seen = _read(answer)
    assert len(courses) == ROWS and len(seen) == 5


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        # Page 1 forever, as it stands (no cursor, current_page echoed as 1).
        (lambda r: _answer(1, has_more_data=True), "answered current_page 1 after 1"),
        # Page 1 forever, stating no current_page: the rows give it away.
        (
            lambda r: _answer(1, has_more_data=True, current_page=None),
            "holds the same rows as the page before",
        ),
        # The same cursor every time.
        (lambda r: _answer(_page(r), cursor="same", total_page_count=None, current_page=None),
         "returned a cursor it had returned before"),
        # New rows and a new page each time, and has_more_data never cleared.
        (
            lambda r: httpx.Response(
                200,
                json={"data": {"items": [_course(_page(r))], "has_more_data": True,
                               "current_page": _page(r), "total_page_count": 3}},
            ),
            "4 pages read and still has_more_data, but total_page_count is 3",
        ),
    ],
    ids=["same-page", "same-rows", "same-cursor", "more-than-total"],
)  # fmt: skip
def test_a_read_that_does_not_advance_stops_within_a_few_calls(
    answer: Callable[[httpx.Request], httpx.Response], problem: str
) -> None:
    error, seen = _read(answer)
    assert isinstance(error, LMSResponseError), error
    message = str(error)
    assert "GET /learn/v1/courses" in message and "paging does not advance" in message
    assert problem in message
    assert len(seen) <= 5, len(seen)


def test_a_read_that_never_ends_and_states_no_count_is_cut(monkeypatch) -> None:
    monkeypatch.setattr(paging_module, "MAX_PAGES", 7)

    def answer(request: httpx.Request) -> httpx.Response:
        page = _page(request)
        return httpx.Response(200, json={"data": {"items": [_course(page)], "has_more_data": True}})

    error, seen = _read(answer)
    assert isinstance(error, LMSResponseError) and "7 pages read" in str(error)
    assert len(seen) == 7
