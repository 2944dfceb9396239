"""Smoke tests over a real socket: ``certops sandbox serve`` as a person would run it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sandbox_helpers import PASSWORD_GRANT

from certops.sandbox import init_sandbox
from certops.sandbox.store import Store


def _lenient(db: str | Path) -> bool:
    store = Store(db)
    try:
        return store.lenient()
    finally:
        store.close()


@contextmanager
def served(db: Path, *options: str) -> Iterator[str]:
    """Runs ``certops sandbox serve`` on a free port; yields its URL."""
    command = [sys.executable, "-c", "from certops.cli.main import main; main()",
               "sandbox", "serve", "--db", str(db), "--port", "0", *options]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "serving at http://127.0.0.1:" in first, (
            process.stderr.read() if process.stderr else ""
        )
        yield first.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            process.kill()
            process.wait()


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    db = tmp_path / "demo.db"
    init_sandbox(db, demo=True, learners=30, seed=1)
    return db


def _token(client: httpx.Client) -> str:
    answer = client.post("/oauth2/token", data=PASSWORD_GRANT)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def test_serve_answers_like_a_tenant(demo_db: Path):
    with served(demo_db) as url, httpx.Client(base_url=url, timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {_token(client)}"
        courses = client.get("/learn/v1/courses", params={"page_size": 50}).json()["data"]
        codes = {c["code"] for c in courses["items"]}
        assert {"WP-101", "WP-102", "WP-EXAM", "MOC-WP-2025"} <= codes
        wp101 = next(c["id_course"] for c in courses["items"] if c["code"] == "WP-101")
        page = client.get(
            "/course/v1/courses/enrollments", params={"course_id[]": wp101, "page_size": 200}
        ).json()["data"]
        assert page["count"] > 0
        assert {i["course_id"] for i in page["items"]} == {wp101}
        assert client.get("/_sandbox/").json()["counts"]["users"] == 34
        calls = client.get("/_sandbox/calls").json()["items"]
        assert [c["path"] for c in calls] == [
            "/oauth2/token",
            "/learn/v1/courses",
            "/course/v1/courses/enrollments",
        ]


def test_serve_drops_the_connection_on_the_nth_write(demo_db: Path):
    with served(demo_db, "--drop-write", "1:after") as url:
        with httpx.Client(base_url=url, timeout=10) as client:
            client.headers["Authorization"] = f"Bearer {_token(client)}"
            with pytest.raises(httpx.TransportError):
                client.post(
                    "/learn/v1/courses",
                    json={"name": "Lost answer", "code": "LOST", "course_type": "elearning"},
                )
        with httpx.Client(base_url=url, timeout=10) as client:
            client.headers["Authorization"] = f"Bearer {_token(client)}"
            found = client.get("/learn/v1/courses", params={"search_text": "LOST"}).json()
            assert [c["code"] for c in found["data"]["items"]] == ["LOST"]  # stored after all


def test_serve_rate_limit_option(demo_db: Path):
    with served(demo_db, "--rate-limit", "2/60") as url, httpx.Client(base_url=url) as client:
        assert client.post("/oauth2/token", data=PASSWORD_GRANT).status_code == 200
        assert client.post("/oauth2/token", data=PASSWORD_GRANT).status_code == 200
        limited = client.post("/oauth2/token", data=PASSWORD_GRANT)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0


def test_serve_lenient_stores_the_setting(demo_db: Path):
    # Strict by default, over the socket as in-process.
    with served(demo_db) as url, httpx.Client(base_url=url, timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {_token(client)}"
        strict = client.get("/learn/v1/courses", params={"updated_from": "2026-01-01"})
        assert strict.status_code == 400
        assert strict.json()["errors"][0]["field"] == "updated_from"
    with served(demo_db, "--lenient") as url, httpx.Client(base_url=url, timeout=10) as client:
        client.headers["Authorization"] = f"Bearer {_token(client)}"
        lenient = client.get("/learn/v1/courses", params={"updated_from": "2026-01-01"})
        assert lenient.status_code == 200
        assert client.get("/_sandbox/settings").json()["lenient"] is True
    # Stored in the file: the in-process sandbox on it is lenient too.
    assert _lenient(demo_db) is True


def test_serve_drop_fields_option(demo_db: Path):
    with (
        served(demo_db, "--drop-fields", "course_date_end, description") as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        faults = client.get("/_sandbox/faults").json()
        assert faults["drop_fields"] == ["course_date_end", "description"]
        client.headers["Authorization"] = f"Bearer {_token(client)}"
        created = client.post(
            "/learn/v1/courses",
            json={"name": "X", "course_type": "elearning", "description": "kept?",
                  "course_date_end": "2027-12-31"},
        )  # fmt: skip
        assert created.status_code == 200
        detail = client.get(f"/learn/v1/courses/{created.json()['data']['id_course']}").json()
        assert (detail["data"]["description"], detail["data"]["course_date_end"]) == ("", None)
