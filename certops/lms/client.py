"""The Docebo client's transport: auth, concurrency, rate limits, retries and paging.

One httpx transport per run: certops' HTTP/1.1 connections to a tenant over HTTPS
(``certops.lms.http11``), or the sandbox application mounted in-process (``sandbox:PATH``,
through the transport ``certops.sandbox.transport`` provides): the same code path for
both. Docebo's field names and formats live in ``certops.lms.wire``; the reader and writer
that turn them into certops records live in ``certops.lms.docebo``. This module only
moves JSON.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import random
import socket
import ssl
import time
from collections import Counter, deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from certops.lms import paths, wire
from certops.lms.errors import (
    LMSAddressError,
    LMSConnectionError,
    LMSCredentialsError,
    LMSNotFoundError,
    LMSPermissionError,
    LMSRequestError,
    LMSResponseError,
    LMSUnavailableError,
    ReadOnlyError,
)
from certops.lms.http11 import Http11Transport
from certops.lms.paging import PagingGuard
from certops.secrets import redact_secrets, remember_secrets

Progress = Callable[[str], None]
T = TypeVar("T")

ENV_CLIENT_ID = "DOCEBO_CLIENT_ID"
ENV_CLIENT_SECRET = "DOCEBO_CLIENT_SECRET"
ENV_USERNAME = "DOCEBO_USERNAME"
ENV_PASSWORD = "DOCEBO_PASSWORD"
ENV_NAMES = (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_USERNAME, ENV_PASSWORD)

# Every request's headers (the token is added per call). Compressed answers are decoded
# by httpx; gzip and deflate need nothing beyond it.
HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "certops",
}
RETRY_STATUSES = frozenset({429, 502, 503, 504})


# --- credentials ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """OAuth2 credentials; the secret and password never show in ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    source: str = "environment"  # where they came from, for messages

    @property
    def grant(self) -> str:
        return "password" if self.username else "client_credentials"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.client_secret, self.password) if s)

    def token_form(self) -> dict[str, str]:
        form = {
            "grant_type": self.grant,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": "api",
        }
        if self.username:
            form["username"] = self.username
            form["password"] = self.password or ""
        return form

    def names(self) -> str:
        """Which credentials these are, for messages (names, never values)."""
        if self.source != "environment":
            return f"the credentials in {self.source}"
        if self.grant == "password":
            return f"{ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} with {ENV_USERNAME}/{ENV_PASSWORD}"
        return f"{ENV_CLIENT_ID}/{ENV_CLIENT_SECRET}"


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from ``DOCEBO_*`` variables; None when none is set.

    Raises ``LMSCredentialsError`` naming every missing variable when only some are set.
    """
    env = os.environ if env is None else env
    values = {name: env.get(name, "") for name in ENV_NAMES}
    if not any(values.values()):
        return None
    missing = [n for n in (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not values[n]]
    if bool(values[ENV_USERNAME]) != bool(values[ENV_PASSWORD]):
        missing += [n for n in (ENV_USERNAME, ENV_PASSWORD) if not values[n]]
    if missing:
        raise LMSCredentialsError(
            "missing Docebo credentials: set "
            + ", ".join(missing)
            + f" (needed: {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}; add {ENV_USERNAME} and "
            f"{ENV_PASSWORD} for the password grant)"
        )
    return Credentials(
        client_id=values[ENV_CLIENT_ID],
        client_secret=values[ENV_CLIENT_SECRET],
        username=values[ENV_USERNAME] or None,
        password=values[ENV_PASSWORD] or None,
    )


def missing_credentials_error() -> LMSCredentialsError:
    return LMSCredentialsError(
        f"no Docebo credentials: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (and "
        f"{ENV_USERNAME}/{ENV_PASSWORD} for the password grant) in the environment"
    )


# --- rate limits ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry transient failures."""

    attempts: int = 8  # tries per request, the first included
    base_delay: float = 0.5  # seconds; doubles per retry, full jitter
    max_delay: float = 30.0
    max_retry_after: float = 300.0  # cap on a server's Retry-After
    # A 429 is the server pacing us, not a failure: waiting as told always ends, so these
    # are counted apart from ``attempts`` (a tight limit must not exhaust them).
    rate_limited_attempts: int = 30
    # A host that accepts and then never answers: each try waits ``read_timeout``, and
    # only this many tries are made; no request retries a timeout past ``deadline`` seconds.
    timeout_attempts: int = 3
    read_timeout: float = 60.0
    deadline: float = 600.0

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (0-based): exponential, full jitter."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)


