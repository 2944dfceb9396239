"""Reaching a tenant over real sockets, through the real client: loopback servers and
proxies that answer with the exact bytes a test gives (framings, codings, broken answers,
refused tunnels), so every case is what a tenant or a proxy could really send, and the
environment (``HTTPS_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``) is read by httpx as it is
for a user."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials, RetryPolicy
from certops.lms.errors import (
    LMSAddressError,
    LMSConnectionError,
    LMSError,
    LMSUnavailableError,
)

QUICK = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)
ONCE = RetryPolicy(attempts=1)
CREDENTIALS = Credentials("app", "secret-value")
PROXY_NAMES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
COURSE = {"id_course": 7, "code": "C-7", "name": "Course 7", "course_type": "elearning"}
PAGE = json.dumps({"data": {"items": [COURSE], "has_more_data": False}}).encode()
TOKEN = json.dumps({"access_token": "tok-123", "expires_in": 3600}).encode()

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(autouse=True)
def _no_proxy_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the proxy variables it is about, and only those."""
    for name in PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _json(body: bytes) -> bytes:
    return _answer(body, f"Content-Length: {len(body)}", "Content-Type: application/json")


@dataclass
class Request:
    head: bytes
    body: bytes

    @property
    def line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return Request(head, await reader.readexactly(length))


Route = Callable[[Request], bytes | None]


def tenant(route: Route | None = None) -> Route:
    """Answers the token request, and ``route`` (default: one page of courses) the rest;
    None closes the connection without an answer."""

    def answer(request: Request) -> bytes | None:
        if b"/oauth2/token" in request.line:
            return _json(TOKEN)
        return route(request) if route else _json(PAGE)

    return answer


