"""Sandboxes for the client tests: in-process (ASGI) and served over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.address import LMSAddress, parse_address, sandbox_address
from certops.connection import connect_reader, connect_writer
from certops.lms import RetryPolicy
from certops.lms.connect import Connection
from certops.lms.docebo import DoceboReader, DoceboWriter
from certops.sandbox import create_app, init_sandbox, load_dataset, read_credentials
from certops.sandbox.transport import SandboxTransport, sandbox_credentials
from tests.support import serve_app

# Retries as in production, only with tiny delays so the suite stays fast.
FAST = RetryPolicy(attempts=12, base_delay=0.002, max_delay=0.02)

COURSES = [
    {
        "code": f"C-{n}",
        "name": f"Course {n}",
        "description": f"About {n}",
        "published": n % 2 == 0,
        "self_unenrollment": n != 3,
        "enrollment_policy": ["admin_only", "moderated", "free"][n % 3],
        "soft_deadline": n == 4,
        "visible_only_to_enrolled": n == 5,
        **({"date_begin": "2026-01-01", "date_end": "2026-12-31"} if n == 5 else {}),
    }
    for n in range(1, 7)
]
STATUSES = ["enrolled", "in_progress", "completed", "suspended", "waiting"]
BASE = datetime(2025, 1, 1, tzinfo=UTC)


def dataset(users: int = 450) -> dict[str, Any]:
    """Users over several pages, six courses, a catalog and ~1,400 mixed enrollments."""
    enrollments = []
    for u in range(users):
        for n in range(1, 7):
            if (u + n) % 2:
                continue
            status = STATUSES[(u * 7 + n) % len(STATUSES)]
            row: dict[str, Any] = {
                "user": f"user{u:04d}",
                "course": f"C-{n}",
                "status": status,
                "enrolled_at": (BASE + timedelta(hours=u)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            if status == "completed":
                row["completed_at"] = (BASE + timedelta(days=30, hours=u)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
            if n == 5:
                row["valid_from"] = "2026-01-01"
                row["valid_until"] = "2026-12-31"
            enrollments.append(row)
    return {
        "users": [
            {
                "username": f"user{u:04d}",
                "email": f"user{u:04d}@example.com",
                "first_name": f"First{u}",
                "last_name": f"Last{u}",
                "active": u % 50 != 7,
            }
            for u in range(users)
        ],
        "courses": COURSES,
        "catalogs": [{"code": "SF-SYNC", "name": "Salesforce Sync", "courses": ["C-1", "C-2"]}],
        "enrollments": enrollments,
    }


@dataclass
class Sandbox:
    """One sandbox file and one application instance serving it (faults and call log)."""

    path: Path
    app: Any

    @property
    def lms(self) -> str:
        return f"sandbox:{self.path}"

    @property
    def address(self) -> LMSAddress:
        return sandbox_address(self.path)

    def reader(self, **options: Any) -> Connection[DoceboReader]:
        """A reader on this very app instance (so its faults and call log apply)."""
        options.setdefault("retry", FAST)
        return connect_reader(self.address, transport=SandboxTransport(self.app), **options)

    def writer(self, **options: Any) -> Connection[DoceboWriter]:
        """A writer on this very app instance (so its faults and call log apply)."""
        options.setdefault("retry", FAST)
        return connect_writer(self.address, transport=SandboxTransport(self.app), **options)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Calls the sandbox's own ``/_sandbox/`` API (never used by the Docebo client)."""
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            response = await client.request(method, f"/_sandbox/{path}", json=body)
            response.raise_for_status()
            return response.json()

    async def faults(self, **config: Any) -> None:
        await self.admin("PUT", "faults", config)

    async def calls(self) -> list[dict[str, Any]]:
        return (await self.admin("GET", "calls"))["items"]


def make_sandbox(tmp_path: Path, data: dict[str, Any] | None) -> Sandbox:
    path = tmp_path / "sandbox.db"
    init_sandbox(path)
    if data is not None:
        file = tmp_path / "dataset.json"
        file.write_text(json.dumps(data))
        load_dataset(path, file)
    return Sandbox(path, create_app(path))


@pytest.fixture(scope="module")
def loaded_dir(tmp_path_factory) -> Path:
    """One loaded sandbox file per module (loading is the slow part); copied per test."""
    directory = tmp_path_factory.mktemp("loaded")
    make_sandbox(directory, dataset())
    return directory


@pytest.fixture
def loaded(loaded_dir: Path, tmp_path: Path) -> Sandbox:
    path = tmp_path / "sandbox.db"
    path.write_bytes((loaded_dir / "sandbox.db").read_bytes())
    for suffix in ("-wal", "-shm"):
        extra = loaded_dir / f"sandbox.db{suffix}"
        if extra.exists():
            (tmp_path / f"sandbox.db{suffix}").write_bytes(extra.read_bytes())
    return Sandbox(path, create_app(path))


@pytest.fixture
def empty(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path, {"users": [{"username": "jdoe"}], "courses": COURSES[:2]})


@dataclass
class Served:
    """The sandbox served by uvicorn on 127.0.0.1 (a real socket)."""

    sandbox: Sandbox
    url: str

    @property
    def address(self) -> LMSAddress:
        return parse_address(self.url)

    def reader(self, **options: Any) -> Connection[DoceboReader]:
        options.setdefault("retry", FAST)
        creds = sandbox_credentials(str(self.sandbox.path))
        return connect_reader(self.address, credentials=creds, **options)

    def writer(self, **options: Any) -> Connection[DoceboWriter]:
        options.setdefault("retry", FAST)
        creds = sandbox_credentials(str(self.sandbox.path))
        return connect_writer(self.address, credentials=creds, **options)


@contextmanager
def serve(sandbox: Sandbox) -> Iterator[Served]:
    """Serve ``sandbox`` on a free port of 127.0.0.1 for the duration of the block."""
    with serve_app(sandbox.app) as url:
        yield Served(sandbox, url)


@pytest.fixture
def served(loaded: Sandbox) -> Iterator[Served]:
    with serve(loaded) as running:
        yield running


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[tuple[Served, Any]]:
    """The demo dataset (it fits ``examples/``) served, with the credentials it accepts."""
    path = tmp_path / "demo.db"
    init_sandbox(path, demo=True, learners=40)
    with serve(Sandbox(path, create_app(path))) as running:
        yield running, read_credentials(path)
