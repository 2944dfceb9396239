"""The sandbox as one ASGI application: Docebo's API subset plus ``/_sandbox/``.

Layers, outermost first: faults and call log, bearer-token check, a last-resort 500,
then Starlette's routing (whose 404/405 answers get Docebo's error body).
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from certops.sandbox import admin, catalogs, courses, enrollments, groups, users
from certops.sandbox.auth import BearerAuthMiddleware, token_endpoint
from certops.sandbox.envelope import ApiError, error_response
from certops.sandbox.faults import CallLog, FaultConfig, FaultInjector, FaultMiddleware
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

ROUTES = [
    Route("/oauth2/token", token_endpoint, methods=["POST"]),
    # users
    Route("/manage/v1/user", users.list_users, methods=["GET"]),
    Route("/manage/v1/user/{user_id:id}", users.view_user, methods=["GET"]),
    # courses
    Route("/learn/v1/courses", courses.list_courses, methods=["GET"]),
    Route("/learn/v1/courses", courses.create_course, methods=["POST"]),
    Route("/learn/v1/courses/{course_id:id}", courses.view_course, methods=["GET"]),
    Route("/learn/v1/courses/{course_id:id}", courses.update_course, methods=["PUT"]),
    # catalogs
    Route("/learn/v1/catalog", catalogs.list_catalogs, methods=["GET"]),
    Route("/learn/v1/catalog/batch", catalogs.create_catalogs, methods=["POST"]),
    Route("/learn/v1/catalog/items/batch", catalogs.add_catalog_items, methods=["POST"]),
    Route("/learn/v1/catalog/{catalog_id:id}", catalogs.view_catalog, methods=["GET"]),
    # groups
    Route("/manage/v1/group", groups.list_groups, methods=["GET"]),
    Route("/manage/v1/group", groups.create_group, methods=["POST"]),
    Route("/manage/v1/group/{group_id:id}", groups.view_group, methods=["GET"]),
    Route("/manage/v1/group/{group_id:id}", groups.update_group, methods=["PUT"]),
    Route("/manage/v1/group/{group_id:id}/members", groups.list_members, methods=["GET"]),
    # enrollments
    Route("/learn/v1/enrollments", enrollments.list_learn_enrollments, methods=["GET"]),
    Route("/learn/v1/enrollments", enrollments.enroll_many, methods=["POST"]),
    Route("/learn/v1/enrollments", enrollments.update_many, methods=["PUT"]),
    Route(
        "/learn/v1/enrollments/{course_id:id}/{user_id:id}",
        enrollments.view_one,
        methods=["GET"],
    ),
    Route(
        "/learn/v1/enrollments/{course_id:id}/{user_id:id}",
        enrollments.enroll_one,
        methods=["POST"],
    ),
    Route(
        "/learn/v1/enrollments/{course_id:id}/{user_id:id}",
        enrollments.update_one,
        methods=["PUT"],
    ),
    Route("/learn/v1/enrollment/batch", enrollments.enroll_batch, methods=["POST"]),
    Route("/course/v1/courses/enrollments", enrollments.list_course_enrollments, methods=["GET"]),
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
    Route("/_sandbox/faults", admin.put_faults, methods=["PUT"]),
    Route("/_sandbox/calls", admin.get_calls, methods=["GET"]),
    Route("/_sandbox/calls", admin.clear_calls, methods=["DELETE"]),
    Route("/_sandbox/settings", admin.get_settings, methods=["GET"]),
    Route("/_sandbox/settings", admin.put_settings, methods=["PUT"]),
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

        async def tracking_send(message: dict) -> None:
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
    return app
