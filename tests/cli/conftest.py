"""A folder per test with its own small sandbox and configuration, and a way to run
``certops`` in it through the real entry point (``certops.cli.main.main``), so exit codes
and error messages are exactly what a user sees.

The dataset is small on purpose (five learners, two products) so that every test runs in
well under a second; the demo dataset is used only where its size matters.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import certops.cli.plan as plan_module
from certops.address import LMSAddress, parse_address, sandbox_address
from certops.connection import connect_reader, connect_writer
from certops.lms import RetryPolicy
from certops.sandbox import create_app, init_sandbox, load_dataset, read_credentials
from certops.sandbox.transport import sandbox_credentials
from tests.support import Ran, run_certops, serve_app

# Production retries with tiny delays: a dropped write is settled in milliseconds.
FAST = RetryPolicy(attempts=6, base_delay=0.002, max_delay=0.02)
# No second try: a lost write ends the run there (what an interrupted apply looks like).
NO_RETRY = RetryPolicy(attempts=1, base_delay=0.002, max_delay=0.02)

# Evaluated mid-2026: the 2026 periods are open, nobody is due yet.
AT = "2026-06-01T00:00:00Z"

WIDGET = """\
version: 1
products:
  - id: widget
    name: Widget
    group: {name: "Certified: Widget"}
    initial_paths:
      - {name: basics, all_of: [W-101]}
    certified_course:
      code: CERT-W
      name: "Certified: Widget"
      description: "Your Widget certification status."
      salesforce_sync: true
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-W-2026, name: "Widget: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
    enrollment_rule: {name: "Certified: Widget courses"}
settings:
  salesforce_catalog: {code: SF-SYNC, name: "Salesforce Sync"}
  safety: {max_suspend_fraction: 0.5, min_population: 2}
