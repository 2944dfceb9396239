"""The sandbox delivers webhooks like Docebo: registration, the envelope, grouping, Basic
credentials, retries with back-off, and the duplicate / reorder / delay faults. The
receiver is a real HTTP server; deliveries are forced with ``/_sandbox/webhooks/flush``."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from certops.sandbox import create_app, init_sandbox, load_dataset
from certops.sandbox.webhooks import Deliverer
from tests.support import ManualClock, serve_app

EVENTS = ["course.enrollment.created", "course.enrollment.updated", "course.enrollment.completed"]


class Receiver:
    """A webhook target that records what it gets and answers ``fail_first`` 503s first."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.auth: list[str | None] = []
        self.fail_first = 0

    async def handle(self, request: Request) -> JSONResponse:
        self.auth.append(request.headers.get("authorization"))
        if self.fail_first:
            self.fail_first -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        self.bodies.append(json.loads(await request.body()))
        return JSONResponse({"ok": True})

    def payloads(self) -> list[dict[str, Any]]:
        found = []
        for body in self.bodies:
            found += body["payloads"] if "payloads" in body else [body["payload"]]
        return found


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    app = Starlette(routes=[Route("/hook", target.handle, methods=["POST"])])
    with serve_app(app) as url:
        yield target, url + "/hook"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Ten learners enrolled (not started) in C-1 and C-2; C-3 exists."""
    db = tmp_path / "hooks.db"
    init_sandbox(db)
    users = [{"username": f"learner{n:04d}"} for n in range(1, 11)]
    enrollments = [{"user": u["username"], "course": c} for u in users for c in ("C-1", "C-2")]
    courses = [{"code": f"C-{n}", "name": f"Course {n}"} for n in (1, 2, 3)]
    data = tmp_path / "hooks.json"
    data.write_text(json.dumps({"users": users, "courses": courses, "enrollments": enrollments}))
    load_dataset(db, data)
    return db


@pytest.fixture
def sandbox(db_path: Path) -> Iterator[httpx.Client]:
    """The sandbox served on a socket (its delivery thread is not started: tests flush)."""
    with serve_app(create_app(db_path)) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def _register(client: httpx.Client, url: str, **extra: Any) -> int:
    answer = client.post("/_sandbox/webhooks", json={"url": url, "events": EVENTS, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _complete(client: httpx.Client, user: str, course: str) -> None:
    answer = client.post(
        "/_sandbox/progress", json={"user": user, "course": course, "status": "completed"}
    )
    assert answer.status_code == 200, answer.text


def _flush(client: httpx.Client) -> dict[str, int]:
    answer = client.post("/_sandbox/webhooks/flush")
    assert answer.status_code == 200
    return answer.json()


def test_a_completion_is_delivered_with_docebos_envelope(sandbox, receiver):
    target, url = receiver
    hook = _register(sandbox, url, username="hook", password="pw:1")
    user, course = "learner0001", "C-2"
    _complete(sandbox, user, course)
    assert target.bodies == []  # queued, not sent by the request that fired it
    assert _flush(sandbox) == {"delivered": 1, "pending": 0, "failed": 0}
    [body] = target.bodies
    assert set(body) == {
        "message_id",
        "webhook_id",
        "original_domain",
        "event",
        "fired_by_batch_action",
        "payload",
    }
    assert body["event"] == "course.enrollment.completed"
    assert body["webhook_id"] == hook
    assert body["fired_by_batch_action"] is False
    payload = body["payload"]
    assert payload["username"] == user
    assert payload["course_code"] == course
    assert payload["status"] == "completed"
    assert payload["completion_date"]
    assert isinstance(payload["user_id"], int) and isinstance(payload["course_id"], int)
    assert target.auth == ["Basic " + base64.b64encode(b"hook:pw:1").decode()]
    # The delivery log says what happened; registrations never show the password.
    [row] = sandbox.get("/_sandbox/webhooks/deliveries").json()["items"]
    assert row["message_id"] == body["message_id"]
    assert row["delivered_at"] >= row["fired_at"]
    listed = sandbox.get("/_sandbox/webhooks").json()
    assert "password" not in listed["items"][0]
    assert "pw:1" not in json.dumps(listed)


def test_grouped_deliveries_hold_up_to_the_group_size(sandbox, receiver, db_path):
    target, url = receiver
    _register(sandbox, url, group_size=3)
    for n in range(1, 8):
        _complete(sandbox, f"learner{n:04d}", "C-1")
    _flush(sandbox)
    # Docebo's grouped shape: one envelope, one message_id and event, payload objects.
    assert sorted(len(b["payloads"]) for b in target.bodies) == [1, 3, 3]
    for body in target.bodies:
        assert body["event"] == "course.enrollment.completed" and "payload" not in body
        assert {"message_id", "webhook_id", "original_domain", "fired_by_batch_action"} <= set(body)
        assert all("message_id" not in p and p["course_code"] == "C-1" for p in body["payloads"])
    assert len({b["message_id"] for b in target.bodies}) == 3
    assert sorted(p["username"] for p in target.payloads()) == [
        f"learner{n:04d}" for n in range(1, 8)
    ]


def test_a_group_is_redelivered_whole_with_its_message_id(sandbox, receiver, db_path):
    target, url = receiver
    _register(sandbox, url, group_size=5)
    target.fail_first = 1
    for n in range(1, 4):
        _complete(sandbox, f"learner{n:04d}", "C-1")
    _flush(sandbox)
    # The first try failed (503): the retry is the same message, same payloads in order.
    [body] = target.bodies
    assert [p["username"] for p in body["payloads"]] == [f"learner{n:04d}" for n in (1, 2, 3)]
    rows = sandbox.get("/_sandbox/webhooks/deliveries").json()["items"]
    assert {r["attempts"] for r in rows} == {2}
    sandbox.patch("/_sandbox/webhooks/1", json={"faults": {"duplicate_share": 1.0}})
    for n in range(4, 6):
        _complete(sandbox, f"learner{n:04d}", "C-1")
    _flush(sandbox)
    # At-least-once: the new group and its duplicate carry one message_id.
    assert [b["message_id"] for b in target.bodies[1:]] == [target.bodies[1]["message_id"]] * 2
    assert target.bodies[1]["payloads"] == target.bodies[2]["payloads"]


def test_failed_deliveries_retry_with_back_off(sandbox, receiver, db_path):
    target, url = receiver
    _register(sandbox, url)
    target.fail_first = 2
    _complete(sandbox, "learner0001", "C-1")
    assert _flush(sandbox)["delivered"] == 1  # flush ignores back-off: three attempts
    [row] = sandbox.get("/_sandbox/webhooks/deliveries").json()["items"]
    assert row["attempts"] == 3 and row["last_status"] == "200"
    # Without flush, a failure waits before the next attempt (0.5 s, then doubling), on
    # the deliverer's clock, which the test moves.
    target.fail_first = 2
    _complete(sandbox, "learner0002", "C-1")
    clock = ManualClock(time.time())  # the event was queued on the real clock: it is due
    start = clock.now
    deliverer = Deliverer(create_app(db_path).state.sandbox.store, retry_base_s=0.5, clock=clock)
    assert deliverer.deliver_due() == 1  # fails
    assert deliverer.deliver_due() == 0  # not due yet
    clock.now = start + 0.4
    assert deliverer.deliver_due() == 0
    clock.now = start + 0.5
    assert deliverer.deliver_due() == 1  # fails again: the back-off doubles to 1 s
    clock.now = start + 1.4
    assert deliverer.deliver_due() == 0
    clock.now = start + 0.5 + 1.0
    assert deliverer.deliver_due() == 1
    assert deliverer.counts() == {"delivered": 2, "pending": 0, "failed": 0}
    rows = sandbox.get("/_sandbox/webhooks/deliveries").json()["items"]
    assert sorted(r["attempts"] for r in rows) == [3, 3]


def test_faults_duplicate_and_reorder_deliveries(sandbox, receiver):
    target, url = receiver
    _register(sandbox, url, faults={"duplicate_share": 1.0, "out_of_order": True, "seed": 3})
    for n in range(1, 9):
        _complete(sandbox, f"learner{n:04d}", "C-1")
    _flush(sandbox)
    ids = [b["message_id"] for b in target.bodies]
    assert len(ids) == 16 and len(set(ids)) == 8  # every event twice, same message_id
    users = [b["payload"]["username"] for b in target.bodies[:8]]
    assert users != sorted(users)  # not in the order they fired


def test_batch_writes_say_so_and_loads_fire_nothing(sandbox, receiver):
    target, url = receiver
    _register(sandbox, url)
    token = sandbox.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "certops-sandbox",
              "client_secret": "sandbox-secret", "scope": "api"},
    ).json()["access_token"]  # fmt: skip
    answer = sandbox.post(
        "/learn/v1/enrollment/batch",
        json={"items": [{"username": "learner0003", "course_code": "C-3"}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    loaded = sandbox.post(
        "/_sandbox/load",
        json={"enrollments": [{"user": "learner0004", "course": "C-3", "status": "completed",
                               "completed_at": "2026-01-01T00:00:00Z"}]},
    )  # fmt: skip
    assert loaded.status_code == 200, loaded.text
    _flush(sandbox)
    assert [(b["event"], b["fired_by_batch_action"]) for b in target.bodies] == [
        ("course.enrollment.created", True)
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": EVENTS}, "url"),
        ({"url": "ftp://x", "events": EVENTS}, "url"),
        ({"url": "http://x", "events": ["user.created"]}, "events"),
        ({"url": "http://x", "events": EVENTS, "username": "u"}, "password"),
        ({"url": "http://x", "events": EVENTS, "group_size": 26}, "group_size"),
        ({"url": "http://x", "events": EVENTS, "faults": {"duplicate_share": 2}}, "faults"),
        ({"url": "http://x", "events": EVENTS, "faults": {"drop": 1}}, "faults.drop"),
    ],
)
def test_registration_is_validated(sandbox, body, field):
    answer = sandbox.post("/_sandbox/webhooks", json=body)
    assert answer.status_code == 400
    assert field in answer.text
    assert sandbox.get("/_sandbox/webhooks").json()["items"] == []


def test_a_paused_webhook_queues_nothing(sandbox, receiver):
    target, url = receiver
    hook = _register(sandbox, url)
    assert sandbox.patch(f"/_sandbox/webhooks/{hook}", json={"active": False}).status_code == 200
    _complete(sandbox, "learner0001", "C-1")
    assert _flush(sandbox) == {"delivered": 0, "pending": 0, "failed": 0}
    assert target.bodies == []
