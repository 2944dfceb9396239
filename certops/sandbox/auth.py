"""OAuth2 as Docebo does it: ``POST /oauth2/token`` and bearer tokens on every API call.

Grants: ``password``, ``client_credentials`` and ``refresh_token``; the body may be a form,
multipart or JSON. Access tokens expire after the sandbox's token lifetime (3600 s by
default) measured on the sandbox clock, so moving the clock forward expires them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from certops.sandbox.envelope import ApiError, error_response, read_body
from certops.sandbox.state import store_of
from certops.sandbox.store import SandboxCredentials, Store
from certops.sandbox.values import plus_seconds, to_wire

API_PREFIXES = ("/learn/", "/manage/", "/course/", "/audiences/")
REFRESH_TTL_S = 14 * 24 * 3600  # refresh tokens outlive access tokens (Docebo: undocumented)
GRANTS = ("password", "client_credentials", "refresh_token")


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def token_endpoint(request: Request) -> JSONResponse:
    """``POST /oauth2/token``: returns a new access and refresh token, or an OAuth error."""
    store = store_of(request)
    try:
        body = await read_body(request)
    except ApiError as exc:
        return _oauth_error(400, "invalid_request", exc.message)
    fields = {k: v for k, v in body.items() if isinstance(v, str | int)}
    basic = _basic_credentials(request)
    if basic and "client_id" not in fields:
        fields["client_id"], fields["client_secret"] = basic
    creds = store.credentials()
    grant = str(fields.get("grant_type", ""))
    if not grant:
        return _oauth_error(
            400, "invalid_request", f"grant_type is required (one of {', '.join(GRANTS)})"
        )
    if grant not in GRANTS:
        return _oauth_error(
            400,
            "unsupported_grant_type",
            f"grant_type {grant!r} is not supported (use one of {', '.join(GRANTS)})",
        )
    if not _client_ok(creds, fields):
        return _oauth_error(401, "invalid_client", "unknown client_id or wrong client_secret")
    username: str | None = None
    if grant == "password":
        missing = [k for k in ("username", "password") if not fields.get(k)]
        if missing:
            return _oauth_error(400, "invalid_request", f"{' and '.join(missing)} required")
        if not (
            _same(str(fields["username"]), creds.username)
            and _same(str(fields["password"]), creds.password)
        ):
            return _oauth_error(400, "invalid_grant", "wrong username or password")
        username = creds.username
    elif grant == "refresh_token":
        refresh = str(fields.get("refresh_token", ""))
        if not refresh:
            return _oauth_error(400, "invalid_request", "refresh_token is required")
        username_or_error = _use_refresh_token(store, refresh, creds.client_id)
        if isinstance(username_or_error, JSONResponse):
            return username_or_error
        username = username_or_error
    return JSONResponse(_issue(store, creds.client_id, username))


def _client_ok(creds: SandboxCredentials, fields: Mapping[str, object]) -> bool:
    return _same(str(fields.get("client_id", "")), creds.client_id) and _same(
        str(fields.get("client_secret", "")), creds.client_secret
    )


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    # One legacy client sends the client id and secret as HTTP Basic.
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _use_refresh_token(store: Store, refresh: str, client_id: str) -> str | JSONResponse | None:
    now = store.now_wire()
    with store.write() as conn:
        # A token issued without a user (client_credentials) has no username.
        row: tuple[str | None, str] | None = conn.execute(
            "SELECT username, expires_at FROM tokens WHERE token = ? AND kind = 'refresh'"
            " AND client_id = ?",
            (refresh, client_id),
        ).fetchone()
        if row is None or row[1] <= now:
            return _oauth_error(400, "invalid_grant", "the refresh token is unknown or expired")
        # A refresh token is used once: the answer carries a new one.
        conn.execute("DELETE FROM tokens WHERE token = ?", (refresh,))
    return row[0]


def _issue(store: Store, client_id: str, username: str | None) -> dict[str, object]:
    now = store.now()
    ttl = store.token_ttl_s()
    access = secrets.token_hex(20)
    refresh = secrets.token_hex(20)
    with store.write() as conn:
        conn.execute("DELETE FROM tokens WHERE expires_at <= ?", (to_wire(now),))
        conn.executemany(
            "INSERT INTO tokens (token, kind, client_id, username, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (access, "access", client_id, username, to_wire(plus_seconds(now, ttl))),
                (
                    refresh,
                    "refresh",
                    client_id,
                    username,
                    to_wire(plus_seconds(now, REFRESH_TTL_S)),
                ),
            ],
        )
    return {
        "access_token": access,
        "expires_in": ttl,
        "token_type": "Bearer",
        "scope": "api",
        "refresh_token": refresh,
    }


def check_token(store: Store, authorization: str) -> ApiError | None:
    """Returns the 401 to answer for this ``Authorization`` header, or None if it is valid."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ApiError(401, "Authorization: Bearer <access_token> is required")
    with store.read() as conn:
        row = conn.execute(
            "SELECT expires_at FROM tokens WHERE token = ? AND kind = 'access'", (token.strip(),)
        ).fetchone()
    if row is None:
        return ApiError(401, "the access token is unknown")
    if row[0] <= store.now_wire():
        return ApiError(401, "the access token has expired; request a new one")
    return None


class BearerAuthMiddleware:
    """Answers 401 to API calls (``/learn/``, ``/manage/``, ``/course/``, ``/audiences/``)
    without a valid token, before routing, so unknown paths do not reveal themselves to
    strangers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIXES):
            headers = dict(scope.get("headers") or [])
            authorization = headers.get(b"authorization", b"").decode("latin-1")
            store = scope["app"].state.sandbox.store
            error = check_token(store, authorization)
            if error is not None:
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
