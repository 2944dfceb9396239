"""What each try of a call means (``certops.lms.failures.Judge``) and how long to wait
(``certops.lms.pacing``), rule by rule, with no network and no waiting."""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from certops.lms import Credentials
from certops.lms.errors import (
    LMSConnectionError,
    LMSCredentialsError,
    LMSError,
    LMSNotFoundError,
    LMSPermissionError,
    LMSRequestError,
    LMSResponseError,
    LMSUnavailableError,
)
from certops.lms.failures import Call, Judge, OutcomeUnknown, Retry, Tries
from certops.lms.pacing import RetryPolicy, SharedPause, retry_after_seconds

POLICY = RetryPolicy(base_delay=1.0, max_delay=8.0, read_timeout=5.0, timeout_attempts=2)
GET = Call("GET", "/learn/v1/courses")
POST = Call("POST", "/learn/v1/courses", body={})
PUT = Call("PUT", "/learn/v1/courses/1", body={})
TOKEN = Call("POST", "/oauth2/token", form={})
NOW = 1_800_000_000.0


def _judge(**policy: float) -> Judge:
    return Judge(
        host="acme.docebosaas.com",
        lms="https://acme.docebosaas.com",
        policy=replace(POLICY, **policy),
        credentials=Credentials("app", "s3cret"),
        redact=lambda text: text.replace("s3cret", "***"),
        wall_clock=lambda: NOW,
    )


def _error(kind: type[httpx.TransportError], cause: BaseException | None = None):
    error = kind("failed")
    error.__cause__ = cause
    return error


def _answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"message": "no s3cret here"})


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


# --- calls --------------------------------------------------------------------------


def test_what_a_call_is() -> None:
    assert (GET.idempotent, GET.writes, GET.endpoint) == (True, False, "GET /learn/v1/courses")
    assert (PUT.idempotent, PUT.writes) == (True, True)
    assert (POST.idempotent, POST.writes) == (False, True)
    assert (TOKEN.idempotent, TOKEN.writes, TOKEN.is_token) == (True, False, True)


# --- failures without an answer -------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        (socket.gaierror(-2, "Name or service not known"), "cannot resolve host"),
        (ssl.SSLCertVerificationError(1, "bad"), "TLS failed"),
        (ConnectionRefusedError(111, "refused"), "connection refused"),
    ],
)
@pytest.mark.parametrize("call", [GET, POST])
def test_what_no_retry_can_heal_ends_at_once(
    cause: BaseException, message: str, call: Call
) -> None:
    tries = Tries(started=0.0)
    with pytest.raises(LMSConnectionError, match=message):
        _judge().transport_error(call, _error(httpx.ConnectError, cause), tries, 0.0)


def test_a_cause_inside_an_exception_group_is_found() -> None:
    group = ExceptionGroup("attempts", [OSError("x"), ConnectionRefusedError(111, "refused")])
    error = _error(httpx.ConnectError, OSError("All connection attempts failed"))
    assert error.__cause__ is not None
    error.__cause__.__cause__ = group
    with pytest.raises(LMSConnectionError, match="connection refused"):
        _judge().transport_error(GET, error, Tries(started=0.0), 0.0)


def test_a_refused_tunnel_names_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    error = httpx.ProxyError("407 Proxy Authentication Required")
    with pytest.raises(LMSConnectionError, match=r"refused a tunnel to it: HTTP 407.*HTTPS_PROXY"):
        _judge().transport_error(GET, error, Tries(started=0.0), 0.0)


def test_a_lost_answer_to_a_post_is_an_unknown_outcome_but_a_refused_one_is_retried() -> None:
    with pytest.raises(OutcomeUnknown, match="answer to POST /learn/v1/courses was lost"):
        _judge().transport_error(POST, _error(httpx.ReadError), Tries(started=0.0), 0.0)
    retry = _judge().transport_error(POST, _error(httpx.ConnectTimeout), Tries(started=0.0), 0.0)
    assert isinstance(retry, Retry) and not retry.everyone


def test_transport_errors_back_off_and_are_noted() -> None:
    tries = Tries(started=0.0)
    delays = []
    for _ in range(4):
        retry = _judge().transport_error(GET, _error(httpx.ReadError), tries, 0.0)
        assert retry is not None and "GET /learn/v1/courses: ReadError: failed" in retry.note
        delays.append(retry.delay)
    assert tries.failures == 4 and tries.last_problem == "ReadError: failed"
    for attempt, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_timeouts_give_up_after_their_own_count_or_the_deadline() -> None:
    tries = Tries(started=0.0)
    assert _judge().transport_error(GET, _error(httpx.ReadTimeout), tries, 1.0) is not None
    assert _judge().transport_error(GET, _error(httpx.ReadTimeout), tries, 2.0) is None
    error = _judge().give_up(GET, tries, 12.0)
    assert isinstance(error, LMSConnectionError)
    assert "sent no answer within 5 s, 2 time(s) in 12 s" in str(error)
    late = Tries(started=0.0)
    judge = _judge(timeout_attempts=50, deadline=30.0)
    assert judge.transport_error(GET, _error(httpx.ReadTimeout), late, 31.0) is None


