"""The parts of ``certops listen`` that need no socket: parsing deliveries, the durable
queue (dedupe, retries with back-off, dead letters, restart, pruning), Basic checks."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from certops.listen.app import BasicCredentials
from certops.listen.envelope import DeliveryError, parse_delivery
from certops.listen.queue import DONE, DROPPED, EventQueue


def _envelope(message_id: str = "m1", event: str = "course.enrollment.completed", **payload):
    body = {"user_id": 7, "username": "jdoe", "course_id": 3, **payload}
    return {"message_id": message_id, "event": event, "webhook_id": 1, "payload": body}


def _bytes(data: object) -> bytes:
    return json.dumps(data).encode()


def _group(message_id: str = "g1", event: str = "course.enrollment.completed", *payloads):
    """A grouped delivery as Docebo sends it: one message_id and event, many payloads."""
    return {"message_id": message_id, "event": event, "webhook_id": 1,
            "fired_by_batch_action": True, "payloads": list(payloads)}  # fmt: skip


def _payload(**changes):
    return {"user_id": 7, "username": "jdoe", "course_id": 3, **changes}


def test_single_and_grouped_deliveries():
    single = parse_delivery(_bytes(_envelope()))
    assert [(e.message_id, e.user_id, e.username, e.course_id) for e in single.events] == [
        ("m1", 7, "jdoe", 3)
    ]
    payloads = (_payload(), _payload(user_id="8"), _payload())
    grouped = parse_delivery(_bytes(_group("g1", "course.enrollment.completed", *payloads)))
    # Each payload is its own event, keyed by the message and its place in the group.
    assert [e.message_id for e in grouped.events] == ["g1#0", "g1#1", "g1#2"]
    assert grouped.events[1].user_id == 8  # ids as strings of digits are accepted
    kept = json.loads(grouped.events[1].envelope)
    assert kept["payload"]["user_id"] == "8" and "payloads" not in kept
    assert kept["message_id"] == "g1#1" and kept["fired_by_batch_action"] is True
    # A group of events certops does not act on is acknowledged and counted.
    other = parse_delivery(_bytes(_group("g2", "user.created", _payload(), _payload())))
    assert (other.events, other.ignored) == ((), 2)


def test_the_guessed_group_shapes_are_not_deliveries():
    # Docebo groups payloads under one envelope; a list of envelopes is not its shape.
    group = [_envelope("a"), _envelope("b")]
    for shape in (group, {"payloads": group}, {"events": group}, {"messages": group}):
        with pytest.raises(DeliveryError):
            parse_delivery(_bytes(shape))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"42", "expected a JSON object"),
        (b"[]", "expected a JSON object"),
        (_bytes(_group("g", "course.enrollment.completed")), "holds no event"),
        (_bytes({**_group("g", "x"), "payloads": {}}), "payloads must be a list"),
        (_bytes({"hello": 1}), "message_id is missing"),
        (_bytes({**_envelope(), "message_id": ""}), "message_id is missing"),
        (_bytes({**_envelope(), "message_id": "x" * 201}), "longer than 200"),
        (_bytes({**_envelope(), "event": None}), "event is missing"),
        (_bytes({**_envelope(), "payload": []}), "payload is missing"),
        (_bytes(_envelope(user_id=-1)), "payload.user_id"),
        (_bytes(_envelope(user_id=True)), "payload.user_id"),
        (_bytes(_envelope(course_id="3a")), "payload.course_id"),
        (_bytes(_envelope(username=5)), "payload.username"),
        (_bytes(_envelope(user_id=2**63)), "payload.user_id"),
        (_bytes(_group("g", "x", *[_payload()] * 101)), "at most 100"),
        (_bytes(_group("g", "course.enrollment.completed", _payload(), 1)), "payloads[1] is"),
        (
            _bytes(_group("g", "course.enrollment.completed", _payload(), _payload(user_id=0))),
            "payloads[1].user_id",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
def test_malformed_deliveries_say_why(body: bytes, reason: str):
    with pytest.raises(DeliveryError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_delivery(body)


def test_a_grouped_delivery_queues_each_event_once(tmp_path: Path):
    queue = EventQueue(tmp_path / "q.db")
    payloads = [_payload(user_id=10 + i) for i in range(25)]
    delivery = parse_delivery(_bytes(_group("g9", "course.enrollment.completed", *payloads)))
    first = queue.add(delivery.events, delivery.ignored)
    assert (first.queued, first.duplicates) == (25, 0)
    # Docebo delivers at least once: the same group again queues nothing new.
    again = parse_delivery(_bytes(_group("g9", "course.enrollment.completed", *payloads)))
    second = queue.add(again.events, again.ignored)
    assert (second.queued, second.duplicates) == (0, 25)
    assert sorted(e.user_id for e in queue.due()) == list(range(10, 35))
    queue.close()


def test_the_queue_dedupes_retries_and_dead_letters(tmp_path: Path):
    path = tmp_path / "q.db"
    queue = EventQueue(path)
    events = (*parse_delivery(_bytes(_envelope("a"))).events,
              *parse_delivery(_bytes(_envelope("b"))).events)  # fmt: skip
    assert queue.add(events, ignored=1).queued == 2
    again = queue.add(events[:1])
    assert (again.queued, again.duplicates) == (0, 1)
    due = queue.due()
    assert [e.message_id for e in due] == ["a", "b"]
    # A failed attempt waits base * 2^(n-1); the third is the last.
    assert queue.retry([due[0].seq], "LMS down", base_s=10, cap_s=60, max_attempts=3) == 0
    assert [e.message_id for e in queue.due()] == ["b"]
    assert queue.next_due() is not None
    assert queue.due(now=time.time() + 11)[0].attempts == 1
    assert queue.retry([due[0].seq], "LMS down", base_s=10, cap_s=60, max_attempts=3) == 0
    assert queue.retry([due[0].seq], "LMS down", base_s=10, cap_s=60, max_attempts=3) == 1
    assert queue.dead_letters() == [
        {"message_id": "a", "event": "course.enrollment.completed", "user_id": 7,
         "username": "jdoe", "course_id": 3, "attempts": 3, "error": "LMS down"}
    ]  # fmt: skip
    # A dead message delivered again is a duplicate, not a new event.
    assert queue.add(events[:1]).duplicates == 1
    queue.settle([due[1].seq], DONE, "1 applied")
    queue.close()

    # A restart reads the same file: counters, dead letters, nothing pending.
    reopened = EventQueue(path)
    health = reopened.health()
    assert health["queue_depth"] == 0 and health["dead_letters"] == 1
    assert health["last_success"] is not None
    assert health["counts"] == {
        "done": 1, "duplicates": 2, "ignored_events": 1, "received": 5, "retries": 3
    }  # fmt: skip
    assert reopened.prune(older_than_s=0) == 1
    assert reopened.add(events[1:]).queued == 1  # forgotten after the retention period


def test_a_pending_event_survives_a_restart(tmp_path: Path):
    queue = EventQueue(tmp_path / "q.db")
    queue.add(parse_delivery(_bytes(_envelope("p"))).events)
    queue.close()
    reopened = EventQueue(tmp_path / "q.db")
    [event] = reopened.due()
    assert event.message_id == "p"
    assert reopened.health()["oldest_event_age_s"] >= 0
    reopened.settle([event.seq], DROPPED, "not enrolled in any course a product names")
    assert reopened.health()["counts"]["dropped"] == 1


def test_basic_credentials_are_checked_whole():
    creds = BasicCredentials("hook", "pa:ss")

    def header(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert creds.accepts(header("hook:pa:ss"))
    assert creds.accepts("basic " + header("hook:pa:ss")[6:])
    for wrong in ("hook:pa", "hook:pa:ss ", "Hook:pa:ss", "hook", ":pa:ss", ""):
        assert not creds.accepts(header(wrong))
    assert not creds.accepts(None)
    assert not creds.accepts("Bearer x")
    assert not creds.accepts("Basic ***")
    assert "pa:ss" not in repr(creds)
