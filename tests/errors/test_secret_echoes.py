"""A secret never shows, whatever form a hostile server echoes it in: the request body
base64-encoded at any offset, in another Unicode normal form, cut short, JSON-escaped."""

from __future__ import annotations

import asyncio
import base64
import json
import unicodedata
from collections.abc import Callable

import httpx
import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.errors import LMSError
from certops.lms import Credentials, RetryPolicy
from certops.secrets import redact_secrets

SECRET = "Çs-Zx81Kq/never+print=me-0042"  # non-ASCII, and characters forms encode
PASSWORD = "pw-Pw93Lm-never-print-me"
QUICK = RetryPolicy(attempts=1, base_delay=0.001, max_delay=0.002)

ECHOES: dict[str, Callable[[bytes], str]] = {
    "base64 of the body": lambda body: base64.b64encode(body).decode(),
    "base64, one byte in": lambda body: base64.b64encode(b"x" + body).decode(),
    "base64, two bytes in": lambda body: base64.b64encode(b"xy" + body).decode(),
    "Unicode NFD": lambda body: unicodedata.normalize("NFD", _decoded(body)),
    "cut short": lambda body: _decoded(body)[: _decoded(body).index(SECRET[:6]) + 14] + "…",
    "JSON": lambda body: json.dumps(_decoded(body)),
}


def _decoded(body: bytes) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(body.decode())


@pytest.mark.parametrize("echo", list(ECHOES), ids=list(ECHOES))
def test_a_server_that_echoes_the_secret_never_gets_it_shown(echo: str) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        text = ECHOES[echo](request.content)
        return httpx.Response(400, json={"error": "invalid_request", "error_description": text})

    async def go() -> str:
        async with connect_reader(
            parse_address("https://acme.docebosaas.com"),
            transport=httpx.MockTransport(route),
            credentials=Credentials("ci-client", SECRET, "api-admin", PASSWORD),
            retry=QUICK,
        ) as lms:
            try:
                await lms.list_courses()
            except LMSError as exc:
                return str(exc)
        raise AssertionError("the token request should have failed")

    message = asyncio.run(go())
    assert "***" in message
    for secret in (SECRET, PASSWORD):
        for piece in (secret, unicodedata.normalize("NFD", secret), secret[:8], secret[-8:]):
            assert piece not in message, (echo, message)


def test_fragments_and_words() -> None:
    # A piece of a long secret is masked; a word a message needs is not.
    assert redact_secrets("cut: 0123456789abcdef…", ["0123456789abcdefXYZ"]) == "cut: ***…"
    assert redact_secrets("username or password is wrong", ["password1234"]) == (
        "username or password is wrong"
    )
