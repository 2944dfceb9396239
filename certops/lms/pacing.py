"""Pacing the calls to an LMS: retries and their delays, the shared pause after a rate
limit, the hourly call budget, and the slots that cap the requests in flight.

Nothing here sends anything; ``certops.lms.session`` asks it when to send and how long to
wait. Every wait is measured on an injected ``clock`` and spent in an injected ``sleep``
(``time.monotonic`` and ``asyncio.sleep`` by default), so tests need not wait.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from certops.lms.errors import LMSAddressError

Progress = Callable[[str], None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]

ENV_CALLS_PER_HOUR = "CERTOPS_CALLS_PER_HOUR"

# The priority of a request that is not part of a longer read (a detail, a write).
SINGLE = 0.0
# The priority of a paged read whose length is not known yet: as long as any.
UNKNOWN_LENGTH = float("inf")
# Backoff steps after a 429 without Retry-After stop growing here (0.5 s * 2**6 = 32 s).
MAX_RATE_LIMIT_STEP = 6


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
    # A host that accepts and then never answers: each try waits ``read_timeout`` for the
    # answer's next bytes, and only this many tries are made; no request retries a timeout
    # past ``deadline`` seconds.
    timeout_attempts: int = 3
    read_timeout: float = 60.0
    deadline: float = 600.0

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (0-based): exponential, full jitter."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    def rate_limit_delay(self, retry_after: float | None, limited: int) -> float:
        """How long every request waits after the ``limited``-th 429 of a call: the server's
        ``Retry-After`` (capped at ``max_retry_after``), else the backoff of that step."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(min(limited, MAX_RATE_LIMIT_STEP))


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds from ``now`` (a Unix time):
    a number of seconds or an HTTP date; None when absent or unreadable."""
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
    return max(0.0, when.timestamp() - now)


class SharedPause:
    """One back-off for every request after a 429: the tenant's limit is a leaky bucket
    shared by all calls, so a request must not fire into the limited window."""

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = 0.0

    def extend(self, delay: float) -> None:
        """Hold every request until ``delay`` seconds from now (or later, if already so)."""
        self._until = max(self._until, self._clock() + delay)

    async def wait(self) -> None:
        """Returns once the pause is over (at once when there is none)."""
        while (left := self._until - self._clock()) > 0:
            await self._sleep(left)


class CallBudget:
    """At most ``calls_per_hour`` calls in any rolling hour (contractual tenant limits)."""

    def __init__(
        self,
        calls_per_hour: int,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
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
