"""HTTP/1.1 to a tenant over asyncio streams: the client's network transport.

An ``httpx.AsyncBaseTransport``, so the client builds ``httpx.Request`` objects and reads
``httpx.Response`` objects (compressed bodies are decoded by httpx) whether it talks to a
tenant through this module or to the sandbox in-process. It replaces httpx's own
transport (httpcore, h11 and anyio) for one reason, measured (``benchmarks/
transport_cpu.py``): a 200-row page of enrollments cost the client about 1.3 ms of CPU
through httpx's transport and 0.8 ms through this one (a bare stream that only reads and
decodes it: 0.4 ms), and a plan at 100,000 learners reads 2,800 of them.

What it speaks: HTTP/1.1 requests with their whole body; answers framed by
``Content-Length``, ``chunked`` transfer coding or the end of the connection; informational
(1xx) answers skipped; keep-alive connections reused for ``KEEPALIVE_EXPIRY`` seconds and
never after ``Connection: close``; TLS with httpx's choice of certificates (certifi, or
``SSL_CERT_FILE``/``SSL_CERT_DIR``); an ``http://`` or ``https://`` proxy (a ``CONNECT``
tunnel to an https tenant, the absolute address to an http one), with Basic credentials
from the proxy's address. What it does not: HTTP/2, SOCKS, upgrades, streamed bodies.

The request's httpx ``timeout`` extension bounds each step: ``connect`` the connection
(TLS and any tunnel included), ``write`` sending the request (only when the system cannot
take it at once), ``read`` the whole answer, head and body, from the request sent.

Failures are httpx's exceptions, with the cause chained (``socket.gaierror``,
``ssl.SSLError``, ``ConnectionRefusedError``): the client tells a DNS, TLS or refused
failure from one worth retrying by them. A connection that failed or was cancelled during
an exchange is closed, never reused.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

# How long an idle connection is kept for reuse (httpx's own default): servers close
# idle connections after a few seconds, and a request sent on one they just closed fails.
KEEPALIVE_EXPIRY = 5.0
# The stream buffer: an answer's head (status line and headers) must fit in it.
STREAM_LIMIT = 256 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
# Answers that never have a body, whatever their headers say.
NO_BODY = frozenset({204, 304})
HEX_DIGITS = b"0123456789abcdefABCDEF"


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: where it is, and the ``Proxy-Authorization`` its address carries."""

    scheme: str
    host: str
    port: int
    authorization: bytes | None = field(repr=False)  # the proxy's credentials

    @classmethod
    def parse(cls, url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else "http://" + url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            # The address itself may carry credentials: only its scheme is shown.
            raise ValueError(
                f"the proxy the environment names (scheme {scheme or 'none'!r}) is not an "
                "http:// or https:// proxy address"
            )
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = b"Basic " + base64.b64encode(pair.encode())
        return cls(scheme, parts.hostname, parts.port or DEFAULT_PORTS[scheme], authorization)


class _Connection:
    """One open connection to an origin, with the time it last went idle."""

    __slots__ = ("idle_since", "origin", "reader", "writer")

    def __init__(
        self, origin: tuple[str, str, int], reader: asyncio.StreamReader, writer: Any
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer: asyncio.StreamWriter = writer
        self.idle_since = 0.0

    def reusable(self, origin: tuple[str, str, int], now: float) -> bool:
        return (
            self.origin == origin
            and now - self.idle_since < KEEPALIVE_EXPIRY
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


def _timeouts(request: httpx.Request) -> tuple[float | None, float | None, float | None]:
    """The request's connect, read and write timeouts (httpx's ``timeout`` extension)."""
    given = request.extensions.get("timeout") or {}
    return given.get("connect"), given.get("read"), given.get("write")


def _valid(value: bytes) -> bool:
    """A header name or value that cannot end the line it is on."""
    return b"\r" not in value and b"\n" not in value and b"\0" not in value


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 connections to one tenant, kept alive for reuse (see the module's text).

    ``max_idle`` caps the connections kept open between requests (the client's own
    concurrency cap bounds how many are busy at once); ``proxy`` is an ``http://`` or
    ``https://`` proxy address, or None to connect directly.
    """

    def __init__(
        self,
        *,
        max_idle: int,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_idle = max_idle
        self._proxy = Proxy.parse(proxy) if proxy else None
        self._ssl_context = ssl_context
        self._idle: list[_Connection] = []

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            context = httpx.create_ssl_context(trust_env=True)
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return self._ssl_context

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # --- one exchange -----------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        connect_timeout, read_timeout, write_timeout = _timeouts(request)
        url = request.url
        origin = (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 80))
        message = self._message(request, origin)
        connection = self._reuse(origin)
        if connection is None:
            connection = await self._open(request, origin, connect_timeout)
        try:
            await self._write(connection, message, write_timeout, request)
            try:
                # One deadline for the whole answer, head and body: a timer per request,
                # not per read (timers cost CPU on every exchange).
                async with asyncio.timeout(read_timeout):
                    status, reason, headers, keep = await _read_head(connection.reader, request)
                    if request.method == "HEAD" or status in NO_BODY:
                        body = b""
                    else:
                        body, framed = await _read_body(connection.reader, headers, request)
                        keep = keep and framed
            except TimeoutError:
                raise httpx.ReadTimeout(
                    "timed out waiting for the answer", request=request
                ) from None
        except BaseException:
            connection.close()  # in an unknown state: a failed or cancelled exchange
            raise
        if keep and len(self._idle) < self._max_idle:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    def _message(self, request: httpx.Request, origin: tuple[str, str, int]) -> bytes:
        """The request's bytes: its line, headers and body."""
        body = request.content  # built from json= or data=: always already in memory
        if self._proxy is not None and origin[0] == "http":
            target = str(request.url).encode("ascii")  # a plain-http proxy's absolute form
        else:
            target = request.url.raw_path
        lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
        for name, value in request.headers.raw:
            if not (_valid(name) and _valid(value)):
                raise httpx.LocalProtocolError(
                    f"header {name.decode('latin-1')!r} holds a line break", request=request
                )
            lines.append(name + b": " + value)
        if self._proxy is not None and origin[0] == "http" and self._proxy.authorization:
            lines.append(b"Proxy-Authorization: " + self._proxy.authorization)
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    def _reuse(self, origin: tuple[str, str, int]) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely stale
            if connection.reusable(origin, now):
                return connection
            connection.close()
        return None

    @staticmethod
    async def _write(
        connection: _Connection, message: bytes, timeout: float | None, request: httpx.Request
    ) -> None:
        writer = connection.writer
        try:
            writer.write(message)
            if writer.transport.get_write_buffer_size():
                # The system took less than the whole request: wait for room, bounded.
                async with asyncio.timeout(timeout):
                    await writer.drain()
            else:
                await writer.drain()  # never waits here; raises if the connection was lost
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request", request=request) from None
        except OSError as exc:
            raise httpx.WriteError(f"sending the request failed: {exc}", request=request) from exc

    # --- connecting -------------------------------------------------------------------

    async def _open(
        self, request: httpx.Request, origin: tuple[str, str, int], timeout: float | None
    ) -> _Connection:
        scheme, host, port = origin
        where = f"{host}:{port}"
        try:
            async with asyncio.timeout(timeout):
                if self._proxy is None:
                    tls = self._ssl() if scheme == "https" else None
                    reader, writer = await asyncio.open_connection(
                        host, port, ssl=tls, server_hostname=host if tls else None,
                        limit=STREAM_LIMIT,
                    )  # fmt: skip
                else:
                    where = f"the proxy at {self._proxy.host}:{self._proxy.port}"
                    reader, writer = await self._through_proxy(request, scheme, host, port)
        except TimeoutError:
            message = f"timed out connecting to {where}"
            raise httpx.ConnectTimeout(message, request=request) from None
        except OSError as exc:  # DNS, refused, unreachable, TLS (ssl.SSLError is an OSError)
            raise httpx.ConnectError(f"{exc} (connecting to {where})", request=request) from exc
        return _Connection(origin, reader, writer)

    async def _through_proxy(
        self, request: httpx.Request, scheme: str, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        proxy = self._proxy
        assert proxy is not None
        tls = self._ssl() if proxy.scheme == "https" else None
        reader, writer = await asyncio.open_connection(
            proxy.host, proxy.port, ssl=tls, server_hostname=proxy.host if tls else None,
            limit=STREAM_LIMIT,
        )  # fmt: skip
        if scheme != "https":
            return reader, writer  # plain http: requests go to the proxy in absolute form
        try:
            name = f"[{host}]" if ":" in host else host  # an IPv6 address is bracketed
            authority = f"{name}:{port}".encode("idna")
            lines = [b"CONNECT " + authority + b" HTTP/1.1", b"Host: " + authority]
            if proxy.authorization:
                lines.append(b"Proxy-Authorization: " + proxy.authorization)
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
            await writer.drain()
            try:
                status, reason, _, _ = await _read_head(reader, request)
            except httpx.TransportError as exc:
                raise ConnectionError(f"the proxy ended the tunnel request: {exc}") from None
            if not 200 <= status < 300:
                raise ConnectionError(
                    f"the proxy refused a tunnel to {host}:{port}: HTTP {status} "
                    f"{reason.decode('latin-1')}".rstrip()
                )
            await writer.start_tls(self._ssl(), server_hostname=host)
        except BaseException:
            writer.close()
            raise
        return reader, writer


# --- reading an answer ------------------------------------------------------------------


async def _read_head(
    reader: asyncio.StreamReader, request: httpx.Request
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool]:
    """The next final answer's status, reason, headers and whether the connection may be
    kept (informational answers are read past). The caller bounds the wait."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            said = "without sending an answer" if not exc.partial else "in the answer's headers"
            raise httpx.RemoteProtocolError(
                f"the server closed the connection {said}", request=request
            ) from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError(
                f"the answer's headers exceed {STREAM_LIMIT} bytes", request=request
            ) from None
        except OSError as exc:
            raise httpx.ReadError(f"reading the answer failed: {exc}", request=request) from exc
        status, reason, headers, keep = _parse_head(head, request)
        if status == 101:
            raise httpx.RemoteProtocolError("unexpected protocol switch", request=request)
        if status >= 200:
            return status, reason, headers, keep


def _parse_head(
    head: bytes, request: httpx.Request
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool]:
    lines = head[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError(
            f"not an HTTP/1 status line: {lines[0][:80]!r}", request=request
        )
    headers: list[tuple[bytes, bytes]] = []
    keep = version == b"HTTP/1.1"
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and headers:  # an obsolete folded continuation
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip(b" \t"):
            raise httpx.RemoteProtocolError(
                f"malformed header line in the answer: {line[:80]!r}", request=request
            )
        value = value.strip(b" \t")
        headers.append((name, value))
        if name.lower() == b"connection":
            tokens = {t.strip().lower() for t in value.split(b",")}
            keep = b"close" not in tokens and (keep or b"keep-alive" in tokens)
    return int(code), reason, headers, keep


async def _read_body(
    reader: asyncio.StreamReader,
    headers: list[tuple[bytes, bytes]],
    request: httpx.Request,
) -> tuple[bytes, bool]:
    """The answer's body, and whether it was framed (else the connection's end framed it
    and it cannot be reused). The caller bounds the wait."""
    coding = length = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            coding = value.lower() if coding is None else coding + b"," + value.lower()
        elif lowered == b"content-length":
            if length is not None and length != value:
                raise httpx.RemoteProtocolError("conflicting Content-Length", request=request)
            length = value
    try:
        if coding is not None:
            if coding.rsplit(b",", 1)[-1].strip() == b"chunked":
                return await _read_chunked(reader, request), length is None
            return await reader.read(), False
        if length is not None:
            if not length.isdigit():
                raise httpx.RemoteProtocolError(
                    f"malformed Content-Length {length[:40]!r}", request=request
                )
            return await reader.readexactly(int(length)), True
        return await reader.read(), False
    except asyncio.IncompleteReadError:
        raise httpx.RemoteProtocolError(
            "the server closed the connection before the whole answer arrived", request=request
        ) from None
    except asyncio.LimitOverrunError:
        raise httpx.RemoteProtocolError("a malformed chunked answer", request=request) from None
    except OSError as exc:
        raise httpx.ReadError(f"reading the answer failed: {exc}", request=request) from exc


async def _read_chunked(reader: asyncio.StreamReader, request: httpx.Request) -> bytes:
    parts: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip(b" \t")
        if not size_text or size_text.strip(HEX_DIGITS):
            raise httpx.RemoteProtocolError(
                f"malformed chunk size {size_text[:40]!r}", request=request
            )
        size = int(size_text, 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, ignored
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise httpx.RemoteProtocolError("a chunk not ended by CRLF", request=request)
