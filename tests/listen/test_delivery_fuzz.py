"""Any body a webhook can be sent is either a delivery the queue stores or a
``DeliveryError`` (``listen`` answers 400): never another exception (a 500). Checked
on arbitrary bytes, arbitrary JSON and envelopes with arbitrary field values, each run
through the parser and, when it parses, into a real queue file."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certops.listen.envelope import DeliveryError, parse_delivery
from certops.listen.queue import EventQueue

# Text with anything in it: controls, line terminators, lone surrogates (JSON can escape
# half a UTF-16 pair), bidi controls.
ANY_TEXT = st.text(st.characters(codec=None), max_size=12) | st.sampled_from(
    ["\ud800", "a\udfffb", "\u2028", "\x00", "\u202e", " ", ""]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | ANY_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
EVENTS = (
    st.sampled_from(
        ["course.enrollment.completed", "course.enrollment.updated", "user.created", ""]
    )
    | ANY_TEXT
)
IDS = st.integers(min_value=-2, max_value=2**64) | ANY_TEXT | st.sampled_from(["7", " 8 ", "٣"])
PAYLOAD = st.fixed_dictionaries(
    {"user_id": IDS, "course_id": IDS},
    optional={"username": JSON, "status": JSON, "extra": JSON},
)
ENVELOPE = st.fixed_dictionaries(
    {"message_id": st.integers() | ANY_TEXT | JSON, "event": EVENTS},
    optional={"payload": PAYLOAD | JSON, "payloads": st.lists(PAYLOAD | JSON, max_size=3) | JSON},
)


@pytest.fixture(scope="module")
def queue() -> Iterator[EventQueue]:
    with tempfile.TemporaryDirectory() as folder:
        q = EventQueue(Path(folder) / "queue.db")
        yield q
        q.close()


def _answered(queue: EventQueue, body: bytes) -> None:
    """What ``POST /webhook`` does with a body after its checks of size and credentials."""
    try:
        delivery = parse_delivery(body)
    except DeliveryError as exc:
        assert str(exc)  # the 400 says why
        return
    queue.add(delivery.events, delivery.ignored)


def _encoded(value: Any) -> bytes:
    # json.dumps escapes a lone surrogate (ensure_ascii), as a sender's JSON library would.
    return json.dumps(value, allow_nan=True).encode()


QUICK = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@QUICK
@given(body=st.binary(max_size=200))
def test_any_bytes(queue: EventQueue, body: bytes) -> None:
    _answered(queue, body)


@QUICK
@given(value=JSON)
def test_any_json(queue: EventQueue, value: Any) -> None:
    _answered(queue, _encoded(value))


@QUICK
@given(value=ENVELOPE)
def test_any_envelope(queue: EventQueue, value: dict[str, Any]) -> None:
    _answered(queue, _encoded(value))


@pytest.mark.parametrize(
    "body",
    [
        b'{"message_id": "a\\ud800", "event": "course.enrollment.completed",'
        b' "payload": {"user_id": 1, "course_id": 2}}',
        b'{"message_id": "b", "event": "course.enrollment.completed",'
        b' "payload": {"user_id": 1, "course_id": 2, "username": "x\\udfff"}}',
        b'{"message_id": "c", "event": "course.enrollment.completed",'
        b' "payload": {"user_id": 1, "course_id": 2, "note": "\\ud800"}}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"message_id": "d", "event": "course.enrollment.completed",'
        b' "payload": {"user_id": 9223372036854775808, "course_id": 2}}',
        b'{"message_id": "e", "event": "course.enrollment.completed",'
        b' "payload": {"user_id": 1e400, "course_id": NaN}}',
        b'{"message_id": "f", "event": "course.enrollment.completed",'
        b' "payload": {"user_id": ' + b"9" * 5000 + b', "course_id": 2}}',
    ],
    ids=[
        "surrogate-id",
        "surrogate-username",
        "surrogate-field",
        "deep",
        "id-2^63",
        "inf-nan",
        "5000-digits",
    ],
)
def test_known_hostile_bodies_are_refused_as_bad_deliveries(body: bytes) -> None:
    with pytest.raises(DeliveryError):
        parse_delivery(body)
