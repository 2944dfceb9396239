"""What each try of a call met, and what it means: retry (after how long), give up, a
write whose outcome is unknown, or a named error a person can act on.

``Judge`` holds the rules; it sends nothing and sleeps never, so every rule is tested by
handing it a ``Call``, what one try met (an answer or an httpx transport error) and the
``Tries`` so far. ``certops.lms.session`` asks it after every try.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from certops.lms import paths, wire
from certops.lms.credentials import Credentials
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
from certops.lms.network import (
    Proxy,
    dns_failure,
    proxy_refusal,
    proxy_variables,
    refused,
    tls_failure,
)
from certops.lms.pacing import SINGLE, RetryPolicy, retry_after_seconds

# Answers worth another try: the rate limit, a gateway or server that is overloaded, and
# a server that gave up waiting for the request (408: it was not processed, so even a
# write is sent again; a server closing an idle kept-alive connection may send one just
# as a request goes out on it).
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
NOT_PROCESSED = 408


class OutcomeUnknown(LMSUnavailableError):
    """A POST may or may not have taken effect (lost response); re-read before retrying.

    The writer always catches it and re-reads; it is an ``LMSError`` only so that a path
    that forgot to would still end in a message, not a traceback.
    """


@dataclass(frozen=True, slots=True)
class Call:
    """One API call: the request it sends (with every retry) and its place in the queue
    for a slot (``priority``; see ``certops.lms.pacing.Slots``)."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Any = None
    form: Mapping[str, str] | None = None
    priority: float = SINGLE

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_token(self) -> bool:
        return self.path == paths.TOKEN

    @property
    def writes(self) -> bool:
        """Whether it changes the LMS (the token request does not)."""
        return self.method != "GET" and not self.is_token

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice does no more than sending it once."""
        return self.method in ("GET", "PUT") or self.is_token


@dataclass(slots=True)
class Tries:
    """What the tries of one call met so far. ``failures`` counts against the policy's
    ``attempts``; a rate-limited try is counted in ``limited`` instead (up to the policy's
    ``rate_limited_attempts``), an answer that never came in ``timeouts`` too."""

    started: float  # on the session's monotonic clock
    failures: int = 0
    timeouts: int = 0
    limited: int = 0
    last_problem: str = ""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after ``delay`` seconds; ``everyone``: a rate limit, so every request of
    the session waits (the shared pause), not only this one."""

    delay: float
    note: str  # for the progress display
    everyone: bool = False


