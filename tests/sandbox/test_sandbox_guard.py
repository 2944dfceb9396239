"""``sandbox serve`` guards its unauthenticated ``/_sandbox/`` API: other machines only
with ``--allow-remote`` (and a warning), and only requests addressed to the served address
with JSON bodies (no DNS rebinding, no cross-site ``text/plain`` POSTs)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from certops.sandbox import init_sandbox

ROOT = Path(__file__).resolve().parents[2]


def _command(db: Path, *options: str) -> list[str]:
    return [sys.executable, "-c", "from certops.cli.main import main; main()", "sandbox",
            "serve", "--db", str(db), "--port", "0", *options]  # fmt: skip


@contextmanager
def serving(db: Path, *options: str) -> Iterator[tuple[int, subprocess.Popen]]:
    process = subprocess.Popen(
        _command(db, *options), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "serving at http://" in first, process.stderr.read() if process.stderr else ""
        yield int(first.rsplit(":", 1)[-1]), process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    init_sandbox(path)
    return path


def test_a_remote_address_needs_allow_remote(db: Path) -> None:
    ran = subprocess.run(_command(db, "--host", "0.0.0.0"), capture_output=True, text=True,
                         timeout=30)  # fmt: skip
    assert ran.returncode != 0
    assert "--host 0.0.0.0 is reachable from other machines" in ran.stderr
    assert "pass --allow-remote" in ran.stderr


def test_allow_remote_serves_with_a_warning_and_still_guards(db: Path) -> None:
    with serving(db, "--host", "0.0.0.0", "--allow-remote") as (port, process):
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/_sandbox/clock", timeout=10).status_code == 200
        rebound = httpx.get(
            f"{url}/_sandbox/clock", headers={"Host": f"evil.example:{port}"}, timeout=10
        )
        assert rebound.status_code == 403
        process.terminate()
        assert process.stderr is not None
        assert "warning: serving on 0.0.0.0, reachable from other machines" in (
            process.stderr.read()
        )


def test_admin_api_answers_only_its_own_address_and_json(db: Path) -> None:
    with serving(db) as (port, _):
        url = f"http://127.0.0.1:{port}"
        body = '{"now": "2030-01-01T00:00:00Z"}'
        # A page elsewhere posting a "simple" (no preflight) text/plain request.
        plain = httpx.put(f"{url}/_sandbox/clock", content=body,
                          headers={"Content-Type": "text/plain"}, timeout=10)  # fmt: skip
        assert plain.status_code == 415
        assert "JSON bodies only" in plain.json()["message"]
        cross = httpx.put(f"{url}/_sandbox/clock", content=body, timeout=10,
                          headers={"Content-Type": "application/json",
                                   "Origin": "https://evil.example"})  # fmt: skip
        assert cross.status_code == 403 and "Origin" in cross.json()["message"]
        rebound = httpx.put(f"{url}/_sandbox/clock", content=body, timeout=10,
                            headers={"Content-Type": "application/json",
                                     "Host": f"evil.example:{port}"})  # fmt: skip
        assert rebound.status_code == 403 and "Host" in rebound.json()["message"]
        other_port = httpx.get(f"{url}/_sandbox/clock", headers={"Host": "127.0.0.1:1"})
        assert other_port.status_code == 403
        # Nothing of that changed the clock; the sandbox's own address with JSON does.
        assert httpx.get(f"{url}/_sandbox/clock", timeout=10).json()["now"] != (
            "2030-01-01T00:00:00Z"
        )
        same_origin = httpx.put(f"{url}/_sandbox/clock", content=body, timeout=10,
                                headers={"Content-Type": "application/json",
                                         "Origin": f"http://localhost:{port}"})  # fmt: skip
        assert same_origin.status_code == 200, same_origin.text
        assert httpx.delete(f"{url}/_sandbox/calls", timeout=10).status_code == 200
        # The Docebo API is not the admin API: it keeps answering (with its own auth).
        token = httpx.post(f"{url}/oauth2/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": "certops-sandbox",
            "client_secret": "sandbox-secret", "scope": "api"})  # fmt: skip
        assert token.status_code == 200
