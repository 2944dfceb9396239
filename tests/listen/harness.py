"""Real processes on real sockets: ``certops sandbox serve`` and ``certops listen`` as an
operator runs them (subprocesses on free loopback ports), a small product configured
around today's date, and the sandbox's ``/_sandbox/`` API as the stand-in for learners
and for Docebo's webhook settings."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials
from certops.lms.records import Enrollment
from certops.sandbox import init_sandbox, load_dataset

WEBHOOK_USER = "docebo-hook"
WEBHOOK_PASSWORD = "s3cret-hook-pass"
SANDBOX_ENV = {"DOCEBO_CLIENT_ID": "certops-sandbox", "DOCEBO_CLIENT_SECRET": "sandbox-secret"}
ROOT = Path(__file__).resolve().parents[2]  # the tree under test
CREDENTIALS = Credentials(client_id="certops-sandbox", client_secret="sandbox-secret")
CERTOPS = [sys.executable, "-c", "from certops.cli.main import main; main()"]


def product_yaml(year: int) -> str:
    """One product whose last period is due on 31 December of ``year`` and whose period
    before has passed, so "now" (any day of ``year``) has both a fresh certification and
    a late maintenance completion to act on."""
    return f"""version: 1
products:
  - id: acme
    name: Acme
    group: {{name: "Certified: Acme"}}
    initial_paths:
      - {{name: classic, all_of: [AC-101, AC-102]}}
    certified_course: {{code: CERT-AC, name: "Certified: Acme"}}
    maintenance:
      new_learner_grace_days: 0
      late_completion: reinstate
      periods:
        - id: "{year - 1}"
          course: {{code: MOC-AC-{year - 1}, name: "Acme maintenance {year - 1}"}}
          opens: {year - 1}-01-01
          due: {year - 1}-12-31
        - id: "{year}"
          course: {{code: MOC-AC-{year}, name: "Acme maintenance {year}"}}
          opens: {year}-01-01
          due: {year}-12-31
"""


def dataset(year: int, learners: int = 0) -> dict[str, Any]:
    """alice is one course short of certification; lena was certified two years ago and
    did not take last year's maintenance course; ``learners`` more (``l0001``...) are
    enrolled in both initial courses, not started."""
    old = f"{year - 2}-06-01T10:00:00Z"
    users = [{"username": n, "email": f"{n}@example.com"} for n in ("alice", "lena")]
    enrollments = [
        {"user": "alice", "course": "AC-101", "status": "completed", "completed_at": old},
        {"user": "alice", "course": "AC-102"},
        {"user": "lena", "course": "AC-101", "status": "completed", "completed_at": old},
        {"user": "lena", "course": "AC-102", "status": "completed", "completed_at": old},
        {"user": "lena", "course": f"MOC-AC-{year - 1}", "enrolled_at": f"{year - 1}-01-02"},
    ]
    for i in range(1, learners + 1):
        name = f"l{i:04d}"
        users.append({"username": name, "email": f"{name}@example.com"})
        enrollments += [{"user": name, "course": c} for c in ("AC-101", "AC-102")]
    courses = [
        {"code": "AC-101", "name": "Acme basics"},
        {"code": "AC-102", "name": "Acme advanced"},
        {"code": f"MOC-AC-{year - 1}", "name": f"Acme maintenance {year - 1}"},
    ]
    return {"users": users, "courses": courses, "enrollments": enrollments}


def make_site(folder: Path, learners: int = 0) -> tuple[Path, Path]:
    """A configuration folder and a sandbox file in ``folder``; returns both."""
    year = datetime.now(UTC).year
    config = folder / "config"
    config.mkdir()
    (config / "acme.yaml").write_text(product_yaml(year))
    db = folder / "sandbox.db"
    init_sandbox(db)
    data = folder / "data.json"
    data.write_text(json.dumps(dataset(year, learners)))
    load_dataset(db, data)
    return config, db


class Process:
    """A ``certops`` subprocess whose first stdout line says where it serves."""

    def __init__(self, args: list[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.args = args
        full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.log = open(cwd / f"{args[0]}-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
        self.popen = subprocess.Popen(
            [*CERTOPS, *args],
            cwd=cwd,
            env=full,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.popen.stdout is not None
        first = self.popen.stdout.readline()
        if "serving at http://" not in first:
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"certops {' '.join(args)} did not start: {self.stderr()}")
        self.url = first.split("serving at ", 1)[1].split()[0]
        self.banner = [first]

    def stderr(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stops the process with ``sig``; returns its exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck process
                self.popen.kill()
                self.popen.wait()
        self.log.close()
        return self.popen.returncode


@contextmanager
def running(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> Iterator[Process]:
    """``certops ARGS`` running for the block (stopped with SIGTERM after it)."""
    process = Process(args, cwd, env or {})
    try:
        yield process
    finally:
        process.stop()


def serve_sandbox(db: Path, cwd: Path) -> Process:
    """``certops sandbox serve`` on a free port."""
    return Process(["sandbox", "serve", "--db", str(db), "--port", "0"], cwd, {})


def start_listen(config: Path, lms: str, cwd: Path, *options: str) -> Process:
    """``certops listen`` on a free port with the test's webhook credentials."""
    env = {
        **SANDBOX_ENV,
        "CERTOPS_WEBHOOK_USER": WEBHOOK_USER,
        "CERTOPS_WEBHOOK_PASSWORD": WEBHOOK_PASSWORD,
    }
    port = [] if "--port" in options else ["--port", "0"]
    process = Process(["listen", str(config), "--lms", lms, *port, *options], cwd, env)
    assert process.popen.stdout is not None
    process.banner += [process.popen.stdout.readline() for _ in range(2)]
    return process


