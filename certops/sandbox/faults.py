"""Fault injection and the call log, for rehearsing a misbehaving tenant.

Faults apply to every call outside ``/_sandbox/`` (the token endpoint included), in this
order: fixed latency (each answer leaves that long after its call arrived), the rate
limit (N calls per window, then 429 with ``Retry-After``), a seeded share of 503 answers,
and dropping the connection on the Nth write (a POST, PUT, PATCH or DELETE to the API),
either before the write is committed or after it. The
``drop_fields`` fault (request fields every write silently ignores) is applied by the
known-fields check in ``fields.py``, where the body is read.

A dropped connection starts the response and then raises ``ConnectionDropped``: over
uvicorn the client sees the connection close without a complete response; in-process the
exception reaches the caller's transport, which turns it into a transport error.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certops.sandbox.envelope import ApiError, error_response

SANDBOX_PREFIX = "/_sandbox/"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TOKEN_PATH = "/oauth2/token"
CALL_LOG_LIMIT = 50_000


class ConnectionDropped(ConnectionError):
    """The sandbox dropped the connection on purpose (fault injection)."""


class FaultConfigError(ValueError):
    """A ``/_sandbox/faults`` body is wrong; ``field`` is the path of the key at fault
    (``rate_limit.calls``, or the unknown key itself)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """The faults to inject; the default injects none."""

    latency_ms: int = 0
    rate_limit_calls: int = 0  # 0: no rate limit
    rate_limit_window_s: float = 60.0
    error_503_share: float = 0.0
    drop_write_nth: int = 0  # 0: never drop
    drop_write_mode: str = "after"  # "before" (not stored) or "after" (stored, answer lost)
    seed: int = 0
    # Request fields every API write silently ignores (at any depth) while answering
    # success: how tests prove that a client reads back what it wrote.
    drop_fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Returns the configuration in the ``/_sandbox/faults`` JSON shape."""
        return {
            "latency_ms": self.latency_ms,
            "rate_limit": (
                {"calls": self.rate_limit_calls, "window_s": self.rate_limit_window_s}
                if self.rate_limit_calls
                else None
            ),
            "error_503_share": self.error_503_share,
            "drop_write": (
                {"nth": self.drop_write_nth, "mode": self.drop_write_mode}
                if self.drop_write_nth
                else None
            ),
            "seed": self.seed,
            "drop_fields": list(self.drop_fields),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultConfig:
        """Returns the configuration described by a ``/_sandbox/faults`` body.

        Absent keys take their defaults (no fault). Raises ``FaultConfigError`` naming the
        key's path.
        """
        known = {
            "latency_ms",
            "rate_limit",
            "error_503_share",
            "drop_write",
            "seed",
            "drop_fields",
        }
        unknown = sorted(set(body) - known)
        if unknown:
            raise FaultConfigError(
                unknown[0], f"unknown key {unknown[0]!r} (expected {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = {}
        values["latency_ms"] = _number(body, "latency_ms", int, minimum=0, default=0)
        values["seed"] = _number(body, "seed", int, minimum=None, default=0)
        share = _number(body, "error_503_share", float, minimum=0, default=0.0)
        if share > 1:
            raise FaultConfigError(
                "error_503_share", f"error_503_share must be between 0 and 1, got {share}"
            )
        values["error_503_share"] = share
        rate = body.get("rate_limit")
        if rate is not None:
            if not isinstance(rate, dict):
                raise FaultConfigError(
                    "rate_limit", "rate_limit must be an object {calls, window_s} or null"
                )
            values["rate_limit_calls"] = _number(
                rate, "calls", int, minimum=1, default=None, parent="rate_limit"
            )
            values["rate_limit_window_s"] = _number(
                rate, "window_s", float, minimum=0.001, default=None, parent="rate_limit"
            )
        drop = body.get("drop_write")
        if drop is not None:
            if not isinstance(drop, dict):
                raise FaultConfigError(
                    "drop_write", "drop_write must be an object {nth, mode} or null"
                )
            values["drop_write_nth"] = _number(
                drop, "nth", int, minimum=1, default=None, parent="drop_write"
            )
            mode = drop.get("mode", "after")
            if mode not in ("before", "after"):
                raise FaultConfigError(
                    "drop_write.mode", f"drop_write.mode must be 'before' or 'after', got {mode!r}"
                )
            values["drop_write_mode"] = mode
        dropped = body.get("drop_fields")
        if dropped is not None:
            if not isinstance(dropped, list) or not all(
                isinstance(name, str) and name.strip() for name in dropped
            ):
                raise FaultConfigError(
                    "drop_fields", "drop_fields must be a list of field names or null"
                )
            values["drop_fields"] = tuple(dict.fromkeys(name.strip() for name in dropped))
        return cls(**values)


def _number(
    body: dict[str, Any],
    key: str,
    kind: type,
    *,
    minimum: float | None,
    default: Any,
    parent: str | None = None,
) -> Any:
    path = f"{parent}.{key}" if parent else key
    value = body.get(key, default)
    if value is None:
        if default is None:
            raise FaultConfigError(path, f"{path} is required")
        return default
    ok_type = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int and ok_type and float(value).is_integer():
        value = int(value)
    elif kind is int or not ok_type:
        raise FaultConfigError(path, f"{path} must be a{'n integer' if kind is int else ' number'}")
    if minimum is not None and value < minimum:
        raise FaultConfigError(path, f"{path} must be at least {minimum}, got {value}")
    return kind(value)


class CallLog:
    """The calls the application answered (outside ``/_sandbox/``), oldest first."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_LIMIT)

    def add(self, method: str, path: str, query: str, status: int | None) -> None:
        """Records one call; ``status`` None means the connection was dropped."""
        self._entries.append({"method": method, "path": path, "query": query, "status": status})

    def entries(self) -> list[dict[str, Any]]:
        """Returns a copy of the log."""
        return list(self._entries)

    def clear(self) -> None:
        """Empties the log."""
        self._entries.clear()


