"""The README's demo story through a real socket: ``certops sandbox serve`` in its own
process (strict, as by default), certops pointed at it with ``--lms http://127.0.0.1:PORT``
and the ``DOCEBO_*`` credentials the server prints, as an admin would point it at a tenant.
The figures are those of the in-process story: the wire changes nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.sandbox import init_sandbox
from tests.support import Ran, run_certops

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PRODUCTS = {"widget-pro": "WP", "gadget-max": "GM", "sprocket": "SP"}
# The README's rollover figures for the default demo (200 learners, seed 0): suspended
# certified learners and 2027 enrollments per product (Sprocket has no 2027 period).
SUSPEND = {"widget-pro": 20, "gadget-max": 9, "sprocket": 6}
ENROLL_2027 = {"widget-pro": 94, "gadget-max": 37, "sprocket": 0}


@dataclass(frozen=True, slots=True)
class Tenant:
    """A sandbox served by its own process: its URL and the environment that reaches it."""

    url: str
    env: dict[str, str | None]

    def admin(self, path: str) -> Any:
        response = httpx.get(f"{self.url}/_sandbox/{path}", timeout=10)
        response.raise_for_status()
        return response.json()


def _header(log: Path, process: subprocess.Popen[bytes]) -> str:
    """What the server printed up to its 'Press Ctrl+C' line (it is ready then)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "Press Ctrl+C" in text:
            return text
        if process.poll() is not None:
            raise AssertionError(f"sandbox serve exited {process.returncode}: {text}")
        time.sleep(0.05)
    raise AssertionError("sandbox serve did not start")


@contextmanager
def serve(db: Path, log: Path) -> Iterator[Tenant]:
    """Runs ``certops sandbox serve`` on a free loopback port until the block ends."""
    command = [sys.executable, "-c", "from certops.cli.main import main; main()",
               "sandbox", "serve", "--db", str(db), "--port", "0"]  # fmt: skip
    # The server's output goes to a file: a pipe nobody reads could fill and stall it.
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        header = _header(log, process)
        url = re.search(r"serving at (http://127\.0\.0\.1:\d+)", header)
        client = re.search(r"OAuth2 client: (\S+) / (\S+)", header)
        user = re.search(r"admin user:\s+(\S+) / (\S+)", header)
        assert url and client and user, header
        assert "strict:" in header  # unknown request fields are rejected, not ignored
        yield Tenant(
            url.group(1),
            {
                "CERTOPS_LMS": None,
                "CERTOPS_AT": None,
                "NO_COLOR": None,
                "DOCEBO_CLIENT_ID": client.group(1),
                "DOCEBO_CLIENT_SECRET": client.group(2),
                "DOCEBO_USERNAME": user.group(1),
                "DOCEBO_PASSWORD": user.group(2),
            },
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            process.kill()
            process.wait()


@pytest.fixture()
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DOCEBO_", "CERTOPS_")):
            monkeypatch.delenv(name)
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    db = tmp_path / "demo.db"
    init_sandbox(db, demo=True)
    with serve(db, tmp_path / "serve.log") as served:
        yield served


def run(tenant: Tenant, *args: str) -> Ran:
    ran = run_certops(*args, "--lms", tenant.url, env=tenant.env)
    assert ran.code == 0, ran.output
    return ran


def test_demo_story_over_a_real_socket(tenant: Tenant) -> None:
    first = run(tenant, "plan", "examples", "--format", "json", "--at", "2026-12-01").json()
    assert first["lms"] == tenant.url
    writes = first["summary"]["create"] + first["summary"]["update"]
    applied = run(tenant, "apply", "examples", "--yes", "--at", "2026-12-01")
    # 16 manual: 8 rules and notifications, 2 weekly digest rungs, 6 visibility checks.
    assert f"Apply: {writes} applied, 0 failed, 0 skipped, 16 manual" in applied.stdout
    # Every write went over the socket and was answered 200 (strict: no unknown field).
    calls = tenant.admin("calls")["items"]
    batches = [c for c in calls if c["path"] == "/learn/v1/enrollment/batch"]
    assert batches and all(c["method"] == "POST" for c in batches)
    assert {c["status"] for c in calls} == {200}, [c for c in calls if c["status"] != 200]
    # Nothing is planned twice.
    again = run(tenant, "plan", "examples", "--format", "json", "--at", "2026-12-01").json()
    assert (again["summary"]["create"], again["summary"]["update"]) == (0, 0)

    preview = run(tenant, "plan", "examples", "--format", "json", "--at", "2027-01-02").json()
    assert preview["summary"]["blocked"] is False and preview["safety"] == []
    suspend: dict[str, int] = {}
    enroll: dict[str, int] = {}
    for product, code in PRODUCTS.items():
        suspend[product] = sum(
            1
            for c in preview["changes"]
            if c["address"].startswith(f"enrollment.CERT-{code}.")
            and c["action"] == "update"
            and c["after"] == {"status": "suspended"}
        )
        enroll[product] = sum(
            1
            for c in preview["changes"]
            if c["address"].startswith(f"enrollment.MOC-{code}-2027.") and c["action"] == "create"
        )
    assert suspend == SUSPEND
    assert enroll == ENROLL_2027
    # The rollover itself, then only manual steps are left.
    rolled = run(tenant, "apply", "examples", "--yes", "--at", "2027-01-02")
    assert ", 0 failed, 0 skipped" in rolled.stdout
    after = run(tenant, "plan", "examples", "--format", "json", "--at", "2027-01-02").json()
    assert after["changes"] and {c["action"] for c in after["changes"]} == {"manual"}
