"""What ``certops listen`` answers to bad or hostile deliveries, and that it stays up and
writes nothing; grouped deliveries, duplicates and unknown events; LMS failures."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.lms.records import EnrollmentStatus
from tests.listen.harness import (
    WEBHOOK_PASSWORD,
    WEBHOOK_USER,
    Admin,
    Process,
    audit_lines,
    start_listen,
)
from tests.support import wait_for

YEAR = datetime.now(UTC).year
GOOD = httpx.BasicAuth(WEBHOOK_USER, WEBHOOK_PASSWORD)


def grouped(*envelopes: dict[str, Any]) -> dict[str, Any]:
    """The envelopes' payloads as one grouped delivery (one message_id and event), as
    Docebo sends them when the webhook groups events."""
    head = {k: v for k, v in envelopes[0].items() if k != "payload"}
    return {**head, "message_id": uuid.uuid4().hex, "payloads": [e["payload"] for e in envelopes]}


def envelope(user_id: int, course_id: int, username: str, **extra: Any) -> dict[str, Any]:
    """A Docebo envelope for a completion (fields as the public record shows them)."""
    return {
        "message_id": uuid.uuid4().hex,
        "webhook_id": 1,
        "original_domain": "acme.docebosaas.com",
        "event": "course.enrollment.completed",
        "fired_by_batch_action": False,
        "payload": {"user_id": user_id, "username": username, "course_id": course_id,
                    "status": "completed"},
        **extra,
    }  # fmt: skip


@pytest.fixture
def listening(site, tmp_path: Path) -> Iterator[tuple[Process, Process, Admin, httpx.Client]]:
    config, sandbox, admin = site
    listen = start_listen(config, sandbox.url, tmp_path, "--retry-base", "0.05")
    admin.call("DELETE", "/_sandbox/calls")
    try:
        with httpx.Client(base_url=listen.url, timeout=30) as client:
            yield listen, sandbox, admin, client
    finally:
        listen.stop()


def _health(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    return answer.json()


def _drained(client: httpx.Client) -> dict[str, Any]:
    return wait_for(lambda: (h := _health(client))["queue_depth"] == 0 and h, timeout=20)


def _settled(admin: Admin, client: httpx.Client) -> dict[str, Any]:
    """Quiet: listen's queue is empty, every webhook the sandbox fired so far (those of
    listen's own writes included) was delivered, and what they brought was handled."""
    _drained(client)
    wait_for(
        lambda: all(
            d["delivered_at"] is not None or d["failed"]
            for d in admin.call("GET", "/_sandbox/webhooks/deliveries")["items"]
        ),
        timeout=20,
    )
    return _drained(client)


def _course_id(admin: Admin, code: str) -> int:
    """The id of a course alice is enrolled in (read with certops' own client)."""
    enrollment = admin.enrollment("alice", code)
    assert enrollment is not None
    admin.call("DELETE", "/_sandbox/calls")  # the tests count the calls that follow
    return enrollment.course_id


def test_bad_deliveries_get_the_right_answer_and_change_nothing(listening, tmp_path: Path):
    listen, _, admin, client = listening
    course = _course_id(admin, "AC-102")
    body = json.dumps(envelope(1, course, "alice"))

    answer = client.post("/webhook", content=body)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    for auth in (
        httpx.BasicAuth(WEBHOOK_USER, "wrong"),
        httpx.BasicAuth("someone", WEBHOOK_PASSWORD),
        httpx.BasicAuth(WEBHOOK_USER, WEBHOOK_PASSWORD + "x"),
    ):
        assert client.post("/webhook", content=body, auth=auth).status_code == 401
    garbled = {"Authorization": "Basic " + "!!not-base64!!"}
    assert client.post("/webhook", content=body, headers=garbled).status_code == 401
    no_colon = {"Authorization": "Basic " + base64.b64encode(WEBHOOK_USER.encode()).decode()}
    assert client.post("/webhook", content=body, headers=no_colon).status_code == 401

    answer = client.post("/webhook", content=b"{not json", auth=GOOD)
    assert answer.status_code == 400
    assert "not JSON" in answer.json()["error"]
    no_id = envelope(1, course, "alice")
    del no_id["message_id"]
    answer = client.post("/webhook", json=no_id, auth=GOOD)
    assert answer.status_code == 400
    assert "message_id" in answer.json()["error"]
    # One bad payload in a group rejects the group: nothing of it is queued.
    bad = {**envelope(1, course, "alice"), "payload": "x"}
    answer = client.post("/webhook", json=grouped(envelope(1, course, "alice"), bad), auth=GOOD)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("payloads[1] is missing")
    assert client.post("/webhook", json=[], auth=GOOD).status_code == 400
    assert client.post("/webhook", json="text", auth=GOOD).status_code == 400

    ten_mb = b"[" + b" " * 10_000_000 + b"]"
    assert client.post("/webhook", content=ten_mb, auth=GOOD).status_code == 413

    def streamed() -> Iterator[bytes]:  # no Content-Length: the cap counts as it reads
        for _ in range(40):
            yield b" " * 100_000

    assert client.post("/webhook", content=streamed(), auth=GOOD).status_code == 413

    health = _health(client)
    assert health["queue_depth"] == 0
    assert health["counts"].get("received", 0) == 0
    assert health["counts"]["rejected_unauthorized"] == 6
    assert health["counts"]["rejected_malformed"] == 5
    assert health["counts"]["rejected_too_large"] == 2
    assert admin.writes() == []
    assert audit_lines(tmp_path, "listen") == []
    before = len(audit_lines(tmp_path))

    # The service is still up and still works.
    admin.register_webhook(listen.url)
    admin.progress("alice", "AC-102")
    wait_for(lambda: admin.enrollment("alice", "CERT-AC"), timeout=5)
    assert len(audit_lines(tmp_path)) > before
    stderr = listen.stderr()
    assert WEBHOOK_PASSWORD not in stderr
    assert base64.b64encode(f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}".encode()).decode() not in stderr


