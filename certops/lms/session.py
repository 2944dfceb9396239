"""The session with one LMS: the token, every call with its retries, the read-only and
read-write channels, and paging.

An ``ApiSession`` sends JSON calls through one ``httpx.AsyncClient`` (to a tenant through
httpx's own transport, or over a transport the caller gives, e.g. the sandbox in-process:
the same code path for both; see ``certops.lms.network``). Each call waits its turn
(``certops.lms.pacing``), sends one try at a time, and asks ``certops.lms.failures.Judge``
what each try means. Docebo's field names and formats live in ``certops.lms.wire``; the
reader and writer that turn them into certops records live in ``certops.lms.docebo``.
This module only moves JSON.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing, nullcontext
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from certops.address import LMSAddress
from certops.lms import paths, wire
from certops.lms.credentials import Credentials
from certops.lms.errors import LMSConnectionError, LMSResponseError, ReadOnlyError
from certops.lms.failures import Call, Judge, Tries
from certops.lms.network import proxy_for
from certops.lms.pacing import (
    SINGLE,
    UNKNOWN_LENGTH,
    CallBudget,
    Clock,
    Progress,
    RetryPolicy,
    SharedPause,
    Sleep,
    Slots,
)
from certops.lms.paging import PagingGuard
from certops.secrets import redact_secrets, remember_secrets

T = TypeVar("T")

# Every request's headers (the token is added per call). Compressed answers are decoded
# by httpx; gzip and deflate need nothing beyond it.
HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "certops",
}
# What a response's stream becomes once its body is read (see ``ApiSession._roundtrip``).
_READ = httpx.ByteStream(b"")


class DoceboAuth:
    """Docebo's OAuth2 bearer token: fetched before the first call, renewed shortly
    before it expires (on ``clock``). ``ApiSession`` sends it with every call and, on a
    401 (a token expired or revoked early), renews it once and sends the call again.
    ``fetch`` sends the token request itself (with the session's retries, and no token);
    every token and refresh token is added to ``secrets`` as soon as it is known, so no
    message can show it. One fetch serves every caller waiting for it: when it fails, they
    all get its error (a host that never answers is tried one time over, not once per
    waiting call); a caller that comes later tries again.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Any]],
        secrets: set[str],
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._secrets = secrets
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._fetches = 0  # fetches ended so far, failed or not
        self._failure: BaseException | None = None  # the last fetch's error, if it failed

    def _fresh(self) -> str | None:
        return self._token if self._token and self._clock() < self._expires else None

    def invalidate(self, used: str | None = None) -> None:
        """Forget the token (only if it is still ``used``: a newer one may be in place)."""
        if used is None or used == self._token:
            self._token = None
            self._expires = 0.0

    async def token(self) -> str:
        """A valid access token, renewed shortly before it expires."""
        if token := self._fresh():
            return token
        fetches = self._fetches
        async with self._lock:
            if token := self._fresh():
                return token
            if self._failure is not None and self._fetches != fetches:
                raise self._failure  # the fetch this caller waited for failed
            try:
                payload = await self._fetch()
            except Exception as exc:
                self._failure = exc
                raise
            finally:
                self._fetches += 1
            self._failure = None
            token = payload.get("access_token") if isinstance(payload, dict) else None
            if not isinstance(token, str) or not token:
                raise LMSResponseError(
                    f"unexpected response from POST {paths.TOKEN}: field 'access_token' is missing"
                )
            self._secrets.add(token)
            refresh = payload.get("refresh_token")
            if isinstance(refresh, str) and refresh:
                self._secrets.add(refresh)
            remember_secrets(self._secrets)
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in token):
                raise LMSResponseError(
                    f"unexpected response from POST {paths.TOKEN}: the access token holds "
                    "control characters, which no HTTP header can carry (not shown); check "
                    "that --lms is the tenant's address"
                )
            try:
                lifetime = float(payload.get("expires_in", 3600))
            except (TypeError, ValueError):
                lifetime = 3600.0
            # Renew before expiry: a minute early, or a tenth early for short lifetimes.
            margin = min(60.0, lifetime / 10)
            self._token = token
            self._expires = self._clock() + max(0.0, lifetime - margin)
            return token