@dataclass
class Server:
    """A loopback server (TLS with ``tls``): each request on each connection is answered
    by ``route``; it keeps what it was sent and counts connections."""

    route: Route
    tls: ssl.SSLContext | None = None
    seen: list[Request] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while (request := await _read_request(reader)) is not None:
                self.seen.append(request)
                answer = self.route(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _courses(url: str, retry: RetryPolicy = QUICK, **options: Any) -> list[Any]:
    async with connect_reader(
        parse_address(url), credentials=CREDENTIALS, retry=retry, **options
    ) as reader:
        return await reader.list_courses()


# --- answers ----------------------------------------------------------------------------


def test_calls_share_one_kept_alive_connection() -> None:
    async def run() -> int:
        async with Server(tenant()) as server:
            async with connect_reader(
                parse_address(server.url), credentials=CREDENTIALS, retry=QUICK
            ) as reader:
                for _ in range(3):
                    assert [c.code for c in await reader.list_courses()] == ["C-7"]
            return server.connections

    assert asyncio.run(run()) == 1


def test_a_chunked_gzip_answer_is_decoded_and_its_connection_reused() -> None:
    packed = gzip.compress(PAGE)
    chunks = b"".join(
        f"{len(part):x};name=value\r\n".encode() + part + b"\r\n"
        for part in (packed[:7], packed[7:])
    )
    answer = _answer(
        chunks + b"0\r\nX-Trailer: yes\r\n\r\n",
        "Transfer-Encoding: chunked",
        "Content-Encoding: gzip",
        "Content-Type: application/json",
    )

    async def run() -> tuple[list[Any], list[Any], int]:
        async with Server(tenant(lambda request: answer)) as server:
            async with connect_reader(
                parse_address(server.url), credentials=CREDENTIALS, retry=QUICK
            ) as reader:
                first = await reader.list_courses()
                second = await reader.list_courses()  # the same connection: framing was exact
            return first, second, server.connections

    first, second, connections = asyncio.run(run())
    assert [c.code for c in first] == [c.code for c in second] == ["C-7"]
    assert connections == 1


def test_a_compressed_transfer_coding_is_an_error_never_a_misread_body() -> None:
    """``Transfer-Encoding: gzip, chunked`` is not HTTP/1.1 a client must decode: the read
    fails with the protocol error named, instead of handing gzip bytes to the parser."""
    packed = gzip.compress(PAGE)
    answer = _answer(
        f"{len(packed):x}\r\n".encode() + packed + b"\r\n0\r\n\r\n",
        "Transfer-Encoding: gzip, chunked",
    )

    async def run() -> None:
        async with Server(tenant(lambda request: answer)) as server:
            await _courses(server.url)

    with pytest.raises(LMSUnavailableError, match=r"RemoteProtocolError.*Transfer-Encoding"):
        asyncio.run(run())


def test_a_server_that_hangs_up_once_is_asked_again() -> None:
    hung_up: list[bool] = []

    def once(request: Request) -> bytes | None:
        if not hung_up:
            hung_up.append(True)
            return None  # closes the connection without an answer
        return _json(PAGE)

    async def run() -> tuple[list[Any], int]:
        async with Server(tenant(once)) as server:
            courses = await _courses(server.url)
            return courses, server.connections

    courses, connections = asyncio.run(run())
    assert [c.code for c in courses] == ["C-7"]
    assert connections == 2


def test_a_server_that_always_hangs_up_is_given_up_with_what_it_did() -> None:
    async def run() -> None:
        async with Server(tenant(lambda request: None)) as server:
            await _courses(server.url)

    with pytest.raises(
        LMSUnavailableError, match=r"127\.0\.0\.1 did not answer GET /learn/v1/courses after 3"
    ) as raised:
        asyncio.run(run())
    assert "RemoteProtocolError" in str(raised.value)


def test_a_silent_server_is_given_up_after_its_read_timeouts() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await reader.read()  # never answers; returns when the client hangs up

    policy = RetryPolicy(base_delay=0.001, max_delay=0.002, read_timeout=0.2, timeout_attempts=2)

    async def run() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            await _courses(f"http://127.0.0.1:{port}", policy)

    with pytest.raises(LMSConnectionError, match=r"sent no answer within 0\.2 s, 2 time"):
        asyncio.run(run())


def test_a_token_with_a_line_break_never_adds_a_header() -> None:
    token = json.dumps({"access_token": "tok\r\nX-Evil: 1", "expires_in": 3600}).encode()

    def answer(request: Request) -> bytes | None:
        return _json(token) if b"/oauth2/token" in request.line else _json(PAGE)

    async def run() -> list[Request]:
        async with Server(answer) as server:
            with pytest.raises(LMSError):
                await _courses(server.url, ONCE)
            return server.seen

    seen = asyncio.run(run())
    assert [r.line.split()[0] for r in seen] == [b"POST"]  # the token request, nothing else
    assert not any(b"X-Evil" in r.head for r in seen)


# --- proxies ----------------------------------------------------------------------------


def test_a_plain_http_proxy_gets_the_absolute_address_and_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> tuple[list[Any], list[Request]]:
        async with Server(tenant()) as proxy:
            address = proxy.url.replace("http://", "http://us%40er:p%3Ass@")
            monkeypatch.setenv("HTTP_PROXY", address)
            # Port 9 (discard): the proxy answers; nothing may go to the tenant directly.
            courses = await _courses("http://localhost:9")
            return courses, proxy.seen

    courses, seen = asyncio.run(run())
    assert [c.code for c in courses] == ["C-7"]
    assert seen[0].line == b"POST http://localhost:9/oauth2/token HTTP/1.1"
    assert seen[1].line.startswith(b"GET http://localhost:9/learn/v1/courses?")
    for request in seen:
        assert b"\r\nProxy-Authorization: Basic dXNAZXI6cDpzcw==\r\n" in request.head  # us@er:p:ss


@pytest.mark.parametrize(
    ("env", "through_proxy"),
    [
        ({"HTTP_PROXY": "PROXY"}, True),
        ({"http_proxy": "PROXY"}, True),
        ({"ALL_PROXY": "PROXY"}, True),
        ({"HTTPS_PROXY": "PROXY"}, False),  # an http:// address takes HTTP_PROXY only
        ({"HTTP_PROXY": "PROXY", "NO_PROXY": "127.0.0.1"}, False),
        ({"HTTP_PROXY": "PROXY", "no_proxy": "other.example, 127.0.0.1"}, False),
        ({"HTTP_PROXY": "PROXY", "NO_PROXY": "*"}, False),
        ({"HTTP_PROXY": "PROXY", "NO_PROXY": "other.example"}, True),
    ],
)
def test_the_environment_chooses_the_proxy(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], through_proxy: bool
) -> None:
    async def run() -> tuple[int, int]:
        async with Server(tenant()) as proxy, Server(tenant()) as direct:
            for name, value in env.items():
                monkeypatch.setenv(name, proxy.url if value == "PROXY" else value)
            assert [c.code for c in await _courses(direct.url)] == ["C-7"]
            return len(proxy.seen), len(direct.seen)

    via_proxy, directly = asyncio.run(run())
    assert (via_proxy > 0, directly > 0) == (through_proxy, not through_proxy)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=tenant.example",
         "-addext", "subjectAltName=DNS:tenant.example"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _tunnel(to_port: int, tunnels: list[bytes]) -> Handler:
    """A proxy that opens every ``CONNECT`` tunnel to ``to_port`` on loopback."""

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await _read_request(reader)
        assert request is not None
        tunnels.append(request.head)
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", to_port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    return proxy