class FaultInjector:
    """The current fault configuration and the counters it runs on. ``clock`` (seconds,
    ``time.monotonic`` by default) times the rate limit's window."""

    def __init__(
        self, config: FaultConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Replaces the configuration and restarts every counter and the random sequence."""
        self.config = config
        self._random = random.Random(config.seed)
        self._window_start: float | None = None
        self._window_calls = 0
        self._writes = 0

    def rate_limited(self) -> int | None:
        """Counts a call; returns the ``Retry-After`` seconds if it is over the limit."""
        cfg = self.config
        if not cfg.rate_limit_calls:
            return None
        now = self.clock()
        if self._window_start is None or now - self._window_start >= cfg.rate_limit_window_s:
            self._window_start, self._window_calls = now, 0
        if self._window_calls >= cfg.rate_limit_calls:
            remaining = cfg.rate_limit_window_s - (now - self._window_start)
            return max(1, math.ceil(remaining))
        self._window_calls += 1
        return None

    def overloaded(self) -> bool:
        """Returns whether this call gets a 503 (one seeded draw per call)."""
        share = self.config.error_503_share
        return share > 0 and self._random.random() < share

    def drop_this_write(self) -> bool:
        """Counts a write; returns whether it is the one whose connection is dropped."""
        if not self.config.drop_write_nth:
            return False
        self._writes += 1
        return self._writes == self.config.drop_write_nth


class FaultMiddleware:
    """Applies the faults and keeps the call log (outermost layer inside Starlette)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SANDBOX_PREFIX):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state.sandbox
        faults: FaultInjector = state.faults
        calls: CallLog = state.calls
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        logged = False
        cfg = faults.config
        # The answer leaves ``latency_ms`` after the call arrived: the sandbox's own work
        # is done meanwhile, as a tenant's is within its answer time (work that takes
        # longer is answered as soon as it is done). Were the delay added before the
        # work, every call would take the latency plus the sandbox's few milliseconds,
        # queued behind the calls that arrived with it.
        answer_at = time.monotonic() + cfg.latency_ms / 1000

        async def answer_time() -> None:
            if (wait := answer_at - time.monotonic()) > 0:
                await asyncio.sleep(wait)

        async def logged_send(message: Message) -> None:
            nonlocal logged
            if message["type"] == "http.response.start" and not logged:
                await answer_time()
                # Logged before the answer leaves: a client that has its answer always
                # finds its call in the log.
                calls.add(method, path, query, message["status"])
                logged = True
            await send(message)

        retry_after = faults.rate_limited()
        if retry_after is not None:
            error = ApiError(
                429,
                f"rate limit of {cfg.rate_limit_calls} calls per {cfg.rate_limit_window_s:g} s"
                f" exceeded; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
            await error_response(error)(scope, receive, logged_send)
        elif faults.overloaded():
            error = ApiError(503, "the service is overloaded (injected fault); retry later")
            await error_response(error)(scope, receive, logged_send)
        elif method in WRITE_METHODS and path != TOKEN_PATH and faults.drop_this_write():
            calls.add(method, path, query, None)
            await answer_time()
            await self._drop(scope, receive, send, cfg.drop_write_mode)
        else:
            try:
                await self.app(scope, receive, logged_send)
            finally:
                if not logged:  # no answer started: logged as a dropped connection
                    calls.add(method, path, query, None)

    async def _drop(self, scope: Scope, receive: Receive, send: Send, mode: str) -> None:
        if mode == "after":
            # Run the write to completion (it commits), then lose its answer.
            async def discard(message: Message) -> None:
                return None

            await self.app(scope, receive, discard)
        # Start an answer the client will never see completed, then give up on it.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )
        raise ConnectionDropped(f"connection dropped ({mode} commit) by fault injection")


def drop_to_asgi_abort(app: ASGIApp) -> ASGIApp:
    """Wraps ``app`` for a real server: a dropped connection ends the ASGI call without
    completing the response, so the server closes the socket instead of logging a crash."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except ConnectionDropped:
            return

    return wrapped
