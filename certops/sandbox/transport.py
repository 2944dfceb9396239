"""The sandbox as an in-process LMS: what ``--lms sandbox:PATH`` connects through.

The Docebo client does not know the sandbox: for a ``sandbox:`` address,
``certops.connection`` asks this module for an httpx transport that mounts the sandbox
application in-process, and for the credentials to use (the ``DOCEBO_*`` variables if set,
else the ones the sandbox stores), and hands both to the client, which then speaks HTTP
to it exactly as it would to a tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from certops.lms.credentials import Credentials, credentials_from_env
from certops.lms.errors import LMSAddressError, LMSCredentialsError


class SandboxTransport(httpx.AsyncBaseTransport):
    """The sandbox app in-process; a dropped connection becomes an httpx transport error."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        from certops.sandbox.faults import ConnectionDropped

        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as exc:
            # As over a socket: the request may or may not have been processed.
            raise httpx.ReadError("connection dropped by the sandbox", request=request) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


def _existing(path_text: str) -> Path:
    path = Path(path_text)
    if not path.exists():
        raise LMSAddressError(
            f"no sandbox at {path_text}: run 'certops sandbox init' first "
            f"(or point --lms at an existing sandbox:PATH)"
        )
    return path


def sandbox_credentials(path_text: str) -> Credentials:
    """``DOCEBO_*`` credentials if any are set, else the ones the sandbox file stores."""
    from certops.sandbox import read_credentials

    path = _existing(path_text)
    found = credentials_from_env()
    if found is None:
        found = _credentials_from_store(read_credentials(path), path_text)
    return found


def _credentials_from_store(stored: Any, path_text: str) -> Credentials:
    def get(name: str) -> str | None:
        value = stored.get(name) if isinstance(stored, Mapping) else getattr(stored, name, None)
        return str(value) if value not in (None, "") else None

    client_id, secret = get("client_id"), get("client_secret")
    if not client_id or not secret:
        raise LMSCredentialsError(f"the sandbox at {path_text} has no OAuth2 client stored")
    return Credentials(
        client_id=client_id,
        client_secret=secret,
        username=get("username"),
        password=get("password"),
        source=f"sandbox {path_text}",
    )


def sandbox_transport(path_text: str) -> SandboxTransport:
    """An in-process transport to the sandbox at ``path_text`` (which must exist)."""
    from certops.sandbox import create_app

    return SandboxTransport(create_app(_existing(path_text)))
