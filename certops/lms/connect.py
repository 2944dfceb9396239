"""Opening a session with an LMS: ``connect_reader`` and ``connect_writer``.

Each returns a ``Connection`` for ``async with``, which opens one httpx client on entry
and closes it on exit, and yields a ``DoceboReader`` (no write methods, a channel that
sends nothing but GET and the token request) or a ``DoceboWriter``.

This package knows no sandbox: for a tenant it reaches the network through httpx (see
``certops.lms.network``) with ``DOCEBO_*`` credentials from the environment; any other
transport, and the credentials that go with it, is the caller's to give
(``certops.connection`` does it for a ``sandbox:PATH`` address).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypedDict, TypeVar, Unpack

import httpx

from certops.address import LMSAddress
from certops.lms import paths
from certops.lms.credentials import Credentials, credentials_from_env, missing_credentials_error
from certops.lms.docebo import DoceboReader, DoceboWriter
from certops.lms.errors import LMSAddressError
from certops.lms.network import http_client
from certops.lms.pacing import (
    CallBudget,
    Clock,
    Progress,
    RetryPolicy,
    Sleep,
    calls_per_hour_from_env,
)
from certops.lms.paging import page_size_from_env
from certops.lms.session import ApiSession

R = TypeVar("R", bound=DoceboReader)

# What paths hang off when the transport is not a network (the sandbox in-process): any
# absolute URL would do, this one can never resolve.
IN_PROCESS_BASE_URL = "http://sandbox.invalid"

# A transport or credentials, or how to make them when the connection opens (so that,
# e.g., a missing sandbox file is reported by ``open``, where connection errors are).
TransportSource = httpx.AsyncBaseTransport | Callable[[], httpx.AsyncBaseTransport]
CredentialsSource = Credentials | Callable[[], Credentials]


class ConnectOptions(TypedDict, total=False):
    """How a connection paces and reports its calls (every key optional).

    ``max_in_flight``: requests in flight at once (default 4; writes always one at a
    time). ``calls_per_hour`` (else env ``CERTOPS_CALLS_PER_HOUR``): calls in any rolling
    hour. ``page_size`` (else env ``CERTOPS_PAGE_SIZE``, else 200): rows asked per page.
    ``retry``: the retry policy. ``progress``: told human-readable notes about waits and
    retries. ``on_call``: told ``METHOD /path/{id}`` of every request as it is sent.
    ``clock`` and ``sleep``: the monotonic clock and the sleep every wait uses.
    """

    max_in_flight: int
    calls_per_hour: int | None
    page_size: int | None
    retry: RetryPolicy | None
    progress: Progress | None
    on_call: Callable[[str], None] | None
    clock: Clock
    sleep: Sleep


class Connection(AbstractAsyncContextManager[R]):
    """``async with connect_reader(...) as reader``: opens the session on entry (``open``)
    and closes it on exit."""

    def __init__(
        self,
        address: LMSAddress,
        kind: Callable[[ApiSession], R],
        *,
        allow_writes: bool,
        transport: TransportSource | None,
        credentials: CredentialsSource | None,
        options: ConnectOptions,
    ) -> None:
        max_in_flight = options.get("max_in_flight", 4)
        page_size = options.get("page_size")
        calls_per_hour = options.get("calls_per_hour")
        if max_in_flight < 1:
            raise LMSAddressError("max_in_flight must be at least 1")
        if page_size is not None and not 1 <= page_size <= paths.MAX_PAGE_SIZE:
            raise LMSAddressError(f"page_size must be from 1 to {paths.MAX_PAGE_SIZE}")
        if calls_per_hour is not None and calls_per_hour < 1:
            raise LMSAddressError("calls_per_hour must be at least 1")
        self.address = address
        self._kind = kind
        self._allow_writes = allow_writes
        self._transport = transport
        self._credentials = credentials
        self._max_in_flight = max_in_flight
        self._page_size = page_size
        self._calls_per_hour = calls_per_hour
        self._retry = options.get("retry") or RetryPolicy()
        self._progress = options.get("progress")
        self._on_call = options.get("on_call")
        self._clock = options.get("clock", time.monotonic)
        self._sleep = options.get("sleep", asyncio.sleep)
        self.client: R | None = None

    @property
    def call_counts(self) -> dict[str, int]:
        """API calls sent by this connection, by ``METHOD path-template``."""
        return self.client.call_counts if self.client else {}

    async def open(self) -> R:
        """The reader or writer for this address (the caller must ``aclose`` it)."""
        credentials = self._resolve_credentials()
        per_hour = self._calls_per_hour or calls_per_hour_from_env()
        page_size = self._page_size or page_size_from_env() or paths.DEFAULT_PAGE_SIZE
        transport = self._resolve_transport()
        client = http_client(
            transport, max_in_flight=self._max_in_flight, read_timeout=self._retry.read_timeout
        )
        budget = (
            CallBudget(per_hour, clock=self._clock, sleep=self._sleep, progress=self._progress)
            if per_hour
            else None
        )
        http = ApiSession(
            self.address,
            client,
            _base_url(self.address),
            credentials,
            allow_writes=self._allow_writes,
            max_in_flight=self._max_in_flight,
            budget=budget,
            retry=self._retry,
            progress=self._progress,
            on_call=self._on_call,
            page_size=page_size,
            clock=self._clock,
            sleep=self._sleep,
        )
        self.client = self._kind(http)
        return self.client

    def _resolve_credentials(self) -> Credentials:
        given = self._credentials
        if isinstance(given, Credentials):
            return given
        if given is not None:
            return given()
        found = credentials_from_env()
        if found is None:
            raise missing_credentials_error()
        return found

    def _resolve_transport(self) -> httpx.AsyncBaseTransport | None:
        """The transport given (made now if given as a function); None: the network."""
        given = self._transport
        if given is None:
            if self.address.is_sandbox:
                raise LMSAddressError(
                    f"{self.address}: a sandbox is reached through the transport its caller "
                    "gives (certops.connection opens it); certops.lms only reaches tenants"
                )
            return None
        return given if isinstance(given, httpx.AsyncBaseTransport) else given()

    async def __aenter__(self) -> R:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        if self.client is not None:
            await self.client.aclose()


def _base_url(address: LMSAddress) -> str:
    """Where paths hang off: the tenant's address, or a placeholder in-process."""
    return IN_PROCESS_BASE_URL if address.is_sandbox else address.location


def connect_reader(
    address: LMSAddress,
    *,
    transport: TransportSource | None = None,
    credentials: CredentialsSource | None = None,
    **options: Unpack[ConnectOptions],
) -> Connection[DoceboReader]:
    """A connection that yields a ``DoceboReader``: it has no write method, and its
    channel refuses anything but GET (and the token request) before sending it.

    ``transport`` (else httpx's own, to a tenant only) and ``credentials`` (else the
    ``DOCEBO_*`` variables) may be given, or functions that make them on ``open``;
    ``options``: see ``ConnectOptions``."""
    return Connection(
        address,
        DoceboReader,
        allow_writes=False,
        transport=transport,
        credentials=credentials,
        options=options,
    )


def connect_writer(
    address: LMSAddress,
    *,
    transport: TransportSource | None = None,
    credentials: CredentialsSource | None = None,
    **options: Unpack[ConnectOptions],
) -> Connection[DoceboWriter]:
    """A connection that yields a ``DoceboWriter`` (reads, and writes one at a time, each
    done exactly once even when answers are lost); arguments as ``connect_reader``."""
    return Connection(
        address,
        DoceboWriter,
        allow_writes=True,
        transport=transport,
        credentials=credentials,
        options=options,
    )