def test_an_https_tenant_is_reached_through_a_connect_tunnel(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the tenant's certificate is trusted
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    tunnels: list[bytes] = []

    async def run() -> list[Any]:
        async with Server(tenant(), tls=server_tls) as secure:
            proxy = await asyncio.start_server(_tunnel(secure.port, tunnels), "127.0.0.1", 0)
            async with proxy:
                port = proxy.sockets[0].getsockname()[1]
                monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
                return await _courses("https://tenant.example")

    assert [c.code for c in asyncio.run(run())] == ["C-7"]
    assert tunnels[0].startswith(b"CONNECT tenant.example:443 HTTP/1.1\r\n")


@pytest.mark.parametrize(
    "status", ["407 Proxy Authentication Required", "403 Forbidden", "502 Bad Gateway"]
)
def test_a_refused_tunnel_ends_the_run_naming_the_proxy(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    def refuse(request: Request) -> bytes:
        assert request.line.startswith(b"CONNECT ")
        return _answer(b"", "Content-Length: 0", status=status)

    async def run() -> int:
        async with Server(refuse) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            with pytest.raises(LMSConnectionError) as raised:
                await _courses("https://acme.docebosaas.com")
            message = str(raised.value)
            assert (
                f"cannot connect to acme.docebosaas.com (https://acme.docebosaas.com): the "
                f"proxy {proxy.url} refused a tunnel to it: HTTP {status}" in message
            ), message
            assert "HTTPS_PROXY" in message
            return len(proxy.seen)

    assert asyncio.run(run()) == 1  # at once: a refused tunnel is not retried


def test_a_plain_proxy_asking_for_credentials_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def ask(request: Request) -> bytes:
        return _answer(b"", "Content-Length: 0", status="407 Proxy Authentication Required")

    async def run() -> None:
        async with Server(ask) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            await _courses("http://localhost:9")

    with pytest.raises(
        LMSConnectionError,
        match=r"proxy http://127\.0\.0\.1:\d+ asks for credentials \(HTTP 407\).*",
    ):
        asyncio.run(run())


def test_a_proxy_that_echoes_its_credentials_never_shows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 407 whose reason phrase repeats the Proxy-Authorization header and the password:
    the message has the status and its standard phrase, named with the proxy, nothing of
    what the proxy said; and it comes at once (one try)."""

    def echo(request: Request) -> bytes:
        sent = [line for line in request.head.split(b"\r\n") if b"authorization" in line.lower()]
        reason = b"Denied " + b" ".join(sent) + b" user:hunter22pw"
        return _answer(b"", "Content-Length: 0", status="407 " + reason.decode())

    async def run() -> tuple[str, int]:
        async with Server(echo) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", f"http://proxyuser:hunter22pw@127.0.0.1:{proxy.port}")
            with pytest.raises(LMSConnectionError) as raised:
                await _courses("https://acme.docebosaas.com")
            return str(raised.value), len(proxy.seen)

    message, tries = asyncio.run(run())
    assert tries == 1
    assert "HTTP 407 Proxy Authentication Required" in message and "HTTPS_PROXY" in message
    assert "127.0.0.1" in message  # the proxy, by its address
    for leaked in ("hunter22pw", "proxyuser", "Denied", "cHJveHl1c2VyOmh1bnRlcjIycHc"):
        assert leaked not in message, message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("proxy", "says"),
    [
        ("http://u:hunter22pw@127.0.0.1:{port}", "refused the connection"),
        ("http://u:hunter22pw@no-such-proxy.invalid:3128", "cannot resolve the host of"),
    ],
    ids=["refused", "unresolvable"],
)
def test_a_proxy_that_cannot_be_reached_is_blamed_not_the_lms(
    monkeypatch: pytest.MonkeyPatch, proxy: str, says: str
) -> None:
    monkeypatch.setenv("https_proxy", proxy.format(port=_closed_port()))
    started = time.monotonic()
    with pytest.raises(LMSConnectionError) as raised:
        asyncio.run(_courses("https://acme.docebosaas.com", RetryPolicy()))
    message = str(raised.value)
    assert time.monotonic() - started < 5  # at once, with the production retry policy
    assert says in message and "the proxy http://" in message
    assert "(set by https_proxy)" in message and "NO_PROXY" in message
    assert "hunter22pw" not in message and "u:" not in message
    # The LMS's own address is not what it asks to check.
    assert "check the --lms address" not in message


def test_a_tenant_out_of_the_proxy_s_reach_is_not_blamed_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NO_PROXY covers the host: the connection is the LMS's, and so is the blame."""
    monkeypatch.setenv("HTTPS_PROXY", "http://no-such-proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with pytest.raises(LMSConnectionError) as raised:
        asyncio.run(_courses(f"http://127.0.0.1:{_closed_port()}", RetryPolicy()))
    assert "connection refused; check the --lms address" in str(raised.value)


def test_a_token_no_header_can_carry_is_refused_at_once_and_not_shown() -> None:
    """A value a header cannot carry is refused by the client before anything is sent:
    no retry changes it, so none is made, and the value is not repeated."""
    bad = json.dumps({"access_token": "tok-\r\nX-Injected: 1", "expires_in": 3600}).encode()

    def answer(request: Request) -> bytes:
        return _json(bad) if b"/oauth2/token" in request.line else _json(PAGE)

    async def run() -> tuple[str, int]:
        async with Server(answer) as server:
            with pytest.raises(LMSError) as raised:
                await _courses(server.url, RetryPolicy())
            return str(raised.value), len(server.seen)

    message, requests = asyncio.run(run())
    assert requests == 1  # the token request only
    assert "control characters" in message and "Injected" not in message


def test_a_request_refused_by_the_client_is_never_retried() -> None:
    """httpx refuses to send a request it cannot frame (a local protocol error): nothing
    was sent, and a retry would meet the same refusal."""
    from certops.lms.failures import Call, Judge, Tries

    judge = Judge(
        host="acme.docebosaas.com", lms="https://acme.docebosaas.com", policy=RetryPolicy(),
        credentials=CREDENTIALS, redact=str,
    )  # fmt: skip
    error = httpx.LocalProtocolError("Illegal header value b'Bearer secret\\r'")
    with pytest.raises(LMSError, match="refused before anything was sent") as raised:
        judge.transport_error(Call("GET", "/learn/v1/courses"), error, Tries(0.0), 0.0)
    assert "secret" not in str(raised.value)


def test_a_stale_408_on_an_idle_connection_is_never_taken_as_the_next_answer() -> None:
    """A server that times out an idle kept-alive connection may write ``408`` on it
    unasked, then close it. The next call must get its own answer (on a new connection),
    never that 408: taken as the answer to a write, it reported writes as failed that
    never reached the server."""

    stale = _answer(b"", "Connection: close", "Content-Length: 0", status="408 Request Timeout")
    idle, sent = asyncio.Event(), asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_request(reader)) is not None:
                token = b"/oauth2/token" in request.line
                writer.write(_json(TOKEN) if token else _json(PAGE))
                await writer.drain()
                if not token:  # the client is done with it; the server gives up on it
                    await idle.wait()
                    idle.clear()
                    writer.write(stale)
                    await writer.drain()
                    sent.set()
                    return
        finally:
            writer.close()

    async def run() -> list[list[Any]]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            async with connect_reader(
                parse_address(url), credentials=CREDENTIALS, retry=ONCE
            ) as reader:
                answers = []  # one try each: a stale 408 taken as the answer fails the call
                for _ in range(3):
                    answers.append(await reader.list_courses())
                    idle.set()  # the connection idles: the 408 comes, unasked
                    await sent.wait()
                    sent.clear()
                return answers

    assert [[c.code for c in a] for a in asyncio.run(run())] == [["C-7"]] * 3


def test_bytes_a_proxy_sends_after_opening_a_tunnel_are_never_an_answer(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that writes a forged answer right after ``200 Connection established``:
    those bytes are not the tenant's (TLS has not begun), so the run fails closed, never
    reading them as a page."""
    cert, _ = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    forged = json.dumps({"data": {"items": [{**COURSE, "code": "FORGED"}]}}).encode()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n" + _json(forged))
        await writer.drain()
        await reader.read(65536)  # the client's TLS hello, unanswered but by the forgery
        writer.close()

    async def run() -> None:
        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
            await _courses("https://tenant.example", ONCE)

    with pytest.raises(LMSError) as raised:
        asyncio.run(run())
    assert "FORGED" not in str(raised.value)
    assert isinstance(raised.value, LMSConnectionError | LMSUnavailableError), raised.value


@pytest.fixture
def _no_socks() -> Iterator[None]:
    try:
        import socksio  # noqa: F401
    except ImportError:
        yield
    else:
        pytest.skip("socksio is installed: httpx can use a SOCKS proxy")


@pytest.mark.usefixtures("_no_socks")
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "all_proxy"])
@pytest.mark.parametrize("scheme", ["socks5", "socks4"])
def test_an_unusable_proxy_is_named_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch, variable: str, scheme: str
) -> None:
    monkeypatch.setenv(variable, f"{scheme}://user:hunter2@proxy:1080")
    with pytest.raises(LMSAddressError) as raised:
        asyncio.run(_courses("https://acme.docebosaas.com"))
    message = str(raised.value)
    assert variable in message and f"scheme '{scheme}'" in message
    assert "hunter2" not in message and "user" not in message
    if scheme == "socks5":
        assert "socksio" in message


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("acme.docebosaas.com", "docebosaas.com", True),
        ("docebosaas.com", "docebosaas.com", True),
        ("acme.docebosaas.com", ".docebosaas.com", True),
        ("docebosaas.com", ".docebosaas.com", False),
        ("xdocebosaas.com", "docebosaas.com", False),
        ("127.0.0.1", "localhost, 127.0.0.1", True),
        ("::1", "[::1]", True),
        ("acme.docebosaas.com", "a.example, *", True),
        ("acme.docebosaas.com", "https://acme.docebosaas.com", True),
        ("acme.docebosaas.com", "", False),
    ],
)
def test_the_proxy_blamed_is_the_one_httpx_uses(
    monkeypatch: pytest.MonkeyPatch, host: str, no_proxy: str, bypassed: bool
) -> None:
    """``proxy_for`` reads NO_PROXY by httpx's rules, so a message blames a proxy only
    when requests really go through it."""
    from certops.lms.network import proxy_for

    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    found = proxy_for(f"https://{'[::1]' if host == '::1' else host}/")
    if bypassed:
        assert found is None
    else:
        assert found is not None and found.address == "http://proxy.example:3128"
        assert (found.variable, found.user, found.password) == ("HTTPS_PROXY", "user", "pw")
