"""The sandbox as one ASGI application: Docebo's API subset plus ``/_sandbox/``.

Layers, outermost first: faults and call log, bearer-token check, a last-resort 500,
then Starlette's routing (whose 404/405 answers get Docebo's error body). Every API
route declares the query parameters and body fields it knows (``fields.Known``): the
sandbox rejects the others unless it is lenient.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certops.sandbox import admin, audiences, catalogs, courses, enrollments, users, webhooks
from certops.sandbox.auth import BearerAuthMiddleware, token_endpoint
from certops.sandbox.envelope import ApiError, error_response
from certops.sandbox.faults import CallLog, FaultConfig, FaultInjector, FaultMiddleware
from certops.sandbox.fields import Known, checked
from certops.sandbox.state import SandboxState
from certops.sandbox.store import Store

log = logging.getLogger("certops.sandbox")


class IdConvertor(Convertor[int]):
    """A path id: digits that fit SQLite's integers (longer ones are simply not found)."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

Endpoint = Callable[[Request], Awaitable[Response]]
ONE_ENROLLMENT = "/learn/v1/enrollments/{course_id:id}/{user_id:id}"


def api(path: str, method: str, handler: Endpoint, known: Known) -> Route:
    """Returns a Docebo API route whose requests pass the known-fields check first."""
    return Route(path, checked(handler, known), methods=[method])


