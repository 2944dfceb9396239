"""Guarding a served sandbox's ``/_sandbox/`` admin API, which has no authentication.

``sandbox serve`` listens on loopback unless ``--allow-remote`` says otherwise (with a
warning): every machine that can reach the port can change the sandbox. And because a
web page in a browser on the same machine can also send requests to loopback, the admin
API answers only requests addressed to the served address (``Host``, and ``Origin`` when
a browser sends one: this stops DNS rebinding and cross-site pages) and takes write bodies
only as JSON (a cross-site page can send ``text/plain`` without asking first, but not
``application/json``). The Docebo API itself needs a bearer token, so it is not guarded
here.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from certops.sandbox.envelope import ApiError, error_response
from certops.sandbox.faults import SANDBOX_PREFIX

_WRITES = ("POST", "PUT", "PATCH", "DELETE")
_WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or host name) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def remote_warning(host: str) -> str:
    """What ``sandbox serve --allow-remote`` says when it listens beyond this machine."""
    return (
        f"warning: serving on {host}, reachable from other machines; the /_sandbox/ admin "
        "API has no authentication, so anyone who can reach this port can change or reset "
        "the sandbox's data"
    )


def _split(authority: str) -> tuple[str, int | None]:
    parts = urlsplit(f"//{authority}")
    try:
        return (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is not a number
        return "", None


class AdminGuard:
    """ASGI middleware: ``/_sandbox/`` requests must be addressed to ``host:port`` and
    carry JSON bodies; everything else passes through untouched."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.host = host.strip("[]").lower()
        self.port = port

    def _addressed_to_us(self, authority: str) -> bool:
        name, port = _split(authority)
        if port is not None and port != self.port:
            return False
        if self.host in _WILDCARDS:
            # Any address of this machine may be meant; a host *name* other than
            # localhost is what a rebinding or cross-site page would send, so refuse it.
            if name == "localhost":
                return True
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        if is_loopback(self.host):
            return is_loopback(name)
        return name == self.host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(SANDBOX_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        served = f"{self.host}:{self.port}"
        host = headers.get("host", "")
        origin = headers.get("origin")
        error = None
        if not self._addressed_to_us(host):
            error = ApiError(
                403,
                f"Host {host!r} is not the address this sandbox serves ({served}); the "
                "/_sandbox/ API answers only requests addressed to it",
            )
        elif origin is not None and not (
            origin != "null" and self._addressed_to_us(urlsplit(origin).netloc)
        ):
            error = ApiError(
                403,
                f"Origin {origin!r} is not this sandbox ({served}); the /_sandbox/ API does "
                "not answer web pages from other sites",
            )
        elif scope["method"] in _WRITES and _has_body(headers, scope["method"]):
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json" and not kind.endswith("+json"):
                error = ApiError(
                    415,
                    f"the /_sandbox/ API takes JSON bodies only (got Content-Type "
                    f"{kind or 'none'!r}); send Content-Type: application/json",
                )
        if error is not None:
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_body(headers: dict[str, str], method: str) -> bool:
    if method != "DELETE":
        return True  # POST, PUT and PATCH of the admin API always take a body
    return headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
