"""Tokens and errors people can act on; secrets never appear in messages or reprs."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials
from certops.lms.errors import (
    LMSConnectionError,
    LMSCredentialsError,
    LMSNotFoundError,
    LMSPermissionError,
    LMSResponseError,
    LMSUnavailableError,
)

from .conftest import FAST

SECRET = "TOP-secret-4711"
PASSWORD = "Pa55-word-0815"


def _creds(**changes) -> Credentials:
    values = {
        "client_id": "certops-sandbox",
        "client_secret": "sandbox-secret",
        "username": "admin",
        "password": "admin",
    }
    values.update(changes)
    return Credentials(**values)


def test_expired_token_is_renewed_once_on_401(empty):
    async def go():
        async with empty.reader() as lms:
            first = await lms.list_courses()
            later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
            await empty.admin("PUT", "clock", {"now": later})
            second = await lms.list_courses()
            counts = lms.call_counts
        return first, second, counts, await empty.calls()

    first, second, counts, calls = asyncio.run(go())
    assert first == second
    assert counts["POST /oauth2/token"] == 2
    assert [c["status"] for c in calls if c["path"] == "/learn/v1/courses"] == [200, 401, 200]


def test_token_is_renewed_before_it_expires(empty):
    """A 100 s token is renewed 10 s early (a tenth of its lifetime): 91 s on, by the
    client's clock, the next call fetches a new token first, so the server (whose clock
    has passed the old token's expiry) never answers 401. No test time passes."""
    start = datetime(2026, 6, 1, tzinfo=UTC)
    now = [0.0]

    async def go():
        await empty.admin("PUT", "settings", {"token_ttl_s": 100})
        await empty.admin("PUT", "clock", {"now": start.isoformat()})
        async with empty.reader(clock=lambda: now[0]) as lms:
            await lms.list_courses()
            now[0] += 91
            await empty.admin("PUT", "clock", {"now": (start + timedelta(seconds=101)).isoformat()})
            await lms.list_courses()
        return await empty.calls()

    calls = asyncio.run(go())
    assert [c["path"] for c in calls].count("/oauth2/token") == 2
    assert 401 not in {c["status"] for c in calls}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"client_secret": SECRET}, "client id or secret is wrong"),
        ({"password": PASSWORD}, "username or password is wrong"),
    ],
)
def test_refused_credentials_say_which_and_hide_values(empty, changes, expected):
    async def go():
        async with empty.reader(credentials=_creds(**changes)) as lms:
            await lms.list_users()

    with pytest.raises(LMSCredentialsError) as err:
        asyncio.run(go())
    message = str(err.value)
    assert expected in message and "DOCEBO_CLIENT_ID" in message
    assert SECRET not in message and PASSWORD not in message


def test_environment_credentials_win_over_the_sandbox_file(empty, monkeypatch):
    monkeypatch.setenv("DOCEBO_CLIENT_ID", "certops-sandbox")
    monkeypatch.setenv("DOCEBO_CLIENT_SECRET", SECRET)

    async def go():
        async with connect_reader(empty.address, retry=FAST) as lms:
            assert SECRET not in repr(lms) and SECRET not in repr(lms._http._credentials)
            await lms.list_courses()

    with pytest.raises(LMSCredentialsError, match="DOCEBO_CLIENT_SECRET") as err:
        asyncio.run(go())
    assert SECRET not in str(err.value)


def _tenant(handler) -> httpx.MockTransport:
    """A stand-in Docebo tenant: a token endpoint plus whatever ``handler`` answers."""

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "tok-123", "expires_in": 3600})
        return handler(request)

    return httpx.MockTransport(route)


async def _call(transport, method="list_courses", *args, **options):
    options.setdefault("retry", FAST)
    async with connect_reader(
        parse_address("https://acme.docebosaas.com"),
        transport=transport,
        credentials=_creds(),
        **options,
    ) as lms:
        return await getattr(lms, method)(*args)


def test_403_names_the_endpoint_and_the_permission():
    transport = _tenant(lambda r: httpx.Response(403, json={"message": "Forbidden"}))
    with pytest.raises(LMSPermissionError) as err:
        asyncio.run(_call(transport, "list_enrollments", [1]))
    message = str(err.value)
    assert "GET /course/v1/courses/enrollments" in message and "Enrollments: View" in message
    assert "acme.docebosaas.com" in message


def test_unexpected_shape_names_field_and_endpoint():
    # The course's id is what every later read and write needs: without it, a named error.
    body = {"data": {"items": [{"code": "X", "name": "X"}], "has_more_data": False}}
    with pytest.raises(LMSResponseError) as err:
        asyncio.run(_call(_tenant(lambda r: httpx.Response(200, json=body))))
    assert "GET /learn/v1/courses" in str(err.value) and "'id_course'" in str(err.value)


def test_non_json_answer_is_named():
    transport = _tenant(lambda r: httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(LMSResponseError, match=r"GET /learn/v1/courses.*expected JSON"):
        asyncio.run(_call(transport))


def test_404_is_not_found():
    transport = _tenant(lambda r: httpx.Response(404, json={"message": "no course 9"}))
    with pytest.raises(LMSNotFoundError, match="no course 9"):
        asyncio.run(_call(transport, "get_course", 9))


def test_429_retry_after_is_honoured():
    answers = iter([httpx.Response(429, headers={"Retry-After": "0.3"}, json={})])
    empty_page = {"data": {"items": [], "has_more_data": False}}

    def handler(request):
        return next(answers, None) or httpx.Response(200, json=empty_page)

    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # the session's waits, on its own clock
        slept.append(seconds)
        now[0] += seconds

    assert asyncio.run(_call(_tenant(handler), clock=lambda: now[0], sleep=sleep)) == []
    assert slept == [pytest.approx(0.3)]


def test_persistent_503_gives_up_with_a_message():
    transport = _tenant(lambda r: httpx.Response(503, json={"message": "overloaded"}))
    with pytest.raises(LMSUnavailableError, match=r"acme\.docebosaas\.com.*HTTP 503"):
        asyncio.run(_call(transport))


def test_unknown_host_names_the_host():
    async def go():
        async with connect_reader(
            parse_address("https://no-such-tenant.invalid"), credentials=_creds()
        ) as lms:
            await lms.list_courses()

    with pytest.raises(LMSConnectionError, match=r"no-such-tenant\.invalid"):
        asyncio.run(go())


def test_refused_connection_names_the_host():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the client connects

    async def go():
        async with connect_reader(
            parse_address(f"http://127.0.0.1:{port}"), credentials=_creds(), retry=FAST
        ) as lms:
            await lms.list_courses()

    with pytest.raises(LMSConnectionError, match=r"cannot connect to 127\.0\.0\.1"):
        asyncio.run(go())


def test_progress_notes_waits_without_secrets(empty):
    notes: list[str] = []

    async def go():
        await empty.faults(error_503_share=0.5, seed=11)
        async with empty.reader(progress=notes.append) as lms:
            await lms.list_courses()
            await lms.list_users()

    asyncio.run(go())
    assert any("HTTP 503" in n for n in notes)
    assert not any("sandbox-secret" in n or "admin" in n.split() for n in notes)
