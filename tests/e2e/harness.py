"""Running certops as a user does, in-process: the real CLI entry point, the real client,
the real sandbox (mounted through ``sandbox:PATH``), and the sandbox's own admin API
(``/_sandbox/``) as the stand-in for learners and the clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from certops.address import sandbox_address
from certops.connection import connect_reader
from certops.lms.records import Enrollment
from certops.sandbox import create_app
from tests.support import Ran, run_certops


def certops(*args: str) -> Ran:
    """Run ``certops ARGS`` through the console entry point, in the current environment."""
    return run_certops(*args)


class SandboxAdmin:
    """The sandbox's ``/_sandbox/`` API (learners' progress, the clock), and reads through
    certops' own read-only client."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._app = create_app(str(db))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        async def go() -> Any:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
                response = await c.request(method, path, json=body)
                assert response.status_code < 300, (path, response.status_code, response.text)
                return response.json()

        return asyncio.run(go())

    def clock(self, instant: str) -> None:
        """Set the sandbox's clock (what Docebo would call now)."""
        self._call("PUT", "/_sandbox/clock", {"now": instant})

    def progress(self, user: str, course: str, status: str, at: str) -> Any:
        """A learner starts or completes a course at ``at``."""
        body = {"user": user, "course": course, "status": status, "at": at}
        return self._call("POST", "/_sandbox/progress", body)

    def enrollments(self, code: str) -> dict[str, Enrollment]:
        """The enrollments in course ``code``, by username (read with certops' reader)."""

        async def go() -> dict[str, Enrollment]:
            async with connect_reader(sandbox_address(self.db)) as reader:
                courses = {c.code: c.id for c in await reader.list_courses()}
                if code not in courses:
                    return {}
                users = {u.id: u.username for u in await reader.list_users()}
                rows = await reader.list_enrollments([courses[code]])
                return {users[e.user_id]: e for e in rows}

        return asyncio.run(go())
