"""The HTTP/1.1 transport against real sockets: servers on loopback that answer with the
exact bytes a test gives (framings, codings, broken answers, proxies), so every case is
what a tenant or proxy could really send."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from certops.lms import Credentials, RetryPolicy, connect
from certops.lms.client import network_transport
from certops.lms.errors import LMSAddressError, LMSConnectionError
from certops.lms.http11 import Http11Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUT = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


async def _head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def _answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Scripted:
    """A loopback server: each connection is handled by ``handler``; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def _get(transport: httpx.AsyncBaseTransport, url: str, **kw: object) -> httpx.Response:
    request = httpx.Request(kw.pop("method", "GET"), url, extensions={"timeout": TIMEOUT}, **kw)  # type: ignore[arg-type]
    response = await transport.handle_async_request(request)
    await response.aread()
    return response


def _serve_each(*answers: bytes) -> Handler:
    """Answers the requests on one connection in turn with ``answers``, then hangs up."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            await _head(reader)
            writer.write(answer)
            await writer.drain()

    return handler


def test_content_length_answers_reuse_one_connection() -> None:
    async def run() -> tuple[list[bytes], int]:
        ok = _answer(b'{"a": 1}', "Content-Length: 8", "Content-Type: application/json")
        scripted = Scripted(_serve_each(ok, ok, ok))
        async with scripted as url:
            transport = Http11Transport(max_idle=2)
            bodies = [(await _get(transport, url + "/x")).content for _ in range(3)]
            await transport.aclose()
        return bodies, scripted.connections

    bodies, connections = asyncio.run(run())
    assert bodies == [b'{"a": 1}'] * 3
    assert connections == 1


def test_chunked_gzip_answer_with_extensions_and_trailers_is_decoded() -> None:
    packed = gzip.compress(b'{"items": [1, 2, 3]}')
    chunks = b"".join(
        f"{len(part):x};name=value\r\n".encode() + part + b"\r\n"
        for part in (packed[:7], packed[7:])
    )
    answer = _answer(
        chunks + b"0\r\nX-Trailer: yes\r\n\r\n",
        "Transfer-Encoding: chunked",
        "Content-Encoding: gzip",
    )

    async def run() -> tuple[httpx.Response, int]:
        scripted = Scripted(_serve_each(answer, answer))
        async with scripted as url:
            transport = Http11Transport(max_idle=2)
            await _get(transport, url)
            response = await _get(transport, url)  # the same connection: framing was exact
            await transport.aclose()
        return response, scripted.connections

    response, connections = asyncio.run(run())
    assert response.json() == {"items": [1, 2, 3]}
    assert connections == 1


def test_informational_answers_are_read_past() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + _answer(b"done", "Content-Length: 4")

    async def run() -> httpx.Response:
        async with Scripted(_serve_each(answer)) as url:
            return await _get(Http11Transport(max_idle=1), url)

    response = asyncio.run(run())
    assert (response.status_code, response.content) == (200, b"done")


def test_connection_close_and_unframed_answers_are_not_reused() -> None:
    closing = _answer(b"one", "Content-Length: 3", "Connection: close")
    unframed = _answer(b"read to the end")

    async def run() -> tuple[list[bytes], int]:
        scripted = Scripted(_serve_each(closing))
        bodies = []
        async with scripted as url:
            transport = Http11Transport(max_idle=2)
            bodies += [(await _get(transport, url)).content for _ in range(2)]
            scripted.handler = _serve_each(unframed)
            bodies += [(await _get(transport, url)).content for _ in range(2)]
        return bodies, scripted.connections

    bodies, connections = asyncio.run(run())
    assert bodies == [b"one", b"one", b"read to the end", b"read to the end"]
    assert connections == 4


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def run() -> int:
        scripted = Scripted(_serve_each(_answer(b"ok", "Content-Length: 2")))
        async with scripted as url:
            transport = Http11Transport(max_idle=2)
            await _get(transport, url)
            await asyncio.sleep(0.05)  # the server hung up meanwhile
            assert (await _get(transport, url)).content == b"ok"
            await transport.aclose()
        return scripted.connections

    assert asyncio.run(run()) == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"", "closed the connection without sending an answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "closed the connection in the answer's headers"),
        (_answer(b"short", "Content-Length: 99"), "before the whole answer arrived"),
        (b"SPDY/3 200 OK\r\n\r\n", "not an HTTP/1 status line"),
        (_answer(b"", "Bad Header"), "malformed header line"),
        (_answer(b"x", "Content-Length: 1", "Content-Length: 2"), "conflicting Content-Length"),
        (_answer(b"", "Content-Length: -1"), "malformed Content-Length"),
        (_answer(b"0x10\r\n", "Transfer-Encoding: chunked"), "malformed chunk size"),
        (_answer(b"2\r\nokXX", "Transfer-Encoding: chunked"), "a chunk not ended by CRLF"),
    ],
)
def test_broken_answers_are_protocol_errors(answer: bytes, message: str) -> None:
    async def run() -> None:
        async with Scripted(_serve_each(answer)) as url:
            await _get(Http11Transport(max_idle=1), url)

    with pytest.raises(httpx.RemoteProtocolError, match=message):
        asyncio.run(run())


def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def run() -> None:
        async with Scripted(silent) as url:
            request = httpx.Request("GET", url, extensions={"timeout": {**TIMEOUT, "read": 0.1}})
            await Http11Transport(max_idle=1).handle_async_request(request)

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(run())


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(1000))

    async def run() -> None:
        async with Scripted(record) as url:
            await _get(Http11Transport(max_idle=1), url, headers={"X-Token": "a\r\nX-Evil: 1"})

    with pytest.raises(httpx.LocalProtocolError, match="line break"):
        asyncio.run(run())
    assert not any(seen)


def test_a_plain_http_proxy_gets_the_absolute_address_and_its_credentials() -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _head(reader))
        writer.write(_answer(b"via proxy", "Content-Length: 9"))

    async def run() -> bytes:
        async with Scripted(proxy) as proxy_url:
            address = proxy_url.replace("http://", "http://us%40er:p%3Ass@")
            transport = Http11Transport(max_idle=1, proxy=address)
            return (await _get(transport, "http://tenant.example:8080/manage/v1/user?a=1")).content

    assert asyncio.run(run()) == b"via proxy"
    assert seen[0].startswith(b"GET http://tenant.example:8080/manage/v1/user?a=1 HTTP/1.1\r\n")
    assert b"\r\nProxy-Authorization: Basic dXNAZXI6cDpzcw==\r\n" in seen[0]  # us@er:p:ss


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


def test_an_https_tenant_is_reached_through_a_connect_tunnel(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    tunnels: list[bytes] = []

    async def run() -> bytes:
        tenant = await asyncio.start_server(
            _serve_each(_answer(b"secure", "Content-Length: 6")), "127.0.0.1", 0, ssl=server_tls
        )
        tenant_port = tenant.sockets[0].getsockname()[1]

        async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            tunnels.append(await _head(reader))
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", tenant_port
            )
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

            async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
                sink.close()

            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        async with tenant, Scripted(proxy) as proxy_url:
            transport = Http11Transport(max_idle=1, proxy=proxy_url, ssl_context=client_tls)
            response = await _get(transport, "https://tenant.example/learn/v1/x")
            await transport.aclose()
            return response.content

    assert asyncio.run(run()) == b"secure"
    assert tunnels[0].startswith(b"CONNECT tenant.example:443 HTTP/1.1\r\n")


def test_a_proxy_that_refuses_the_tunnel_is_a_connection_error_naming_it() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(_answer(b"", "Content-Length: 0", status="407 Proxy Authentication Required"))

    async def run() -> None:
        async with Scripted(refuse) as proxy_url:
            transport = Http11Transport(max_idle=1, proxy=proxy_url)
            await _get(transport, "https://tenant.example/x")

    refused = r"refused a tunnel to tenant\.example:443: HTTP 407"
    with pytest.raises(httpx.ConnectError, match=refused):
        asyncio.run(run())


def test_through_the_client_a_refused_tunnel_ends_the_run_with_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(_answer(b"", "Content-Length: 0", status="403 Forbidden"))

    async def run() -> None:
        async with Scripted(refuse) as proxy_url:
            monkeypatch.setenv("HTTPS_PROXY", proxy_url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            credentials = Credentials("app", "secret-value")
            async with connect(
                "https://acme.docebosaas.com",
                credentials=credentials,
                retry=RetryPolicy(attempts=1),
            ) as reader:
                await reader.list_courses()

    with pytest.raises(LMSConnectionError, match=r"cannot connect to acme\.docebosaas\.com.*403"):
        asyncio.run(run())


def test_an_unsupported_proxy_is_named_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:hunter2@proxy:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(LMSAddressError, match="scheme 'socks5'") as raised:
        network_transport("https://acme.docebosaas.com", 4)
    assert "hunter2" not in str(raised.value) and "user" not in str(raised.value)
