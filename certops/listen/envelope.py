"""What a Docebo webhook delivery holds, validated. Pure: bytes in, events or a reason out.

A delivery is one envelope ``{message_id, webhook_id, original_domain, event,
fired_by_batch_action, payload}`` or, when the webhook groups events (up to 25), several.
The field Docebo uses for a group is not in the public record, so all plausible shapes
are accepted: a top-level JSON array of envelopes, or an object whose ``payloads``,
``events`` or ``messages`` key holds the list.
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
GROUP_KEYS = ("payloads", "events", "messages")
MAX_GROUP = 100  # Docebo sends at most 25; a larger group is not a Docebo delivery
MAX_ID_LENGTH = 200


class DeliveryError(ValueError):
    """The body is not a webhook delivery; the message says why (sent back with a 400)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One enrollment event worth reconciling: who, which course, which message."""

    message_id: str
    event: str
    user_id: int
    username: str
    course_id: int
    envelope: str  # the envelope as received (JSON), kept for dead letters


@dataclass(frozen=True, slots=True)
class Delivery:
    """A parsed delivery: the events to queue and how many other events it carried."""

    events: tuple[Event, ...]
    ignored: int  # valid envelopes of events certops does not act on


def _positive_int(value: Any) -> int | None:
    # Docebo sends ids as numbers, sometimes as strings of digits.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if 0 < number < 2**63 else None
    return None


def _envelope(item: Any, where: str) -> Event | None:
    if not isinstance(item, dict):
        raise DeliveryError(f"{where}: expected an object (an event envelope)")
    message_id = item.get("message_id")
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        message_id = str(message_id)
    if not isinstance(message_id, str) or not message_id.strip():
        raise DeliveryError(f"{where}: message_id is missing (a non-empty string is required)")
    if len(message_id) > MAX_ID_LENGTH:
        raise DeliveryError(f"{where}: message_id is longer than {MAX_ID_LENGTH} characters")
    event = item.get("event")
    if not isinstance(event, str) or not event.strip():
        raise DeliveryError(f"{where}: event is missing (e.g. course.enrollment.completed)")
    payload = item.get("payload")
    if not isinstance(payload, dict):
        raise DeliveryError(f"{where}: payload is missing (an object is required)")
    if event not in ENROLLMENT_EVENTS:
        return None
    user_id = _positive_int(payload.get("user_id"))
    course_id = _positive_int(payload.get("course_id"))
    if user_id is None:
        raise DeliveryError(f"{where}: payload.user_id must be a positive integer")
    if course_id is None:
        raise DeliveryError(f"{where}: payload.course_id must be a positive integer")
    username = payload.get("username")
    if username is not None and not isinstance(username, str):
        raise DeliveryError(f"{where}: payload.username must be a string")
    return Event(
        message_id=message_id.strip(),
        event=event,
        user_id=user_id,
        username=(username or "").strip(),
        course_id=course_id,
        envelope=json.dumps(item, sort_keys=True, ensure_ascii=False),
    )


def parse_delivery(body: bytes) -> Delivery:
    """The events of one delivery; raises ``DeliveryError`` naming the first problem.

    A delivery is all or nothing: one bad envelope rejects the whole body, so nothing of
    it is queued and Docebo's retry sends it again whole."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"the body is not JSON: {exc}") from None
    if isinstance(data, list):
        items, prefix = data, "[{}]"
    elif isinstance(data, dict) and "message_id" not in data:
        key = next((k for k in GROUP_KEYS if isinstance(data.get(k), list)), None)
        if key is None:
            raise DeliveryError(
                "message_id is missing: expected an event envelope, or a group of them "
                f"(a JSON array, or a list under {', '.join(GROUP_KEYS)})"
            )
        items, prefix = data[key], key + "[{}]"
    elif isinstance(data, dict):
        items, prefix = [data], "envelope"
    else:
        raise DeliveryError("expected a JSON object (an event envelope) or an array of them")
    if not items:
        raise DeliveryError("the delivery holds no event")
    if len(items) > MAX_GROUP:
        raise DeliveryError(f"{len(items)} events in one delivery; at most {MAX_GROUP}")
    events, ignored = [], 0
    for index, item in enumerate(items):
        parsed = _envelope(item, prefix.format(index))
        if parsed is None:
            ignored += 1
        else:
            events.append(parsed)
    return Delivery(tuple(events), ignored)