class CallBudget:
    """At most ``calls_per_hour`` calls in any rolling hour (contractual tenant limits)."""

    def __init__(
        self,
        calls_per_hour: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        progress: Progress | None = None,
    ) -> None:
        if calls_per_hour < 1:
            raise ValueError("calls_per_hour must be at least 1")
        self.calls_per_hour = calls_per_hour
        self._clock = clock
        self._sleep = sleep
        self._progress = progress
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more call fits in the budget, then count it."""
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - 3600.0:
                    self._sent.popleft()
                if len(self._sent) < self.calls_per_hour:
                    self._sent.append(now)
                    return
                wait = self._sent[0] + 3600.0 - now
                if self._progress:
                    self._progress(
                        f"call budget of {self.calls_per_hour}/hour reached; waiting {wait:.0f} s"
                    )
                await self._sleep(wait)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OutcomeUnknown(LMSUnavailableError):
    """A POST may or may not have taken effect (lost response); re-read before retrying.

    The writer always catches it and re-reads; it is an ``LMSError`` only so that a path
    that forgot to would still end in a message, not a traceback.
    """


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _tls_failure(exc: BaseException) -> str | None:
    """What went wrong with TLS, when that is why ``exc`` happened (retrying cannot help)."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or "certificate verify failed"
        if isinstance(cause, ssl.SSLError):
            return cause.reason or str(cause)
    return None


def _refused(exc: BaseException) -> bool:
    return any(isinstance(c, ConnectionRefusedError) for c in _causes(exc)) or (
        "connection refused" in str(exc).lower()
    )


def _is_dns_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    return "name or service not known" in text or "nodename nor servname" in text


# --- the network ---------------------------------------------------------------------