AUDIENCE = "/audiences/v1/audience/{uuid}"
ROUTES = [
    Route("/oauth2/token", token_endpoint, methods=["POST"]),
    # users
    api("/manage/v1/user", "GET", users.list_users, users.KNOWN_LIST),
    api("/manage/v1/user/session", "GET", users.session, users.KNOWN_VIEW),
    api("/manage/v1/user/{user_id:id}", "GET", users.view_user, users.KNOWN_VIEW),
    # courses
    api("/learn/v1/courses", "GET", courses.list_courses, courses.KNOWN_LIST),
    api("/learn/v1/courses", "POST", courses.create_course, courses.KNOWN_CREATE),
    api("/learn/v1/courses/{course_id:id}", "GET", courses.view_course, courses.KNOWN_VIEW),
    api("/learn/v1/courses/{course_id:id}", "PUT", courses.update_course, courses.KNOWN_UPDATE),
    # catalogs
    api("/learn/v1/catalog", "GET", catalogs.list_catalogs, catalogs.KNOWN_LIST),
    api("/learn/v1/catalog/batch", "POST", catalogs.create_catalogs, catalogs.KNOWN_CREATE),
    api(
        "/learn/v1/catalog/items/batch",
        "POST",
        catalogs.add_catalog_items,
        catalogs.KNOWN_ADD_ITEMS,
    ),
    api("/learn/v1/catalog/{catalog_id:id}", "GET", catalogs.view_catalog, catalogs.KNOWN_VIEW),
    # groups are audiences; one help table gives the create path in the plural
    api("/audiences/v1/audience", "GET", audiences.list_audiences, audiences.KNOWN_LIST),
    api("/audiences/v1/audience", "POST", audiences.create_audience, audiences.KNOWN_WRITE),
    api("/audiences/v1/audiences", "POST", audiences.create_audience, audiences.KNOWN_WRITE),
    api(AUDIENCE, "GET", audiences.view_audience, audiences.KNOWN_VIEW),
    api(AUDIENCE, "PUT", audiences.update_audience, audiences.KNOWN_WRITE),
    api(f"{AUDIENCE}/users", "GET", audiences.list_users, audiences.KNOWN_USERS),
    api(f"{AUDIENCE}/assign_users", "PUT", audiences.assign_users, audiences.KNOWN_ASSIGN),
    # enrollments
    api(
        "/learn/v1/enrollments",
        "GET",
        enrollments.list_learn_enrollments,
        enrollments.KNOWN_LEARN_LIST,
    ),
    api("/learn/v1/enrollments", "POST", enrollments.enroll_many, enrollments.KNOWN_ENROLL_MANY),
    api("/learn/v1/enrollments", "PUT", enrollments.update_many, enrollments.KNOWN_UPDATE_MANY),
    api(ONE_ENROLLMENT, "GET", enrollments.view_one, enrollments.KNOWN_VIEW),
    api(ONE_ENROLLMENT, "POST", enrollments.enroll_one, enrollments.KNOWN_ENROLL_ONE),
    api(ONE_ENROLLMENT, "PUT", enrollments.update_one, enrollments.KNOWN_UPDATE_ONE),
    api("/learn/v1/enrollment/batch", "POST", enrollments.enroll_batch, enrollments.KNOWN_BATCH),
    api(
        "/course/v1/courses/enrollments",
        "GET",
        enrollments.list_course_enrollments,
        enrollments.KNOWN_COURSE_LIST,
    ),
    # not Docebo
    Route("/_sandbox/", admin.index, methods=["GET"]),
    Route("/_sandbox/load", admin.load, methods=["POST"]),
    Route("/_sandbox/users", admin.upsert_user, methods=["POST"]),
    Route("/_sandbox/progress", admin.progress, methods=["POST"]),
    Route("/_sandbox/clock", admin.get_clock, methods=["GET"]),
    Route("/_sandbox/clock", admin.put_clock, methods=["PUT"]),
    Route("/_sandbox/enrollment_rules", admin.list_rules, methods=["GET"]),
    Route("/_sandbox/enrollment_rules", admin.put_rule, methods=["POST"]),
    Route("/_sandbox/notifications", admin.list_notifications, methods=["GET"]),
    Route("/_sandbox/notifications", admin.put_notification, methods=["POST"]),
    Route("/_sandbox/outbox", admin.outbox, methods=["GET"]),
    Route("/_sandbox/faults", admin.get_faults, methods=["GET"]),
    Route("/_sandbox/faults", admin.put_faults, methods=["PUT", "PATCH"]),
    Route("/_sandbox/calls", admin.get_calls, methods=["GET"]),
    Route("/_sandbox/calls", admin.clear_calls, methods=["DELETE"]),
    Route("/_sandbox/settings", admin.get_settings, methods=["GET"]),
    Route("/_sandbox/settings", admin.put_settings, methods=["PUT"]),
    Route("/_sandbox/webhooks", webhooks.list_webhooks, methods=["GET"]),
    Route("/_sandbox/webhooks", webhooks.register, methods=["POST"]),
    Route("/_sandbox/webhooks/deliveries", webhooks.deliveries, methods=["GET"]),
    Route("/_sandbox/webhooks/flush", webhooks.flush, methods=["POST"]),
    Route("/_sandbox/webhooks/{webhook_id:id}", webhooks.update_webhook, methods=["PATCH"]),
]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    elif exc.status_code == 404:
        message = f"no such endpoint: {request.url.path}"
    else:
        message = exc.detail
    return error_response(ApiError(exc.status_code, message, headers=exc.headers))


class _LastResort:
    """Turns an unexpected exception into a 500 with Docebo's error body (and a log line)
    instead of letting it escape into an in-process caller."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("sandbox error on %s %s", scope.get("method"), scope.get("path"))
            if started or scope["type"] != "http":
                raise
            error = ApiError(500, f"the sandbox failed: {type(exc).__name__}: {exc}")
            await error_response(error)(scope, receive, send)


def create_app(db_path: str | Path, *, faults: FaultConfig | None = None) -> Starlette:
    """Returns the sandbox application serving the sandbox file ``db_path``.

    ``faults`` starts it with faults injected (``sandbox serve`` options); they can be
    changed later under ``/_sandbox/faults``. Raises ``SandboxError`` if the file is not
    a sandbox.
    """
    store = Store(db_path)
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(FaultMiddleware),
            Middleware(BearerAuthMiddleware),
            Middleware(_LastResort),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.sandbox = SandboxState(store, FaultInjector(faults), CallLog())
    # Webhook deliveries: sent by a background thread once `serve` starts it, or on demand
    # through /_sandbox/webhooks/flush.
    app.state.webhooks = webhooks.Deliverer(store)
    return app