class Judge:
    """The rules for one session's calls (its LMS, retry policy and credentials), with
    every text passed through ``redact`` before it goes into a message.

    Answers that never came are counted for the host as well as for the call
    (``silent``: tries in a row, over all calls, that timed out): a host that accepts
    connections and never answers is given up after the policy's ``timeout_attempts``
    tries however many calls were waiting, not after that many tries of each."""

    def __init__(
        self,
        *,
        host: str,
        lms: str,
        policy: RetryPolicy,
        credentials: Credentials,
        redact: Callable[[str], str],
        proxy: Proxy | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.lms = lms
        self.proxy = proxy  # the proxy requests go through, if any: what to blame
        self.policy = policy
        self._credentials = credentials
        self._redact = redact
        self._wall_clock = wall_clock  # for a Retry-After given as a date
        self.silent = 0  # tries in a row, over every call, that got no answer in time

    # --- a try that got no answer -------------------------------------------------------

    def transport_error(
        self, call: Call, error: httpx.TransportError, tries: Tries, now: float
    ) -> Retry | None:
        """After a try that failed without an answer: a ``Retry``, or None to give up
        (answers that never came, too often or for too long; ``now`` on the clock of
        ``tries.started``). Raises what no retry can heal: a host that does not resolve,
        TLS that fails, a refused connection or tunnel; ``OutcomeUnknown`` for a write that
        may have arrived."""
        tries.failures += 1
        if isinstance(error, httpx.LocalProtocolError):
            # Refused here, before anything was sent (a value a header cannot carry):
            # no retry can change it, and its text may hold the value.
            raise LMSRequestError(
                f"certops could not send {call.endpoint} to {self.host}: the request it built "
                "is not valid HTTP (a header value with a line break or control character) "
                "and was refused before anything was sent; please report this"
            ) from None
        self._raise_if_unreachable(error)
        not_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
        if not call.idempotent and not not_sent:
            raise OutcomeUnknown(
                f"{self.host}: the answer to {call.endpoint} was lost ({type(error).__name__})"
            )
        tries.last_problem = f"{type(error).__name__}: {self._redact(str(error)) or 'no detail'}"
        if isinstance(error, httpx.TimeoutException):
            tries.timeouts += 1
            self.silent += 1
            spent = now - tries.started
            if self.silent >= self.policy.timeout_attempts:
                tries.timeouts = max(tries.timeouts, self.silent)
            if tries.timeouts >= self.policy.timeout_attempts or spent > self.policy.deadline:
                return None
        delay = self.policy.backoff(tries.failures - 1)
        return Retry(delay, f"{call.endpoint}: {tries.last_problem}; retrying in {delay:.1f} s")

    def _raise_if_unreachable(self, error: httpx.TransportError) -> None:
        if self.proxy is not None and not isinstance(error, httpx.ProxyError):
            self._raise_if_proxy_unreachable(error, self.proxy)
        proxy = self._proxy_hint()
        if dns_failure(error):
            raise LMSConnectionError(
                f"cannot resolve host {self.host} ({self.lms}): check the --lms address{proxy}"
            ) from None
        tls = tls_failure(error)
        if tls:
            raise LMSConnectionError(
                f"cannot connect to {self.host} ({self.lms}): TLS failed: "
                f"{self._redact(tls)}; check the --lms address (and that its "
                "certificate is trusted by this machine)"
            ) from None
        if refused(error):
            raise LMSConnectionError(
                f"cannot connect to {self.host} ({self.lms}): connection refused; "
                f"check the --lms address and that the LMS is running{proxy}"
            ) from None
        answer = proxy_refusal(error)
        if answer is not None:
            named = self.proxy.variable if self.proxy else " and ".join(proxy_variables())
            raise LMSConnectionError(
                f"cannot connect to {self.host} ({self.lms}): the proxy"
                + (f" {self.proxy.address}" if self.proxy else "")
                + f" refused a tunnel to it: HTTP {answer}; check "
                + (named or "the proxy variables")
                + " (a proxy that asks for credentials takes them as user:password@ in its "
                "address) and NO_PROXY"
            ) from None

    def _raise_if_proxy_unreachable(self, error: httpx.TransportError, proxy: Proxy) -> None:
        """Through a proxy, the connection certops opens is to the proxy: a name that does
        not resolve, a refusal or a TLS failure there is the proxy's, named with the
        variable that set it (the proxy resolves and reaches the LMS itself)."""
        where = f"the proxy {proxy.address} (set by {proxy.variable})"
        fix = f"check {proxy.variable}, or add {self.host} to NO_PROXY to reach the LMS without it"
        if dns_failure(error):
            raise LMSConnectionError(
                f"cannot resolve the host of {where} on the way to {self.host}: {fix}"
            ) from None
        if refused(error):
            raise LMSConnectionError(
                f"{where} refused the connection on the way to {self.host}: check that the "
                f"proxy runs; {fix}"
            ) from None
        tls = tls_failure(error)
        if tls and isinstance(error, httpx.ConnectError) and proxy.address.startswith("https:"):
            raise LMSConnectionError(
                f"cannot connect to {where}: TLS failed: {self._redact(tls)}; {fix}"
            ) from None

    @staticmethod
    def _proxy_hint() -> str:
        named = proxy_variables()
        return f" (or the proxy address in {' and '.join(named)})" if named else ""

    # --- a try that got an answer -------------------------------------------------------

    def status(self, call: Call, response: httpx.Response, tries: Tries) -> Retry | None:
        """After a try that got an answer: a ``Retry`` for a rate limit (everyone waits as
        the server says) or an overloaded server, None when the answer stands. Raises
        ``OutcomeUnknown`` for a write the server failed (it may have been done)."""
        self.silent = 0  # the host answers
        status = response.status_code
        if status not in RETRY_STATUSES:
            return None
        if status == 429:
            # The server pacing us: waiting as told is not a failed try (up to a bound).
            if tries.limited < self.policy.rate_limited_attempts:
                tries.limited += 1
            else:
                tries.failures += 1
            tries.last_problem = "HTTP 429"
            told = retry_after_seconds(response.headers.get("Retry-After"), self._wall_clock())
            delay = self.policy.rate_limit_delay(told, tries.limited)
            note = f"{self.host} rate limit reached; waiting before {call.endpoint}"
            return Retry(delay, note, everyone=True)
        tries.failures += 1
        if not call.idempotent and status != NOT_PROCESSED:
            raise OutcomeUnknown(f"{self.host}: {call.endpoint} answered HTTP {status}")
        tries.last_problem = f"HTTP {status}"
        delay = self.policy.backoff(tries.failures - 1)
        return Retry(delay, f"{call.endpoint}: HTTP {status}; retrying in {delay:.1f} s")

    def unusable(self, call: Call, response: httpx.Response) -> LMSError | None:
        """The named error for an answer that stands but is not a success (4xx, 5xx, a
        redirect); None for a success."""
        status = response.status_code
        if status >= 400:
            return self._rejected(call, response)
        if 300 <= status < 400:
            # Usually a login page or a renamed tenant: not the API.
            where = response.headers.get("location", "elsewhere")
            return LMSResponseError(
                f"{self.host} answered {call.endpoint} with a redirect (HTTP {status}) to "
                f"{self._redact(where)}; check that --lms is the tenant's https:// address"
            )
        return None

    # --- giving up ----------------------------------------------------------------------

    def give_up(self, call: Call, tries: Tries, now: float) -> LMSError:
        """The error once no try is left (``now`` on the clock of ``tries.started``)."""
        if tries.last_problem.startswith(("ConnectError", "ConnectTimeout")):
            if self.proxy is not None:
                return LMSConnectionError(
                    f"cannot connect to the proxy {self.proxy.address} (set by "
                    f"{self.proxy.variable}) on the way to {self.host}: "
                    f"{tries.last_problem}; check {self.proxy.variable} and the network"
                )
            return LMSConnectionError(
                f"cannot connect to {self.host} ({self.lms}): {tries.last_problem}; "
                "check the address and the network"
            )
        if tries.timeouts:
            return LMSConnectionError(
                f"{self.host} accepted {call.endpoint} but sent no answer within "
                f"{self.policy.read_timeout:g} s, {tries.timeouts} time(s) in "
                f"{now - tries.started:.0f} s; check the --lms address and the network, "
                "or try again later"
            )
        return LMSUnavailableError(
            f"{self.host} did not answer {call.endpoint} after {tries.failures} attempts "
            f"(last: {tries.last_problem or 'no answer'}); try again later"
        )

    # --- named errors -------------------------------------------------------------------

    def _rejected(self, call: Call, response: httpx.Response) -> LMSError:
        status = response.status_code
        endpoint = call.endpoint
        path = call.path
        try:
            payload = response.json()
        except ValueError:
            payload = None
        message, field_name = wire.error_detail(payload)
        message = self._redact(message)
        if call.is_token and status >= 500:
            # The server failed; nothing says the credentials are wrong.
            return LMSUnavailableError(
                f"{self.host} failed at {endpoint} (HTTP {status}: "
                f"{message or response.reason_phrase or 'no detail'}); this is a server "
                "error, not refused credentials: try again later"
            )
        if status == 407:
            named = self.proxy.variable if self.proxy else " and ".join(proxy_variables())
            return LMSConnectionError(
                f"cannot connect to {self.host} ({self.lms}): the proxy"
                + (f" {self.proxy.address}" if self.proxy else "")
                + " asks for credentials (HTTP 407); give them as user:password@ in the "
                "address of " + (named or "the proxy variable")
            )
        if call.is_token:
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

    def _token_error(self, payload: Any, status: int, message: str) -> LMSError:
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
            self._redact(
                f"{self.host} refused {who} at {paths.TOKEN}: {what}"
                + (f" ({code})" if isinstance(code, str) and code else "")
            )
        )