def environment_proxy(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY`` by
    scheme, else ``ALL_PROXY``, either case), or None when no proxy is set or ``NO_PROXY``
    covers its host (``*``, the host itself or a parent domain): what httpx's own client
    reads from the environment."""
    found = {
        name.lower().removesuffix("_proxy"): value.strip()
        for name, value in (os.environ if env is None else env).items()
        if name.lower().endswith("_proxy") and value.strip()
    }
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    for entry in found.get("no", "").split(","):
        domain = entry.strip().lower().lstrip(".")
        if domain == "*" or (domain and (host == domain or host.endswith("." + domain))):
            return None
    return found.get(parts.scheme) or found.get("all")


def network_transport(url: str, max_in_flight: int) -> httpx.AsyncBaseTransport:
    """The HTTP/1.1 transport to the tenant at ``url`` (``certops.lms.http11``), keeping
    as many connections open as requests may be in flight (and the token request), through
    the environment's proxy, if any (TLS trusts certifi's certificates, or those
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` name)."""
    try:
        return Http11Transport(max_idle=max_in_flight + 1, proxy=environment_proxy(url))
    except ValueError as exc:
        raise LMSAddressError(
            f"{exc}: set HTTPS_PROXY (or HTTP_PROXY, ALL_PROXY) to http://HOST:PORT, or unset it"
        ) from None


# --- authentication ------------------------------------------------------------------


class DoceboAuth:
    """Docebo's OAuth2 bearer token: fetched before the first call, renewed shortly
    before it expires. ``ApiSession`` sends it with every call and, on a 401 (a token
    expired or revoked early), renews it once and sends the call again.
    ``fetch`` sends the token request itself (with the session's retries, and no token);
    every token and refresh token is added to ``secrets`` as soon as it is known, so no
    message can show it.
    """

    def __init__(self, fetch: Callable[[], Awaitable[Any]], secrets: set[str]) -> None:
        self._fetch = fetch
        self._secrets = secrets
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> str | None:
        return self._token if self._token and time.monotonic() < self._expires else None

    def invalidate(self, used: str | None = None) -> None:
        """Forget the token (only if it is still ``used``: a newer one may be in place)."""
        if used is None or used == self._token:
            self._token = None
            self._expires = 0.0

    async def token(self) -> str:
        """A valid access token, renewed shortly before it expires."""
        if token := self._fresh():
            return token
        async with self._lock:
            if token := self._fresh():
                return token
            payload = await self._fetch()
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
            try:
                lifetime = float(payload.get("expires_in", 3600))
            except (TypeError, ValueError):
                lifetime = 3600.0
            # Renew before expiry: a minute early, or a tenth early for short lifetimes.
            margin = min(60.0, lifetime / 10)
            self._token = token
            self._expires = time.monotonic() + max(0.0, lifetime - margin)
            return token


# --- request slots --------------------------------------------------------------------

# The priority of a request that is not part of a longer read (a detail, a write).
SINGLE = 0.0
# The priority of a paged read whose length is not known yet: as long as any.
UNKNOWN_LENGTH = float("inf")


class Slots:
    """At most ``size`` requests in flight; a freed slot goes to the waiting request with
    the highest priority (first come, first served among equals).

    Paged reads are chains: a page's request can only be sent once the page before it has
    answered. With plain first-come slots, one long chain (the user list, hundreds of
    pages) gets a quarter of the slots at best while a dozen short chains run, and then
    runs alone at the end with the other slots idle. Giving the slot to the chain with the
    most pages left (the critical path first) keeps every slot busy until the last page.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @asynccontextmanager
    async def hold(self, priority: float = SINGLE) -> AsyncIterator[None]:
        """Holds one slot for the ``async with`` block."""
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: float) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-priority, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed over just as the waiter was cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():  # a cancelled waiter is skipped
                turn.set_result(None)
                return
        self._free += 1


# --- the HTTP core ----------------------------------------------------------------------


class ApiSession:
    """Auth, concurrency cap, budget, back-off and retries over one httpx transport.

    Requests go straight to the transport (``Http11Transport`` for a tenant, the sandbox
    application in-process): certops needs none of what ``httpx.AsyncClient``
    adds per call (cookies, redirects, auth flows, event hooks, merging a base URL and
    parameters), which cost about a third of a millisecond of CPU per call on a slow
    machine, and the client's response-to-stream binding is a reference cycle that kept
    every page alive until a garbage collection."""

    def __init__(
        self,
        lms: str,
        transport: httpx.AsyncBaseTransport,
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
    ) -> None:
        self.lms = lms
        self.page_size = page_size  # rows asked for per page of a list read
        # The name messages use: the tenant's host, or the sandbox address itself.
        self.host = lms if lms.startswith("sandbox:") else urlsplit(lms).hostname or lms
        self.retry = retry
        self.call_counts: Counter[str] = Counter()
        self._transport = transport
        # Requests are built against this prefix (the address with one trailing slash, as
        # httpx joins a base URL and a path), with these headers and timeout.
        self._base = base_url.rstrip("/") + "/"
        self._headers = httpx.Headers(HEADERS)
        self._timeout = httpx.Timeout(retry.read_timeout, connect=10.0).as_dict()
        self._credentials = credentials
        self._allow_writes = allow_writes
        self._slots = Slots(max_in_flight)
        # Docebo: batch APIs must never run concurrently; certops serialises every write.
        self._write_lock = asyncio.Lock()
        self._budget = budget
        self._progress = progress
        self._on_call = on_call  # told ``METHOD /path/{id}`` of every request sent
        self._pause_until = 0.0
        self._secrets: set[str] = set(credentials.secrets)
        self.auth = DoceboAuth(
            lambda: self._send("POST", paths.TOKEN, form=credentials.token_form()), self._secrets
        )
        # Also for errors raised outside this session (e.g. a reply's odd field, shown).
        remember_secrets(self._secrets, (credentials.client_id, credentials.username or ""))

    def redact(self, text: str) -> str:
        """``text`` (server text, exception text) with every known secret cut out, in
        every form it takes on the wire (see ``secret_forms``).

        Secrets shorter than 4 characters are left alone: masking them would garble the
        message without protecting anything (our own text never contains secret values).
        """
        users = (self._credentials.client_id, self._credentials.username or "")
        return redact_secrets(text, self._secrets, users)

    def _note(self, message: str) -> None:
        if self._progress:
            self._progress(self.redact(message))

    async def aclose(self) -> None:
        await self._transport.aclose()

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

    # --- requests ---------------------------------------------------------------------

    def _pause(self, delay: float) -> None:
        """Hold every request until ``delay`` has passed (shared back-off after a 429)."""
        self._pause_until = max(self._pause_until, time.monotonic() + delay)

    async def _wait_turn(self) -> None:
        while (wait := self._pause_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        if self._budget is not None:
            await self._budget.acquire()

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
        is_token = path == paths.TOKEN
        if method != "GET" and not is_token and not self._allow_writes:
            raise ReadOnlyError(f"read-only connection refused {method} {path}")
        idempotent = method in ("GET", "PUT") or is_token
        endpoint = f"{method} {path}"
        delay = 0.0
        last_problem = ""
        started = time.monotonic()
        timeouts = 0  # answers that never came: bounded apart, each costs a read timeout
        limited = 0  # 429s: the server pacing us; counted apart from attempts
        attempt = 0
        while attempt < self.retry.attempts:
            if delay:
                await asyncio.sleep(delay)
                delay = 0.0
            await self._wait_turn()
            if not is_token:
                # The token first, outside any slot: the token request needs none, and
                # requests holding every slot must not wait for it.
                await self.auth.token()
            lock = self._write_lock if method != "GET" and not is_token else nullcontext()
            slot = nullcontext() if is_token else self._slots.hold(priority)
            async with lock, slot:
                # Checked again once the slot is ours: a 429 may have paused everyone while
                # this request queued, and it must not fire into the limited window.
                while (wait := self._pause_until - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                try:
                    request = self._request(method, path, params, body, form)
                    response = await self._exchange(request, method, path)
                except httpx.TransportError as exc:
                    response = None
                    error = exc
                except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
                    raise LMSResponseError(
                        f"unexpected response from {endpoint}: {type(exc).__name__}: "
                        f"{self.redact(str(exc))}"
                    ) from None
            attempt += 1
            if response is None:
                # Failures no retry can heal end the run at once, with what to check.
                if _is_dns_failure(error):
                    raise LMSConnectionError(
                        f"cannot resolve host {self.host} ({self.lms}): check the --lms address"
                    ) from None
                tls = _tls_failure(error)
                if tls:
                    raise LMSConnectionError(
                        f"cannot connect to {self.host} ({self.lms}): TLS failed: "
                        f"{self.redact(tls)}; check the --lms address (and that its "
                        "certificate is trusted by this machine)"
                    ) from None
                if isinstance(error, httpx.ConnectError) and _refused(error):
                    raise LMSConnectionError(
                        f"cannot connect to {self.host} ({self.lms}): connection refused; "
                        "check the --lms address and that the LMS is running"
                    ) from None
                not_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                if not idempotent and not not_sent:
                    raise OutcomeUnknown(
                        f"{self.host}: the answer to {endpoint} was lost ({type(error).__name__})"
                    )
                last_problem = f"{type(error).__name__}: {self.redact(str(error)) or 'no detail'}"
                if isinstance(error, httpx.TimeoutException):
                    timeouts += 1
                    spent = time.monotonic() - started
                    if timeouts >= self.retry.timeout_attempts or spent > self.retry.deadline:
                        break
                delay = self.retry.backoff(attempt - 1)
                self._note(f"{endpoint}: {last_problem}; retrying in {delay:.1f} s")
                continue
            status = response.status_code
            if status == 429 and limited < self.retry.rate_limited_attempts:
                limited += 1
                attempt -= 1  # waiting as the server says is not a failed attempt
            if status in RETRY_STATUSES:
                if status != 429 and not idempotent:
                    raise OutcomeUnknown(f"{self.host}: {endpoint} answered HTTP {status}")
                last_problem = f"HTTP {status}"
                if status == 429:
                    told = _retry_after(response)
                    delay = (
                        min(told, self.retry.max_retry_after)
                        if told is not None
                        else self.retry.backoff(min(limited, 6))
                    )
                    self._pause(delay)
                    delay = 0.0  # _wait_turn sleeps until the shared pause ends
                    self._note(f"{self.host} rate limit reached; waiting before {endpoint}")
                else:
                    delay = self.retry.backoff(attempt - 1)
                    self._note(f"{endpoint}: HTTP {status}; retrying in {delay:.1f} s")
                continue
            if status >= 400:
                raise self._error(response, method, path)
            if 300 <= status < 400:
                # Usually a login page or a renamed tenant: not the API.
                where = response.headers.get("location", "elsewhere")
                raise LMSResponseError(
                    f"{self.host} answered {endpoint} with a redirect (HTTP {status}) to "
                    f"{self.redact(where)}; check that --lms is the tenant's https:// address"
                )
            return self._json(response, endpoint)
        if last_problem.startswith(("ConnectError", "ConnectTimeout")):
            raise LMSConnectionError(
                f"cannot connect to {self.host} ({self.lms}): {last_problem}; "
                "check the address and the network"
            )
        if timeouts:
            raise LMSConnectionError(
                f"{self.host} accepted {endpoint} but sent no answer within "
                f"{self.retry.read_timeout:g} s, {timeouts} time(s) in "
                f"{time.monotonic() - started:.0f} s; check the --lms address and the network, "
                "or try again later"
            )
        raise LMSUnavailableError(
            f"{self.host} did not answer {endpoint} after {attempt} attempts "
            f"(last: {last_problem or 'no answer'}); try again later"
        )

    async def _exchange(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        """One call and its whole answer, with the bearer token (but for the token
        request); a 401 renews the token once and sends the call again, a second 401 is
        the answer (the credentials lost their rights)."""
        if path == paths.TOKEN:
            return await self._roundtrip(request, method, path)
        token = await self.auth.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = await self._roundtrip(request, method, path)
        if response.status_code == 401:
            self.auth.invalidate(token)
            request.headers["Authorization"] = f"Bearer {await self.auth.token()}"
            response = await self._roundtrip(request, method, path)
        return response

    async def _roundtrip(self, request: httpx.Request, method: str, path: str) -> httpx.Response:
        # Every request is counted as it is sent, renewals after a 401 included.
        self._count(method, path)
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.request = request
        return response

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        form: Mapping[str, str] | None,
    ) -> httpx.Request:
        """The request for ``path`` (under the LMS address unless absolute), in one URL
        parse, with certops' headers and timeout."""
        # An absolute address (a service document the tenant lists) is used as it is.
        url = path if "://" in path else self._base + path.lstrip("/")
        if params:
            url += "?" + str(httpx.QueryParams(params))
        return httpx.Request(
            method,
            url,
            headers=self._headers,
            json=body,
            data=form,
            extensions={"timeout": self._timeout},
        )

    def _json(self, response: httpx.Response, endpoint: str) -> Any:
        try:
            # orjson reads the UTF-8 bytes in well under half the standard library's time
            # (a list page: about 0.1 ms instead of 0.25 ms); anything it refuses (another
            # charset, a BOM, NaN, an integer beyond 64 bits) gets the standard reading.
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise LMSResponseError(
                f"unexpected response from {endpoint}: HTTP {response.status_code} with "
                f"{kind}, expected JSON"
            ) from None

    def _error(self, response: httpx.Response, method: str, path: str) -> Exception:
        status = response.status_code
        endpoint = f"{method} {path}"
        try:
            payload = response.json()
        except ValueError:
            payload = None
        message, field_name = wire.error_detail(payload)
        message = self.redact(message)
        if path == paths.TOKEN and status >= 500:
            # The server failed; nothing says the credentials are wrong.
            return LMSUnavailableError(
                f"{self.host} failed at {endpoint} (HTTP {status}: "
                f"{message or response.reason_phrase or 'no detail'}); this is a server "
                "error, not refused credentials: try again later"
            )
        if path == paths.TOKEN:
            return self._token_error(payload, status, message)
        if status == 401:
            return LMSCredentialsError(
                f"{self.host} refused the access token obtained with "
                f"{self._credentials.names()} for {endpoint} (HTTP 401) even after renewing "
                "it; check that the OAuth2 app and user are active"
            )
        if status == 403:
            return LMSPermissionError(
                f"{self.host} denied {endpoint} (HTTP 403): the API user needs the permission "
                f"'{paths.permission_for(path)}'" + (f" ({message})" if message else "")
            )
        if status == 404:
            hint = ""
            if path == paths.AUDIENCES or path.startswith(paths.AUDIENCES + "/"):
                hint = (
                    "; certops manages groups through Docebo's audiences API (the groups since "
                    "October 2020): run 'certops doctor' to see what this tenant offers"
                )
            return LMSNotFoundError(
                f"{self.host} has no {endpoint} (HTTP 404)"
                + (f": {message}" if message else "")
                + hint
            )
        detail = message or response.reason_phrase or "no detail"
        return LMSRequestError(
            f"{self.host} rejected {endpoint} (HTTP {status}): {detail}"
            + (f" [field '{field_name}']" if field_name else ""),
            status=status,
            field=field_name,
        )

    def _token_error(self, payload: Any, status: int, message: str) -> Exception:
        code = payload.get("error") if isinstance(payload, dict) else None
        who = self._credentials.names()
        if code == "invalid_client" or status == 401:
            what = "the OAuth2 client id or secret is wrong"
        elif code == "invalid_grant":
            what = (
                "the username or password is wrong"
                if self._credentials.grant == "password"
                else "the grant was refused"
            )
        elif code == "unsupported_grant_type":
            what = (
                f"the OAuth2 app does not allow the {self._credentials.grant} grant "
                "(enable it in the app's advanced settings)"
            )
        else:
            what = message or f"HTTP {status}"
        # The whole message is redacted: ``error`` is the server's text too, and may echo.
        return LMSCredentialsError(
            self.redact(
                f"{self.host} refused {who} at {paths.TOKEN}: {what}"
                + (f" ({code})" if isinstance(code, str) and code else "")
            )
        )

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


def chunked(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


# --- connecting -------------------------------------------------------------------------


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def parse_address(lms: str) -> tuple[str, str]:
    """``("https", base_url)`` or ``("sandbox", path)`` for an ``--lms`` value."""
    text = lms.strip()
    if text.startswith("sandbox:"):
        path = text[len("sandbox:") :]
        if not path:
            raise LMSAddressError("sandbox: needs a path, e.g. sandbox:.certops/sandbox.db")
        return "sandbox", path
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.hostname:
        if parts.username or parts.password:
            raise LMSAddressError(
                "the --lms URL must not carry credentials; use the DOCEBO_* variables"
            )
        if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
            # Credentials and tokens must not cross a network in clear text.
            raise LMSAddressError(
                f"refusing plain http:// to {parts.hostname}: use https:// (http is only "
                "allowed for a sandbox served on this machine)"
            )
        return parts.scheme, f"{parts.scheme}://{parts.netloc}"
    raise LMSAddressError(
        f"cannot use --lms {lms!r}: expected https://TENANT.docebosaas.com or sandbox:PATH"
    )


def display_address(lms: str) -> str:
    kind, value = parse_address(lms)
    return lms.strip() if kind == "sandbox" else value


ENV_CALLS_PER_HOUR = "CERTOPS_CALLS_PER_HOUR"
ENV_PAGE_SIZE = "CERTOPS_PAGE_SIZE"


def page_size_from_env() -> int | None:
    """The page size ``CERTOPS_PAGE_SIZE`` sets, if any."""
    text = os.environ.get(ENV_PAGE_SIZE, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= paths.MAX_PAGE_SIZE:
        raise LMSAddressError(
            f"{ENV_PAGE_SIZE}={text!r} is not a page size from 1 to {paths.MAX_PAGE_SIZE}"
        )
    return int(text)


def calls_per_hour_from_env() -> int | None:
    """The tenant's contractual call budget from ``CERTOPS_CALLS_PER_HOUR``, if set."""
    text = os.environ.get(ENV_CALLS_PER_HOUR, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise LMSAddressError(
            f"{ENV_CALLS_PER_HOUR}={text!r} is not a positive whole number of calls per hour"
        )
    return int(text)
