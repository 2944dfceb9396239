"""Datasets (validation with located problems, upserts), credentials and the demo data."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from certops.errors import ConfigError
from certops.sandbox import (
    SandboxCredentials,
    SandboxError,
    create_app,
    init_sandbox,
    load_dataset,
    read_credentials,
    reset_sandbox,
)
from certops.sandbox.demo import demo_dataset
from certops.sandbox.store import Store

BAD_YAML = """\
users:
  - {username: jdoe, email: jdoe@example.com, active: yes}
  - {email: nobody@example.com}
  - {username: jdoe}
courses:
  - {code: WP-101, name: "Widget Pro 101", type: elearning, colour: red}
enrollments:
  - {user: jdoe, course: WP-101, status: completed}
  - {user: ghost, course: WP-999, status: done, enrolled_at: 2025-13-01}
extra: 1
"""

GOOD_YAML = """\
users:
  - {username: jdoe, email: jdoe@example.com, first_name: Jane, last_name: Doe, active: true}
courses:
  - {code: WP-101, name: "Widget Pro 101", type: elearning}
catalogs:
  - {code: SF-SYNC, name: "Salesforce Sync", courses: [WP-101]}
enrollments:
  - {user: jdoe, course: WP-101, status: completed,
     enrolled_at: 2025-01-10T09:00:00Z, completed_at: 2025-02-01T12:00:00Z}