def test_a_flood_for_unknown_learners_is_acknowledged_and_dropped(listening, tmp_path: Path):
    _, _, admin, client = listening
    course = _course_id(admin, "AC-101")
    floods = [
        [envelope(900_000 + i * 25 + j, course, f"ghost{i}-{j}") for j in range(25)]
        for i in range(12)
    ]
    for group in floods:
        answer = client.post("/webhook", json=grouped(*group), auth=GOOD)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"queued": 25, "duplicates": 0, "ignored": 0}
    # Events in courses no product names are dropped without asking the LMS anything.
    elsewhere = grouped(*[envelope(1, 999_999, "alice") for _ in range(20)])
    assert client.post("/webhook", json=elsewhere, auth=GOOD).status_code == 200
    health = _drained(client)
    assert health["counts"]["dropped"] == 320
    assert health["dead_letters"] == 0
    assert admin.writes() == []
    assert audit_lines(tmp_path, "listen") == []
    # Enrollment reads for the unknown learners: one filtered list call per round, not
    # one per learner.
    reads = [
        c
        for c in admin.call("GET", "/_sandbox/calls")["items"]
        if c["path"] == "/course/v1/courses/enrollments"
    ]
    assert 0 < len(reads) <= 12


def test_grouped_duplicate_and_unknown_deliveries(listening):
    _, _, admin, client = listening
    course = _course_id(admin, "AC-102")
    alice = admin.enrollment("alice", "AC-101").user_id
    first = envelope(alice, course, "alice")
    group = grouped(envelope(alice, course, "alice"), envelope(alice, course, "alice"))
    deliveries = [first, first, group, group]
    answers = [client.post("/webhook", json=d, auth=GOOD).json() for d in deliveries]
    assert answers == [
        {"queued": 1, "duplicates": 0, "ignored": 0},
        {"queued": 0, "duplicates": 1, "ignored": 0},
        {"queued": 2, "duplicates": 0, "ignored": 0},
        {"queued": 0, "duplicates": 2, "ignored": 0},
    ]
    other = {**envelope(alice, course, "alice"), "event": "user.created"}
    answer = client.post("/webhook", json=other, auth=GOOD).json()
    assert answer == {"queued": 0, "duplicates": 0, "ignored": 1}
    health = _drained(client)
    assert health["counts"]["ignored_events"] == 1
    assert health["counts"]["duplicates"] == 3
    # alice has not completed AC-102 yet: reconciled, nothing to change.
    assert health["counts"]["done"] == 3
    assert admin.writes() == []


@pytest.mark.slow
def test_lms_errors_keep_events_queued_then_dead_letter(site, tmp_path: Path):
    config, sandbox, admin = site
    listen = start_listen(
        config, sandbox.url, tmp_path, "--retry-base", "0.05", "--max-attempts", "3"
    )
    try:
        client = httpx.Client(base_url=listen.url, timeout=30)
        admin.register_webhook(listen.url)
        # Every API call fails: the completion stays queued and is retried.
        admin.call("PUT", "/_sandbox/faults", {"error_503_share": 1.0})
        admin.progress("alice", "AC-102")
        health = wait_for(
            lambda: (h := _health(client))["counts"].get("retries", 0) >= 1 and h, timeout=20
        )
        assert health["queue_depth"] == 1
        assert "503" in health["last_error"] or "unavailable" in health["last_error"]
        # The LMS comes back before the attempts run out: certified, nothing lost.
        admin.call("PUT", "/_sandbox/faults", {})
        wait_for(lambda: admin.enrollment("alice", "CERT-AC"), timeout=20)
        # Listen's writes for alice fire webhooks of their own: handled before the next
        # outage, or they would fail in it and be dead letters too.
        assert _settled(admin, client)["dead_letters"] == 0

        # An outage longer than the attempts: the event goes to the dead letters.
        admin.call("PUT", "/_sandbox/faults", {"error_503_share": 1.0})
        admin.progress("lena", f"MOC-AC-{YEAR - 1}")
        health = wait_for(lambda: (h := _health(client))["dead_letters"] == 1 and h, timeout=30)
        assert health["queue_depth"] == 0
        assert client.get("/dead-letters").status_code == 401
        [dead] = client.get("/dead-letters", auth=GOOD).json()["items"]
        assert (dead["username"], dead["attempts"]) == ("lena", 3)
        assert dead["event"] == "course.enrollment.completed" and "503" in dead["error"]
        admin.call("PUT", "/_sandbox/faults", {})
        cert = admin.enrollment("lena", "CERT-AC")
        assert cert is not None and cert.status is EnrollmentStatus.SUSPENDED
        client.close()
    finally:
        listen.stop()