class ApiSession:
    """Auth, concurrency cap, budget, back-off and retries over one httpx client.

    ``base_url`` is where paths hang off (the tenant's address, or a placeholder for a
    transport that is not a network); ``allow_writes=False`` refuses every call but GET
    and the token request before anything is sent. ``clock`` and ``sleep`` measure and
    spend every wait (the token's lifetime, the shared pause, retry delays, the deadline
    of a hanging host)."""

    def __init__(
        self,
        address: LMSAddress,
        client: httpx.AsyncClient,
        base_url: str,
        credentials: Credentials,
        *,
        allow_writes: bool,
        max_in_flight: int,
        budget: CallBudget | None,
        retry: RetryPolicy,
        progress: Progress | None,
        on_call: Callable[[str], None] | None = None,
        page_size: int = paths.DEFAULT_PAGE_SIZE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.address = address
        self.lms = address.display
        self.host = address.host  # the name messages use
        self.page_size = page_size  # rows asked for per page of a list read
        self.retry = retry
        self.call_counts: Counter[str] = Counter()
        self._client = client
        # Requests are built against this prefix (the address with one trailing slash, as
        # httpx joins a base URL and a path), with these headers and timeout.
        self._base = base_url.rstrip("/") + "/"
        self._headers = httpx.Headers(HEADERS)
        self._timeout = client.timeout.as_dict()
        self._credentials = credentials
        self._allow_writes = allow_writes
        self._slots = Slots(max_in_flight)
        # Docebo: batch APIs must never run concurrently; certops serialises every write.
        self._write_lock = asyncio.Lock()
        # The last "cannot reach the host" and how many there were: calls begun before it
        # end with it instead of trying the host again (see ``_send``).
        self._unreachable: LMSConnectionError | None = None
        self._unreachable_count = 0
        self._budget = budget
        self._progress = progress
        self._on_call = on_call  # told ``METHOD /path/{id}`` of every request sent
        self._clock = clock
        self._sleep = sleep
        self._pause = SharedPause(clock=clock, sleep=sleep)
        # Through a proxy (httpx reads it from the environment), its credentials are
        # secrets too, and what fails to connect is the proxy.
        self._proxy = proxy_for(self._base) if client.trust_env else None
        self._secrets: set[str] = set(credentials.secrets)
        self._users: tuple[str, ...] = (credentials.client_id, credentials.username or "")
        if self._proxy is not None and self._proxy.password:
            self._secrets.add(self._proxy.password)
            self._users += (self._proxy.user,)
        self.auth = DoceboAuth(
            lambda: self._send("POST", paths.TOKEN, form=credentials.token_form()),
            self._secrets,
            clock=clock,
        )
        self._judge = Judge(
            host=self.host,
            lms=self.lms,
            policy=retry,
            credentials=credentials,
            redact=self.redact,
            proxy=self._proxy,
        )
        # Also for errors raised outside this session (e.g. a reply's odd field, shown).
        remember_secrets(self._secrets, self._users)

    def redact(self, text: str) -> str:
        """``text`` (server text, exception text) with every known secret cut out, in
        every form it takes on the wire (see ``secret_forms``).

        Secrets shorter than 4 characters are left alone: masking them would garble the
        message without protecting anything (our own text never contains secret values).
        """
        return redact_secrets(text, self._secrets, self._users)

    def _note(self, message: str) -> None:
        if self._progress:
            self._progress(self.redact(message))

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- token ------------------------------------------------------------------------

    def invalidate_token(self, used: str | None = None) -> None:
        """Forget the token (only if it is still ``used``: a newer one may be in place)."""
        self.auth.invalidate(used)

    async def token(self) -> str:
        """A valid access token (``DoceboAuth`` fetches and renews it)."""
        return await self.auth.token()

    def _count(self, method: str, path: str) -> None:
        endpoint = f"{method} {paths.path_template(urlsplit(path).path)}"
        self.call_counts[endpoint] += 1
        if self._on_call is not None:
            self._on_call(endpoint)

    # --- calls ------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        form: Mapping[str, str] | None = None,
        priority: float = SINGLE,
    ) -> Any:
        """Send one API call with retries; returns the decoded JSON body.

        ``priority`` orders the requests waiting for a slot (see ``Slots``): a paged read
        passes the pages it has left.

        GET and PUT (idempotent) are retried on 429, 502-504 and transport errors. A POST is
        retried only when it surely did not reach the server (429, connection refused);
        otherwise ``OutcomeUnknown`` tells the caller to re-read before sending again.
        """
        call = Call(method, path, params, body, form, priority)
        if call.writes and not self._allow_writes:
            raise ReadOnlyError(f"read-only connection refused {method} {path}")
        tries = Tries(started=self._clock())
        begun = self._unreachable_count
        while True:
            outcome = await self._attempt(call, begun)
            if isinstance(outcome, httpx.Response):
                retry = self._judge.status(call, outcome, tries)
                if retry is None:
                    return self._answer(call, outcome)
            else:
                retry = self._judge.transport_error(call, outcome, tries, self._clock())
            if retry is None or tries.failures >= self.retry.attempts:
                error = self._judge.give_up(call, tries, self._clock())
                if isinstance(error, LMSConnectionError):
                    self._unreachable, self._unreachable_count = error, begun + 1
                raise error
            self._note(retry.note)
            if retry.everyone:
                self._pause.extend(retry.delay)  # the next try's turn waits it out
            else:
                await self._sleep(retry.delay)

    def _given_up(self, begun: int) -> None:
        """Raises the "cannot reach the host" another call ended with since this call
        (``begun``: the count when it began) began: the calls in flight or queued when the
        host is given up end at once, so a host that never answers costs one call's tries,
        not one set per call. A call begun later tries the host again (``listen`` keeps its
        connection for days)."""
        if self._unreachable is not None and self._unreachable_count > begun:
            raise self._unreachable

    async def _attempt(self, call: Call, begun: int) -> httpx.Response | httpx.TransportError:
        """One try of ``call``: its turn (the shared pause, the call budget), a token, a
        slot (and the write lock for a write), then the exchange, unless the host was
        given up meanwhile (``_given_up``). Returns the answer, or the transport error that
        kept it from coming."""
        self._given_up(begun)
        await self._pause.wait()
        if self._budget is not None:
            await self._budget.acquire()
        if not call.is_token:
            # The token first, outside any slot: the token request needs none, and
            # requests holding every slot must not wait for it.
            await self.auth.token()
        lock = self._write_lock if call.writes else nullcontext()
        slot = nullcontext() if call.is_token else self._slots.hold(call.priority)
        async with lock, slot:
            # Again once the slot is ours: a 429 may have paused everyone while this
            # request queued, and it must not fire into the limited window.
            await self._pause.wait()
            self._given_up(begun)
            try:
                return await self._exchange(self._request(call), call)
            except httpx.TransportError as exc:
                return exc
            except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
                raise LMSResponseError(
                    f"unexpected response from {call.endpoint}: {type(exc).__name__}: "
                    f"{self.redact(str(exc))}"
                ) from None

    async def _exchange(self, request: httpx.Request, call: Call) -> httpx.Response:
        """One call and its whole answer, with the bearer token (but for the token
        request); a 401 renews the token once and sends the call again, a second 401 is
        the answer (the credentials lost their rights)."""
        if call.is_token:
            return await self._roundtrip(request, call)
        token = await self.auth.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = await self._roundtrip(request, call)
        if response.status_code == 401:
            self.auth.invalidate(token)
            request.headers["Authorization"] = f"Bearer {await self.auth.token()}"
            response = await self._roundtrip(request, call)
        return response

    async def _roundtrip(self, request: httpx.Request, call: Call) -> httpx.Response:
        # Every request is counted as it is sent, renewals after a 401 included.
        self._count(call.method, call.path)
        response = await self._client.send(request)
        # The client binds the response to its stream (a reference cycle). The body is
        # read, so the binding goes: reference counting frees each page as soon as it is
        # converted, even while the cyclic collector is paused (certops.run).
        response.stream = _READ
        return response

    def _request(self, call: Call) -> httpx.Request:
        """The request for ``call`` (its path under the LMS address unless absolute), in
        one URL parse, with certops' headers and timeout."""
        # An absolute address (a service document the tenant lists) is used as it is.
        url = call.path if "://" in call.path else self._base + call.path.lstrip("/")
        if call.params:
            url += "?" + str(httpx.QueryParams(call.params))
        return httpx.Request(
            call.method,
            url,
            headers=self._headers,
            json=call.body,
            data=call.form,
            extensions={"timeout": self._timeout},
        )

    def _answer(self, call: Call, response: httpx.Response) -> Any:
        """The decoded JSON of an answer that stands; its named error if it is none."""
        error = self._judge.unusable(call, response)
        if error is not None:
            raise error
        try:
            # orjson reads the UTF-8 bytes in well under half the standard library's time;
            # anything it refuses (another charset, a BOM, NaN, an integer beyond 64 bits)
            # gets the standard reading.
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise LMSResponseError(
                f"unexpected response from {call.endpoint}: HTTP {response.status_code} with "
                f"{kind}, expected JSON"
            ) from None

    # --- paging -----------------------------------------------------------------------

    async def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        first: Mapping[str, Any] | None = None,
        cursor: bool = True,
    ) -> AsyncGenerator[wire.Page, None]:
        """Every page of a list endpoint, one at a time: by cursor when offered, else by
        page number. ``first`` adds parameters to the first request only (e.g. asking for
        the total count once); ``cursor=False`` never asks for a cursor (for endpoints
        whose documentation shows only page numbers). Callers convert each page as it
        arrives, so no list of raw JSON items outlives its page.

        The request for the next page is sent before a page is handed over, so the caller
        converts one page while the next is on the network (at most one page waits). Not
        after the first page when ``first`` is given: the caller may stop there, having
        seen the total, and must not pay for a page it will not read.
        """
        base = dict(params or {})
        base["page_size"] = self.page_size
        if cursor:
            base["get_cursor"] = 1
        endpoint = f"GET {path}"
        pages = 0
        total: int | None = None  # pages in all, once the server has said

        guard = PagingGuard(endpoint)

        def fetch(next_cursor: str | None) -> asyncio.Task[Any]:
            query = dict(base)
            if pages == 0 and first:
                query.update(first)
            # The page number always, the cursor with it when the tenant gave one: a
            # tenant that pages by number and ignores the cursor still advances.
            query["page"] = pages + 1
            if next_cursor:
                query["cursor"] = next_cursor
            # The pages this read has left, this one included: its place in the queue.
            left = UNKNOWN_LENGTH if total is None else max(1.0, float(total - pages))
            return asyncio.ensure_future(self._send("GET", path, params=query, priority=left))

        pending: asyncio.Task[Any] | None = fetch(None)
        try:
            while pending is not None:
                page = wire.list_page(await pending, endpoint)
                pending = None
                pages += 1
                guard.check(page)
                if page.total_pages is not None:
                    total = page.total_pages
                more = page.has_more and bool(page.items)
                if more and not (pages == 1 and first):
                    pending = fetch(page.cursor)
                yield page
                if more and pending is None:
                    pending = fetch(page.cursor)
        finally:
            if pending is not None:  # the caller stopped early, or failed: nothing left behind
                pending.cancel()
                await asyncio.wait([pending])
                if not pending.cancelled():
                    pending.exception()  # retrieved: nobody reads this page any more

    async def converted(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        convert: Callable[[dict[str, Any]], T],
        *,
        cursor: bool = True,
    ) -> list[T]:
        """Every item of a list endpoint through ``convert``, page by page."""
        out: list[T] = []
        async with aclosing(self.pages(path, params, cursor=cursor)) as stream:
            async for page in stream:
                out.extend(convert(item) for item in page.items)
        return out


class ReadChannel:
    """GET only: what a reader holds."""

    def __init__(self, http: ApiSession) -> None:
        self._http = http

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._http._send("GET", path, params=params)

    def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        first: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[wire.Page, None]:
        return self._http.pages(path, params, first=first)

    async def converted(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        convert: Callable[[dict[str, Any]], T],
        *,
        cursor: bool = True,
    ) -> list[T]:
        return await self._http.converted(path, params, convert, cursor=cursor)


class WriteChannel(ReadChannel):
    """GET, POST and PUT: what a writer holds."""

    async def post(self, path: str, body: Any) -> Any:
        """POST once (retried only when it surely did not arrive); may raise OutcomeUnknown."""
        return await self._http._send("POST", path, body=body)

    async def put(self, path: str, body: Any) -> Any:
        return await self._http._send("PUT", path, body=body)
