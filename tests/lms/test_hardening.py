"""The client under hostile or broken servers: secrets redacted in every encoding a server
can echo, failures that cannot heal reported at once, hanging hosts bounded, a tight rate
limit waited out, and a failing token endpoint not blamed on the credentials."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials, RetryPolicy
from certops.lms.errors import (
    LMSConnectionError,
    LMSCredentialsError,
    LMSResponseError,
    LMSUnavailableError,
)
from certops.sandbox import FaultConfig, create_app, init_sandbox, read_credentials
from tests.support import serve_app

SECRET = "s3cr3t/with+plus="
PASSWORD = "pa ss/w0rd+=&x"
QUICK = RetryPolicy(attempts=8, base_delay=0.002, max_delay=0.02)


def _creds() -> Credentials:
    return Credentials("my-client", SECRET, username="admin", password=PASSWORD)


def _every_form(secret: str, user: str) -> list[str]:
    pair = f"{user}:{secret}".encode()
    return [
        secret,
        quote_plus(secret),
        quote_plus(secret).lower(),
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(pair).decode(),
    ]


def _echo(request: httpx.Request) -> str:
    """Everything a careless server might say back about a request."""
    body = request.content.decode()
    basic_client = base64.b64encode(f"my-client:{SECRET}".encode()).decode()
    basic_user = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    return " | ".join(
        [
            body,
            body.lower(),
            json.dumps({"client_secret": SECRET, "password": PASSWORD}),
            f"Basic {basic_client}",
            f"Basic {basic_user}",
            base64.b64encode(SECRET.encode()).decode(),
            request.headers.get("authorization", ""),
        ]
    )


async def _courses(transport: httpx.AsyncBaseTransport, **options) -> object:
    async with connect_reader(
        parse_address("https://acme.docebosaas.com"),
        transport=transport,
        credentials=_creds(),
        retry=options.pop("retry", QUICK),
        **options,
    ) as lms:
        return await lms.list_courses()


@pytest.mark.parametrize("status", [400, 401])
def test_an_echoed_token_request_never_shows_a_secret(status: int) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "invalid_request " + _echo(request),
                                            "message": _echo(request)})  # fmt: skip

    with pytest.raises(LMSCredentialsError) as err:
        asyncio.run(_courses(httpx.MockTransport(route)))
    message = str(err.value)
    assert "***" in message
    for secret, user in ((SECRET, "my-client"), (PASSWORD, "admin")):
        for form in _every_form(secret, user):
            assert form not in message, form


def test_an_echoed_api_request_never_shows_the_token_or_secrets() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "tok+en/123==", "expires_in": 60})
        return httpx.Response(400, json={"message": _echo(request)})

    with pytest.raises(Exception) as err:
        asyncio.run(_courses(httpx.MockTransport(route)))
    message = str(err.value)
    for form in [*_every_form("tok+en/123==", "x")[:5], *_every_form(SECRET, "my-client")]:
        assert form not in message, form


def test_a_token_endpoint_failing_is_a_server_error_not_refused_credentials() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"message": "database is down"})

    with pytest.raises(LMSUnavailableError) as err:
        asyncio.run(_courses(httpx.MockTransport(route)))
    message = str(err.value)
    assert "HTTP 500" in message and "database is down" in message
    assert "not refused credentials" in message and "try again later" in message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _served_courses(url: str, retry: RetryPolicy | None = None) -> object:
    async with connect_reader(
        parse_address(url), credentials=_creds(), retry=retry or RetryPolicy()
    ) as lms:
        return await lms.list_courses()


def test_a_refused_connection_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(LMSConnectionError, match="connection refused; check the --lms address"):
        asyncio.run(_served_courses(f"http://127.0.0.1:{_free_port()}"))
    assert time.monotonic() - started < 2  # production retry policy: no 8 attempts


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTPS server on loopback whose self-signed certificate nobody trusts."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def test_an_untrusted_certificate_fails_at_once(tls_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(LMSConnectionError, match=r"TLS failed: .*certificate"):
        asyncio.run(_served_courses(tls_server))
    assert time.monotonic() - started < 3


@pytest.fixture
def hanging() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_a_host_that_hangs_is_tried_a_bounded_number_of_times(hanging: str) -> None:
    policy = RetryPolicy(base_delay=0.01, max_delay=0.02, read_timeout=0.3, timeout_attempts=3)
    started = time.monotonic()
    with pytest.raises(LMSConnectionError, match=r"sent no answer within 0\.3 s, 3 time"):
        asyncio.run(_served_courses(hanging, policy))
    assert time.monotonic() - started < 2  # 3 x 0.3 s, not 8


def test_a_hanging_host_is_given_up_at_the_deadline(hanging: str) -> None:
    policy = RetryPolicy(
        attempts=50, base_delay=0.01, max_delay=0.02, read_timeout=0.2, timeout_attempts=50,
        deadline=0.7,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(LMSConnectionError, match="sent no answer"):
        asyncio.run(_served_courses(hanging, policy))
    assert time.monotonic() - started < 1.5


TOKEN_BODY = b'{"access_token": "tok", "expires_in": 3600}'
TOKEN_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN_BODY), TOKEN_BODY)
)


class Silent:
    """A loopback host that accepts connections and reads requests (it notes each one's
    path) and never answers, but, with ``token``, answers the token request."""

    def __init__(self, *, token: bool) -> None:
        self.paths: list[str] = []
        self._token = token
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffered = b""
        with conn:
            while chunk := _recv(conn):
                buffered += chunk
                while b"\r\n\r\n" in buffered:
                    head, _, buffered = buffered.partition(b"\r\n\r\n")
                    path = head.split(b" ")[1].decode().split("?")[0]
                    self.paths.append(path)
                    if self._token and path == "/oauth2/token":
                        buffered = b""  # the form body
                        conn.sendall(TOKEN_ANSWER)

    def close(self) -> None:
        self._sock.close()


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


async def _many_courses(url: str, policy: RetryPolicy, *, calls: int, in_flight: int) -> list:
    async with connect_reader(
        parse_address(url), credentials=_creds(), retry=policy, max_in_flight=in_flight
    ) as lms:
        return await asyncio.gather(*(lms.list_courses() for _ in range(calls)),
                                    return_exceptions=True)  # fmt: skip


SILENT_POLICY = RetryPolicy(base_delay=0.01, max_delay=0.02, read_timeout=0.3, timeout_attempts=3)


@pytest.mark.parametrize("token", [False, True], ids=["at-the-token", "after-the-token"])
def test_a_host_that_never_answers_many_waiting_calls_is_tried_three_times(token: bool) -> None:
    """Eight calls waiting (for the token, or for two slots) when the host goes silent:
    the host is tried 3 times in all (the token fetched once), within about 3 x the read
    timeout, not 3 times per call."""
    host = Silent(token=token)
    try:
        started = time.monotonic()
        results = asyncio.run(_many_courses(host.url, SILENT_POLICY, calls=8, in_flight=2))
        spent = time.monotonic() - started
    finally:
        host.close()
    assert all(isinstance(r, LMSConnectionError) for r in results), results
    assert all("sent no answer within 0.3 s" in str(r) for r in results)
    if token:
        assert host.paths[0] == "/oauth2/token" and host.paths.count("/oauth2/token") == 1
        assert 3 <= len(host.paths) - 1 <= 3 + 2, host.paths  # 3, and the two in flight
    else:
        assert host.paths == ["/oauth2/token"] * 3
    assert spent < 4 * 0.3 + 0.5, spent


def test_a_call_begun_after_the_host_was_given_up_tries_it_again() -> None:
    """One connection kept for days (``listen``): the host given up once is tried afresh
    by the next call, and the calls of that time end with the first one's error."""
    answers = {"silent": True}

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        if answers["silent"]:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, json={"data": {"items": [], "has_more_data": False}})

    async def go() -> tuple[list, object]:
        async with connect_reader(
            parse_address("https://acme.docebosaas.com"),
            transport=httpx.MockTransport(route),
            credentials=_creds(),
            retry=SILENT_POLICY,
        ) as lms:
            first = await asyncio.gather(*(lms.list_courses() for _ in range(5)),
                                         return_exceptions=True)  # fmt: skip
            answers["silent"] = False
            return first, await lms.list_courses()

    first, later = asyncio.run(go())
    assert all(isinstance(r, LMSConnectionError) for r in first), first
    assert later == []