"""

GIZMO = """\
version: 1
products:
  - id: gizmo
    name: Gizmo
    group: {name: "Certified: Gizmo"}
    initial_paths:
      - {name: basics, all_of: [G-101]}
    certified_course: {code: CERT-G, name: "Certified: Gizmo"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-G-2026, name: "Gizmo: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
"""


def _done(user: str, course: str, when: str) -> dict[str, Any]:
    return {
        "user": user,
        "course": course,
        "status": "completed",
        "enrolled_at": f"{when}T09:00:00Z",
        "completed_at": f"{when}T12:00:00Z",
    }


DATASET: dict[str, Any] = {
    "users": [
        {"username": "alice", "email": "alice@example.com", "first_name": "Alice"},
        {"username": "bob", "email": "bob@example.com", "first_name": "Bob"},
        {"username": "carol", "email": "carol@example.com", "first_name": "Carol"},
        {"username": "dave", "email": "dave@example.com", "active": False},
        {"username": "erin", "email": "erin@example.com", "first_name": "Erin"},
    ],
    "courses": [
        {"code": "W-101", "name": "Widget 101", "published": True},
        {"code": "G-101", "name": "Gizmo 101", "published": True},
        # Made by hand before certops: certops must put it in shape (an update, a PUT).
        {"code": "CERT-W", "name": "Certified: Widget", "published": False},
    ],
    "enrollments": [
        _done("alice", "W-101", "2025-03-01"),
        _done("bob", "W-101", "2025-06-01"),
        _done("dave", "W-101", "2025-04-01"),
        _done("erin", "W-101", "2025-05-01"),
        {"user": "carol", "course": "W-101", "status": "in_progress"},
        # Enrolled by hand, never marked completed: certops sets it (a PUT on enrollments).
        {"user": "alice", "course": "CERT-W", "status": "enrolled"},
        _done("alice", "G-101", "2025-02-01"),
        _done("bob", "G-101", "2025-02-02"),
    ],
}


@dataclass
class Workspace:
    """A working folder with a sandbox at ``.certops/sandbox.db`` and configuration in
    ``conf/``; ``run`` executes certops there as a user would."""

    root: Path
    env: dict[str, str | None] = field(default_factory=dict)
    retry: RetryPolicy = FAST  # what the CLI's connections use

    @property
    def db(self) -> Path:
        return self.root / ".certops" / "sandbox.db"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def lms(self) -> str:
        return f"sandbox:{self.db}"

    @property
    def address(self) -> LMSAddress:
        return sandbox_address(self.db)

    def run(self, *args: str, input: str | None = None, **env: str | None) -> Ran:
        """Runs ``certops ARGS`` through the console entry point; returns what it did."""
        return run_certops(*args, env={**self.env, **env}, input=input)

    def load(self, data: dict[str, Any]) -> None:
        """Loads (upserts) a dataset into the sandbox, as ``certops sandbox load`` does."""
        file = self.root / "extra-dataset.json"
        file.write_text(json.dumps(data), encoding="utf-8")
        load_dataset(self.db, file)
        file.unlink()

    def lms_state(self, lms: str | None = None) -> LMSState:
        """Everything certops manages, read back through the Docebo API."""
        return asyncio.run(_read_state(lms or self.lms, self.db))

    def audit(self, path: str = ".certops/audit.jsonl") -> list[dict[str, Any]]:
        """The audit log's outcome lines (what became of each write), without intents."""
        return [line for line in self.audit_lines(path) if line.get("kind") != "intent"]

    def audit_lines(self, path: str = ".certops/audit.jsonl") -> list[dict[str, Any]]:
        """Every line of the audit log, intents included (a line cut short by a crash,
        which certops ignores, is left out)."""
        file = self.root / path
        if not file.exists():
            return []
        lines = []
        for text in read_audit_text(file).splitlines():
            try:
                lines.append(json.loads(text))
            except ValueError:
                continue
        return lines


def read_audit_text(path: Path) -> str:
    """The text of an audit log: a file, or every file of an audit folder in name order
    (``.gz`` files decompressed member by member, as Python's gzip reads them; a last
    member cut short gives what it holds)."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    parts = []
    for file in files:
        if not file.name.endswith(".gz"):
            parts.append(file.read_text(encoding="utf-8"))
            continue
        data = bytearray()
        with gzip.open(file, "rb") as stream:
            try:
                while chunk := stream.read(65536):
                    data += chunk
            except EOFError:
                pass  # a member cut short by a crash
        parts.append(data.decode("utf-8", errors="replace"))
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class LMSState:
    """What the LMS holds, as lists (so duplicates show): codes, names, pairs."""

    course_codes: list[str]
    group_names: list[str]
    catalog_codes: list[str]
    catalog_items: list[tuple[str, str]]
    enrollments: list[tuple[str, str, str]]  # (course code, username, status)
    users: list[str]

    def status(self, course: str, user: str) -> str | None:
        found = [s for c, u, s in self.enrollments if c == course and u == user]
        return found[0] if found else None


async def _read_state(lms: str, db: Path) -> LMSState:
    credentials = sandbox_credentials(str(db))
    async with connect_reader(parse_address(lms), retry=FAST, credentials=credentials) as reader:
        courses = await reader.list_courses()
        groups = await reader.list_groups()
        items = []
        catalogs = await reader.list_catalogs()
        for catalog in catalogs:
            for item in await reader.list_catalog_items(catalog.id):
                items.append((catalog.code, item.item_code))
        users = {u.id: u.username for u in await reader.list_users()}
        codes = {c.id: c.code for c in courses}
        enrollments = await reader.list_enrollments(sorted(codes))
    return LMSState(
        course_codes=[c.code for c in courses],
        group_names=[g.name for g in groups],
        catalog_codes=[c.code for c in catalogs],
        catalog_items=items,
        enrollments=[(codes[e.course_id], users[e.user_id], e.status.value) for e in enrollments],
        users=sorted(users.values()),
    )


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small sandbox, built once (init and load are the slow part); copied per test."""
    folder = tmp_path_factory.mktemp("template")
    db = folder / "sandbox.db"
    init_sandbox(db)
    file = folder / "dataset.json"
    file.write_text(json.dumps(DATASET), encoding="utf-8")
    load_dataset(db, file)
    return db


def _copy_db(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        extra = source.with_name(source.name + suffix)
        if extra.exists():
            shutil.copyfile(extra, target.with_name(target.name + suffix))


@pytest.fixture
def ws(tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh workspace: small sandbox, both products' config, evaluated at ``AT``."""
    monkeypatch.chdir(tmp_path)
    workspace = Workspace(tmp_path)
    # The CLI's connections keep production retry counts but use tiny delays.
    monkeypatch.setattr(
        plan_module,
        "connect_reader",
        lambda *args, **kw: connect_reader(*args, retry=workspace.retry, **kw),
    )
    monkeypatch.setattr(
        plan_module,
        "connect_writer",
        lambda *args, **kw: connect_writer(*args, retry=workspace.retry, **kw),
    )
    _copy_db(template_db, tmp_path / ".certops" / "sandbox.db")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "widget.yaml").write_text(WIDGET, encoding="utf-8")
    (conf / "gizmo.yaml").write_text(GIZMO, encoding="utf-8")
    workspace.env = {
        "CERTOPS_AT": AT,
        "CERTOPS_LMS": None,
        "NO_COLOR": None,
        "DOCEBO_CLIENT_ID": None,
        "DOCEBO_CLIENT_SECRET": None,
        "DOCEBO_USERNAME": None,
        "DOCEBO_PASSWORD": None,
        "CERTOPS_ACTOR": None,
        "GITHUB_ACTOR": None,
        "GITLAB_USER_LOGIN": None,
        "BUILD_REQUESTEDFOR": None,
    }
    return workspace


@dataclass
class Served:
    """The workspace's sandbox served by uvicorn on 127.0.0.1: one application instance,
    so its fault injection and call log apply across certops runs."""

    ws: Workspace
    url: str

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Calls the sandbox's own ``/_sandbox/`` API (never used by certops' client)."""
        response = httpx.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def faults(self, **config: Any) -> None:
        self.admin("PUT", "faults", config)

    def calls(self) -> list[dict[str, Any]]:
        return self.admin("GET", "calls")["items"]

    def clear_calls(self) -> None:
        self.admin("DELETE", "calls")


@pytest.fixture
def served(ws: Workspace) -> Iterator[Served]:
    """Serves the workspace's sandbox over HTTP and points certops at it (``CERTOPS_LMS``
    and the ``DOCEBO_*`` variables, as for a tenant)."""
    with serve_app(create_app(ws.db)) as url:
        creds = read_credentials(ws.db)
        ws.env.update(
            CERTOPS_LMS=url,
            DOCEBO_CLIENT_ID=creds.client_id,
            DOCEBO_CLIENT_SECRET=creds.client_secret,
            DOCEBO_USERNAME=creds.username,
            DOCEBO_PASSWORD=creds.password,
        )
        yield Served(ws, url)