def test_giving_up_says_what_happened_last() -> None:
    tries = Tries(started=0.0, failures=8, last_problem="HTTP 503")
    error = _judge().give_up(GET, tries, 0.0)
    assert type(error) is LMSUnavailableError
    assert "did not answer GET /learn/v1/courses after 8 attempts (last: HTTP 503)" in str(error)
    tries = Tries(started=0.0, failures=8, last_problem="ConnectError: nope")
    assert isinstance(_judge().give_up(GET, tries, 0.0), LMSConnectionError)


# --- answers --------------------------------------------------------------------------


def test_a_rate_limit_pauses_everyone_as_the_server_says_without_costing_a_try() -> None:
    tries = Tries(started=0.0)
    retry = _judge().status(POST, _answer(429, **{"Retry-After": "7"}), tries)
    assert retry == Retry(
        7.0, "acme.docebosaas.com rate limit reached; waiting before POST /learn/v1/courses", True
    )
    assert (tries.failures, tries.limited) == (0, 1)
    long = _judge().status(GET, _answer(429, **{"Retry-After": "9999"}), tries)
    assert long is not None and long.delay == POLICY.max_retry_after


def test_rate_limits_beyond_their_bound_cost_tries() -> None:
    tries = Tries(started=0.0, limited=POLICY.rate_limited_attempts)
    retry = _judge().status(GET, _answer(429), tries)
    assert retry is not None and retry.everyone and tries.failures == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_an_overloaded_server_is_retried_for_reads_and_unknown_for_posts(status: int) -> None:
    tries = Tries(started=0.0)
    retry = _judge().status(PUT, _answer(status), tries)
    assert retry is not None and not retry.everyone and tries.last_problem == f"HTTP {status}"
    with pytest.raises(OutcomeUnknown, match=f"answered HTTP {status}"):
        _judge().status(POST, _answer(status), Tries(started=0.0))


@pytest.mark.parametrize("status", [200, 201, 302, 400, 401, 403, 404, 500])
def test_other_answers_stand(status: int) -> None:
    assert _judge().status(GET, _answer(status), Tries(started=0.0)) is None


@pytest.mark.parametrize(
    ("call", "status", "kind", "text"),
    [
        (GET, 400, LMSRequestError, "rejected GET /learn/v1/courses (HTTP 400): no *** here"),
        (GET, 401, LMSCredentialsError, "refused the access token"),
        (GET, 403, LMSPermissionError, "needs the permission"),
        (GET, 404, LMSNotFoundError, "has no GET /learn/v1/courses (HTTP 404)"),
        (GET, 407, LMSConnectionError, "the proxy asks for credentials"),
        (GET, 302, LMSResponseError, "with a redirect (HTTP 302)"),
        (TOKEN, 401, LMSCredentialsError, "client id or secret is wrong"),
        (TOKEN, 500, LMSUnavailableError, "not refused credentials"),
    ],
)
def test_answers_that_are_no_success_are_named(
    call: Call, status: int, kind: type[LMSError], text: str
) -> None:
    error = _judge().unusable(call, _answer(status))
    assert type(error) is kind and text in str(error)
    assert _judge().unusable(call, _answer(200)) is None


# --- pacing ---------------------------------------------------------------------------


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("12", NOW) == 12.0
    assert retry_after_seconds("-3", NOW) == 0.0
    date = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    assert retry_after_seconds(date, NOW) == pytest.approx(30.0)
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_a_rate_limit_without_retry_after_backs_off_up_to_a_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    assert policy.rate_limit_delay(2.5, 1) == 2.5
    for limited in (1, 6, 40):
        ceiling = min(30.0, 0.5 * 2 ** min(limited, 6))
        assert ceiling / 2 <= policy.rate_limit_delay(None, limited) <= ceiling


def test_the_shared_pause_holds_until_it_ends() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def go() -> None:
        pause = SharedPause(clock=lambda: now[0], sleep=sleep)
        await pause.wait()  # no pause: no wait
        pause.extend(5.0)
        pause.extend(2.0)  # a shorter one does not cut it short
        await pause.wait()

    asyncio.run(go())
    assert slept == [5.0]


def test_a_408_is_sent_again_even_for_a_write() -> None:
    """408: the server gave up waiting for the request and did not process it, so a write
    is sent again rather than re-read as an unknown outcome."""
    for call in (GET, POST, PUT):
        retry = _judge().status(call, _answer(408), Tries(started=0.0))
        assert isinstance(retry, Retry) and "HTTP 408" in retry.note
