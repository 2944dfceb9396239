"""Fixtures: a small sandbox, its application in-process, and an authenticated client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sandbox_helpers import PASSWORD_GRANT, SMALL

from certops.config.model import Location
from certops.sandbox import create_app, init_sandbox
from certops.sandbox.dataset import load_into
from certops.sandbox.store import Store


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A sandbox holding the SMALL dataset."""
    path = tmp_path / "sandbox.db"
    init_sandbox(path)
    store = Store(path)
    try:
        load_into(store, SMALL, lambda path, key=False: Location("<small>", 1, 1))
    finally:
        store.close()
    return path


@pytest.fixture
def app(db_path: Path):
    return create_app(db_path)


@pytest.fixture
async def anon(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


@pytest.fixture
async def client(anon: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client holding a valid access token."""
    answer = await anon.post("/oauth2/token", data=PASSWORD_GRANT)
    assert answer.status_code == 200, answer.text
    anon.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return anon
