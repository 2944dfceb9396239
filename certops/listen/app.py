"""The ``certops listen`` ASGI service: ``POST /webhook`` for Docebo, ``GET /healthz``,
``GET /dead-letters``.

A delivery is checked in this order, each step answering before the next costs anything:
HTTP Basic credentials (401), size (413, from ``Content-Length`` and again while the body
streams in), JSON and envelopes (400 with the reason), then one durable commit to the
queue and a 200. Only then is the worker woken: Docebo's answer never waits on the LMS.
Docebo signs nothing, so the credentials and HTTPS in front are the only protection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from certops.listen.envelope import DeliveryError, parse_delivery
from certops.listen.queue import EventQueue
from certops.listen.worker import ConfigSource, Worker

DEFAULT_MAX_BODY = 1_000_000  # bytes: 25 envelopes are a few KB; 1 MB is generous
WATCH_S = 1.0  # how often --watch looks at the configuration files
REALM = 'Basic realm="certops listen", charset="UTF-8"'


@dataclass(frozen=True, slots=True, repr=False)
class BasicCredentials:
    """The user and password Docebo must send; never shown (``repr`` hides them)."""

    user: str
    password: str

    def __repr__(self) -> str:
        return "BasicCredentials(***)"

    def accepts(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries these credentials. Both parts are
        compared in constant time, always both, so timing says nothing about either."""
        if not header or header[:6].lower() != "basic ":
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        same_user = hmac.compare_digest(user, self.user.encode())
        same_password = hmac.compare_digest(password, self.password.encode())
        return bool(sep) and same_user and same_password


@dataclass(slots=True)
class Service:
    """Everything the routes need."""

    queue: EventQueue
    worker: Worker
    source: ConfigSource
    credentials: BasicCredentials | None  # None: --insecure-no-auth
    max_body: int = DEFAULT_MAX_BODY
    watch: bool = False
    started_at: float = 0.0


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _read_capped(request: Request, cap: int) -> bytes | None:
    """The body, or None once it grows past ``cap`` bytes (the rest is not read)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _service(request: Request) -> Service:
    # ``create_app`` puts the Service on the app's state, which Starlette leaves untyped.
    service: Service = request.app.state.listen
    return service


async def receive(request: Request) -> JSONResponse:
    """``POST /webhook``: one Docebo delivery (single or grouped) into the queue."""
    service = _service(request)
    queue = service.queue
    if service.credentials is not None and not service.credentials.accepts(
        request.headers.get("authorization")
    ):
        await asyncio.to_thread(queue.count_rejected, "unauthorized")
        return _error(401, "missing or wrong credentials", {"WWW-Authenticate": REALM})
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > service.max_body):
        await asyncio.to_thread(queue.count_rejected, "too_large")
        return _error(413, f"the body is larger than {service.max_body} bytes")
    body = await _read_capped(request, service.max_body)
    if body is None:
        await asyncio.to_thread(queue.count_rejected, "too_large")
        return _error(413, f"the body is larger than {service.max_body} bytes")
    try:
        delivery = parse_delivery(body)
    except DeliveryError as exc:
        await asyncio.to_thread(queue.count_rejected, "malformed")
        return _error(400, str(exc))
    added = await asyncio.to_thread(queue.add, delivery.events, delivery.ignored)
    if added.queued:
        service.worker.wake.set()
    return JSONResponse(
        {"queued": added.queued, "duplicates": added.duplicates, "ignored": added.ignored}
    )


async def dead_letters(request: Request) -> JSONResponse:
    """``GET /dead-letters``: the events given up on (learner, course, attempts, last
    error). They name learners, so the webhook's credentials are required; the nightly
    apply reconciles those learners anyway."""
    service = _service(request)
    if service.credentials is not None and not service.credentials.accepts(
        request.headers.get("authorization")
    ):
        return _error(401, "missing or wrong credentials", {"WWW-Authenticate": REALM})
    return JSONResponse({"items": await asyncio.to_thread(service.queue.dead_letters)})


async def healthz(request: Request) -> JSONResponse:
    """``GET /healthz``: queue depth, oldest event age, dead letters, last success."""
    service = _service(request)
    health: dict[str, Any] = await asyncio.to_thread(service.queue.health)
    stats = service.worker.stats
    # A worker that is not running means events pile up unanswered: monitoring must see it.
    alive = service.worker.running
    health.update(
        {
            "status": "ok" if alive else "worker stopped",
            "uptime_s": round(time.time() - service.started_at, 1),
            "learners_reconciled": stats.learners_reconciled,
            "changes_applied": stats.changes_applied,
            "waiting_for_writer_lock": stats.waiting_for_lock,
            "last_error": stats.last_error or None,
            "config": {
                "products": [p.id for p in service.source.config.products],
                "loaded_at": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(service.source.loaded_at)
                ),
                "reload_error": service.source.error or None,
            },
        }
    )
    return JSONResponse(health, status_code=200 if alive else 503)


async def _watch(service: Service) -> None:
    """``--watch``: a changed, added or removed configuration file asks for a reload."""
    seen = service.source.fingerprint()
    while True:
        await asyncio.sleep(WATCH_S)
        now = await asyncio.to_thread(service.source.fingerprint)
        if now != seen:
            seen = now
            service.source.requested = True
            service.worker.wake.set()


def _lifespan(
    service: Service,
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.started_at = time.time()
        loop = asyncio.get_running_loop()

        def hangup() -> None:
            service.source.requested = True
            service.worker.wake.set()

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, hangup)
        service.worker.running = True  # from now on; /healthz must not see a gap
        worker = asyncio.create_task(service.worker.run(), name="listen-worker")
        watcher = asyncio.create_task(_watch(service)) if service.watch else None
        try:
            yield
        finally:
            service.worker.stopping = True
            service.worker.wake.set()
            if watcher is not None:
                watcher.cancel()
            # A round in flight finishes (its writes settle in the audit log); a stuck LMS
            # call is cut after a while, and its events stay queued for the restart.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(worker, timeout=20)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
            service.queue.close()

    return lifespan


def create_listen_app(service: Service) -> Starlette:
    """The ASGI application of ``certops listen`` around ``service``."""
    app = Starlette(
        routes=[
            Route("/webhook", receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/dead-letters", dead_letters, methods=["GET"]),
        ],
        lifespan=_lifespan(service),
    )
    app.state.listen = service
    return app