"""


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    init_sandbox(path)
    return path


def _count(db: Path, table: str) -> int:
    store = Store(db)
    try:
        with store.read() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        store.close()


def test_yaml_problems_are_all_reported_with_locations(empty_db, tmp_path):
    file = tmp_path / "bad.yaml"
    file.write_text(BAD_YAML)
    with pytest.raises(ConfigError) as caught:
        load_dataset(empty_db, file)
    lines = [str(p).replace(str(file), "F") for p in caught.value.problems]
    assert lines == [
        "F:2:55: active: must be true or false",
        "F:3:5: username is required",
        "F:4:5: duplicate of users[0] (jdoe)",
        "F:6:61: unknown key 'colour'; expected code, name, id, type, description, published,"
        " self_unenrollment, enrollment_policy, date_begin, date_end, soft_deadline,"
        " visible_only_to_enrolled",
        "F:8:5: completed_at is required when status is completed",
        "F:9:12: unknown user 'ghost' (not in users)",
        "F:9:27: unknown course 'WP-999' (not in courses)",
        "F:9:43: status: expected one of enrolled, subscribed, in_progress, completed,"
        " suspended, waiting",
        "F:9:62: enrolled_at: expected a date 'YYYY-MM-DD' or date-time 'YYYY-MM-DD HH:MM:SS'"
        " (UTC), got '2025-13-01'",
        "F:10:1: unknown key 'extra'; expected users, courses, catalogs, groups, enrollments",
    ]
    assert caught.value.problems[5].path == "enrollments[1].user"
    assert _count(empty_db, "users") == 1  # only the admin: nothing was written


def test_json_problems_are_located(empty_db, tmp_path):
    file = tmp_path / "bad.json"
    file.write_text(
        '{"users": [{"username": "a"}],\n "enrollments": [{"user": "a", "course": "X"}]}'
    )
    with pytest.raises(ConfigError) as caught:
        load_dataset(empty_db, file)
    assert [(p.line, p.column, p.message) for p in caught.value.problems] == [
        (2, 42, "unknown course 'X' (not in courses)")
    ]
    broken = tmp_path / "broken.json"
    broken.write_text('{"users": [}')
    with pytest.raises(ConfigError) as caught:
        load_dataset(empty_db, broken)
    assert (caught.value.problems[0].line, caught.value.problems[0].column) == (1, 12)


def test_load_and_upsert(empty_db, tmp_path):
    file = tmp_path / "good.yaml"
    file.write_text(GOOD_YAML)
    summary = load_dataset(empty_db, file)
    assert (summary.users, summary.courses, summary.catalogs, summary.enrollments) == (1, 1, 1, 1)
    file.write_text(GOOD_YAML.replace("Widget Pro 101", "Widget Pro One-O-One"))
    load_dataset(empty_db, file)
    assert _count(empty_db, "courses") == 1
    assert _count(empty_db, "enrollments") == 1
    assert _count(empty_db, "catalog_items") == 1
    store = Store(empty_db)
    with store.read() as conn:
        name = conn.execute("SELECT name FROM courses WHERE code = 'WP-101'").fetchone()[0]
        row = conn.execute("SELECT status, completed_at FROM enrollments").fetchone()
    store.close()
    assert name == "Widget Pro One-O-One"
    assert row == (2, "2025-02-01 12:00:00")


def test_enrollments_may_name_objects_already_in_the_sandbox(empty_db, tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text(GOOD_YAML)
    load_dataset(empty_db, first)
    more = tmp_path / "more.json"
    more.write_text(json.dumps({"enrollments": [{"user": "admin", "course": "WP-101"}]}))
    assert load_dataset(empty_db, more).enrollments == 1


@pytest.mark.anyio
async def test_load_over_http(empty_db):
    app = create_app(empty_db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        ok = await client.post("/_sandbox/load", json={"users": [{"username": "x"}]})
        assert ok.json() == {"loaded": {"users": 1, "courses": 0, "catalogs": 0, "enrollments": 0}}
        bad = await client.post("/_sandbox/load", content='{"users": [{"name": "x"}]}')
        assert bad.status_code == 400
        problems = bad.json()["problems"]
        assert {p["message"] for p in problems} == {
            "username is required",
            "unknown key 'name'; expected username, id, email, first_name, last_name, active",
        }
        assert all(p["file"] == "<request body>" and p["line"] == 1 for p in problems)
        assert (await client.post("/_sandbox/load", content="{")).status_code == 400


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_credentials_default_custom_and_hidden(tmp_path):
    default = tmp_path / "a.db"
    init_sandbox(default)
    creds = read_credentials(default)
    assert creds == SandboxCredentials("certops-sandbox", "sandbox-secret", "admin", "admin")
    assert "sandbox-secret" not in repr(creds) and "admin'" not in repr(creds).split("username")[0]
    custom = tmp_path / "b.db"
    init_sandbox(custom, credentials=SandboxCredentials("cid", "s3cret!", "boss", "pw-123"))
    assert read_credentials(custom).client_secret == "s3cret!"
    assert "s3cret!" not in repr(read_credentials(custom))
    assert "pw-123" not in repr(read_credentials(custom))


def test_missing_or_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(SandboxError, match="certops sandbox init"):
        read_credentials(tmp_path / "none.db")
    foreign = tmp_path / "other.db"
    foreign.write_bytes(b"")
    with pytest.raises(SandboxError, match="not a certops sandbox"):
        create_app(foreign)
    init_sandbox(tmp_path / "c.db")
    with pytest.raises(SandboxError, match="already exists"):
        init_sandbox(tmp_path / "c.db")


def test_reset_recreates_what_init_made(tmp_path):
    db = tmp_path / "r.db"
    init_sandbox(db, demo=True, learners=10, seed=3)
    users_before = _count(db, "users")
    more = tmp_path / "more.json"
    more.write_text(json.dumps({"users": [{"username": "extra"}]}))
    load_dataset(db, more)
    assert _count(db, "users") == users_before + 1
    reset_sandbox(db)
    assert _count(db, "users") == users_before


def test_demo_dataset_is_deterministic_and_fits_the_examples():
    data = demo_dataset(200, seed=0)
    assert data == demo_dataset(200, seed=0)
    assert data != demo_dataset(200, seed=1)
    users = {u["username"]: u for u in data["users"]}
    assert {"learner0001", "learner0200", "jdoe", "asmith", "bcole"} <= set(users)
    assert len(users) == 203
    assert 3 <= sum(not u["active"] for u in users.values()) <= 10
    codes = {c["code"] for c in data["courses"]}
    assert codes == {"WP-101", "WP-102", "WP-EXAM", "GM-101", "SP-101", "MOC-WP-2025"} | {
        "MOC-WP-2026",
        "MOC-GM-2026",
        "MOC-SP-2026",
    }
    assert data["catalogs"][0]["code"] == "SF-SYNC"
    assert data["catalogs"][0]["name"] == "Salesforce Sync"
    enrollments = data["enrollments"]
    stamps = [e[k] for e in enrollments for k in ("enrolled_at", "completed_at") if k in e]
    assert max(stamps) <= "2026-11-20T17:00:00Z"
    assert max(stamps) >= "2026-11-01"  # the 2026 maintenance goes on into November
    completions = [e for e in enrollments if e["status"] == "completed"]
    assert {e["completed_at"][:4] for e in completions} >= {"2023", "2024", "2025", "2026"}
    moc = [e for e in enrollments if e["course"] == "MOC-WP-2025"]
    assert any(e["status"] == "completed" for e in moc)
    assert any(e["status"] != "completed" for e in moc)
    unfinished = [
        e for e in enrollments if e["course"].startswith("WP-") and "completed_at" not in e
    ]
    assert unfinished  # some learners never finish
    gm = {e["user"] for e in completions if e["course"] == "GM-101" and e["completed_at"] < "2026"}
    assert {"jdoe", "asmith", "bcole"} <= gm


def test_demo_sandbox_loads_through_the_same_validation(tmp_path):
    db = tmp_path / "demo.db"
    summary = init_sandbox(db, demo=True, learners=50, seed=5)
    assert summary.users == 53
    assert _count(db, "user_groups") == 0
    store = Store(db)
    with store.read() as conn:
        cert = conn.execute("SELECT COUNT(*) FROM courses WHERE code LIKE 'CERT-%'").fetchone()[0]
        moc = conn.execute(
            "SELECT enrollment_policy, can_self_unenroll, visibility, date_end FROM courses"
            " WHERE code = 'MOC-WP-2025'"
        ).fetchone()
    store.close()
    assert cert == 0
    assert moc == (0, 0, 2, "2025-12-31 23:59:59")


def test_writers_on_separate_connections_take_turns(empty_db):
    """Two stores on one file (as `sandbox load` beside `sandbox serve`) never lose writes."""
    import threading

    from certops.config.model import Location
    from certops.sandbox.dataset import load_into

    def locate(path, key=False):
        return Location("<test>", 1, 1)

    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        store = Store(empty_db)
        try:
            for n in range(25):
                load_into(store, {"users": [{"username": f"{prefix}{n}"}]}, locate)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _count(empty_db, "users") == 1 + 75