@pytest.mark.slow
def test_a_tight_rate_limit_is_waited_out(tmp_path: Path) -> None:
    """Two calls per second and two attempts per request: every 429 is waited out as the
    server says, and a request queued behind the one that got it does not fire into the
    limited window (with one request in flight, one 429 per window at most)."""
    db = tmp_path / "s.db"
    init_sandbox(db)
    app = create_app(db, faults=FaultConfig(rate_limit_calls=2, rate_limit_window_s=1.0))
    stored = read_credentials(db)
    creds = Credentials(stored.client_id, stored.client_secret, stored.username, stored.password)
    policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)

    async def go(url: str) -> list[object]:
        async with connect_reader(
            parse_address(url), credentials=creds, retry=policy, max_in_flight=1
        ) as lms:
            return await asyncio.gather(*(lms.list_courses() for _ in range(5)))

    with serve_app(app) as url:
        results = asyncio.run(go(url))
        calls = httpx.get(f"{url}/_sandbox/calls", timeout=10).json()["items"]
    assert results == [[]] * 5
    statuses = [c["status"] for c in calls]
    assert statuses.count(200) == 6  # the token and the five reads
    assert statuses.count(429) <= 3, statuses


def test_a_reply_that_echoes_the_token_in_an_odd_field_never_shows_it() -> None:
    token = "tok+en/abcdef=="

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": token, "expires_in": 60})
        # Not an error, just a shape certops cannot use, showing what it was sent.
        return httpx.Response(200, json={"data": request.headers["authorization"]})

    with pytest.raises(LMSResponseError) as err:
        asyncio.run(_courses(httpx.MockTransport(route)))
    message = str(err.value)
    assert "unexpected response" in message and "***" in message
    assert "abcdef" not in message