class Admin:
    """The sandbox's ``/_sandbox/`` API and its Docebo API, over the socket."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        answer = self.http.request(method, path, json=body, params=params or None)
        assert answer.status_code < 300, (path, answer.status_code, answer.text)
        return answer.json()

    def register_webhook(self, target: str, **extra: Any) -> int:
        """The webhook Docebo would be configured with: the three enrollment events, the
        listener's Basic credentials."""
        body = {
            "url": target + "/webhook",
            "events": [
                "course.enrollment.created",
                "course.enrollment.updated",
                "course.enrollment.completed",
            ],
            "username": WEBHOOK_USER,
            "password": WEBHOOK_PASSWORD,
            **extra,
        }
        return self.call("POST", "/_sandbox/webhooks", body)["id"]

    def progress(self, user: str, course: str, status: str = "completed") -> Any:
        return self.call("POST", "/_sandbox/progress", {"user": user, "course": course,
                                                         "status": status})  # fmt: skip

    def deliveries(self, **filters: str) -> list[dict[str, Any]]:
        return self.call("GET", "/_sandbox/webhooks/deliveries", **filters)["items"]

    def enrollment(self, user: str, course: str) -> Enrollment | None:
        """One enrollment, read through certops' own read-only client."""

        async def read() -> Enrollment | None:
            async with connect_reader(
                parse_address(str(self.http.base_url)), credentials=CREDENTIALS
            ) as reader:
                found = await reader.find_user(user)
                code = await reader.find_course(course, detail=False)
                if found is None or code is None:
                    return None
                rows = await reader.list_enrollments([code.id], [found.id])
                return rows[0] if rows else None

        return asyncio.run(read())

    def writes(self) -> list[dict[str, Any]]:
        """The API writes in the call log (every POST/PUT but the token's)."""
        calls = self.call("GET", "/_sandbox/calls")["items"]
        return [c for c in calls if c["method"] in ("POST", "PUT") and c["path"] != "/oauth2/token"]


def audit_lines(folder: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The audit log's lines (of ``kind``) in ``folder/.certops/audit.jsonl``."""
    path = folder / ".certops" / "audit.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if kind is None or line.get("kind") == kind]
