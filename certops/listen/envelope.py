"""What a Docebo webhook delivery holds, validated. Pure: bytes in, events or a reason out.

A delivery is one envelope ``{message_id, webhook_id, original_domain, event,
fired_by_batch_action, payload}``, or, when the webhook groups events (up to 25 of one
kind), one envelope whose ``payloads`` holds the payload objects under a single
``message_id`` and ``event`` (docs/wire.md). Each event of a group gets its own key,
``MESSAGE_ID#N`` (N its position, from 0): a redelivered group is recognised event by
event, and every event of a first delivery is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# The events that can change a learner's certification; every other event is
# acknowledged and counted, never queued.
ENROLLMENT_EVENTS = frozenset(
    {"course.enrollment.created", "course.enrollment.updated", "course.enrollment.completed"}
)
MAX_GROUP = 100  # Docebo sends at most 25; a larger group is not a Docebo delivery
MAX_ID_LENGTH = 200


class DeliveryError(ValueError):
    """The body is not a webhook delivery; the message says why (sent back with a 400)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One enrollment event worth reconciling: who, which course, which message."""

    message_id: str  # the delivery's message_id, with ``#N`` for the Nth of a group
    event: str
    user_id: int
    username: str
    course_id: int
    envelope: str  # the event's envelope as received (JSON, one payload), for dead letters


@dataclass(frozen=True, slots=True)
class Delivery:
    """A parsed delivery: the events to queue and how many other events it carried."""

    events: tuple[Event, ...]
    ignored: int  # valid envelopes of events certops does not act on


def _positive_int(value: Any) -> int | None:
    # Docebo sends ids as numbers, sometimes as strings of digits.
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None  # what the queue can store
    return None


def _message_id(data: dict[str, Any]) -> str:
    message_id = data.get("message_id")
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        message_id = str(message_id)
    if not isinstance(message_id, str) or not message_id.strip():
        raise DeliveryError("message_id is missing (a non-empty string is required)")
    if len(message_id) > MAX_ID_LENGTH:
        raise DeliveryError(f"message_id is longer than {MAX_ID_LENGTH} characters")
    return message_id.strip()


def _event(key: str, event: str, head: dict[str, Any], payload: Any, where: str) -> Event | None:
    """The event of one payload, or None for an event certops does not act on."""
    if not isinstance(payload, dict):
        raise DeliveryError(f"{where} is missing (an object is required)")
    if event not in ENROLLMENT_EVENTS:
        return None
    user_id = _positive_int(payload.get("user_id"))
    course_id = _positive_int(payload.get("course_id"))
    if user_id is None:
        raise DeliveryError(f"{where}.user_id must be a positive integer")
    if course_id is None:
        raise DeliveryError(f"{where}.course_id must be a positive integer")
    username = payload.get("username")
    if username is not None and not isinstance(username, str):
        raise DeliveryError(f"{where}.username must be a string")
    return Event(
        message_id=key,
        event=event,
        user_id=user_id,
        username=(username or "").strip(),
        course_id=course_id,
        envelope=json.dumps({**head, "payload": payload}, sort_keys=True, ensure_ascii=False),
    )


def parse_delivery(body: bytes) -> Delivery:
    """The events of one delivery; raises ``DeliveryError`` naming the first problem.

    A delivery is all or nothing: one bad payload rejects the whole body, so nothing of
    it is queued and Docebo's retry sends it again whole."""
    try:
        data = json.loads(body)
        # JSON may escape half a UTF-16 pair ("\ud800"), which is no text: nothing could
        # store or show it.
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise DeliveryError(
            "the body holds an unpaired surrogate escape (\\uD800-\\uDFFF alone), which is not text"
        ) from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DeliveryError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DeliveryError(
            "expected a JSON object: an event envelope {message_id, event, payload} or a "
            "grouped one {message_id, event, payloads: [...]}"
        )
    message_id = _message_id(data)
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        raise DeliveryError("event is missing (e.g. course.enrollment.completed)")
    head = {k: v for k, v in data.items() if k not in ("payload", "payloads")}
    if "payloads" in data:
        payloads = data["payloads"]
        if not isinstance(payloads, list):
            raise DeliveryError("payloads must be a list of payload objects")
        if not payloads:
            raise DeliveryError("the delivery holds no event (payloads is empty)")
        if len(payloads) > MAX_GROUP:
            raise DeliveryError(f"{len(payloads)} events in one delivery; at most {MAX_GROUP}")
        parsed = [
            _event(f"{message_id}#{i}", event, {**head, "message_id": f"{message_id}#{i}"},
                   payload, f"payloads[{i}]")
            for i, payload in enumerate(payloads)
        ]  # fmt: skip
    else:
        parsed = [_event(message_id, event, head, data.get("payload"), "payload")]
    events = tuple(e for e in parsed if e is not None)
    return Delivery(events, len(parsed) - len(events))
