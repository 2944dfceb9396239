"""Instants and UTC days: the one place certops parses and writes them.

Everything certops keeps is an aware ``datetime`` in UTC; text without a zone is UTC (never
the machine's local zone). Written instants are ISO 8601 with a ``Z``. Two forms exist on
purpose: ``format_instant`` keeps microseconds when there are any (plans and audit lines
must give back exactly the instant they were made at), ``format_instant_seconds`` drops
them (what Docebo stores and shows is whole seconds, so values compared with the LMS are
written to the second). Deadlines are exclusive instants: a period due on 2026-12-31 ends
at ``2027-01-01T00:00:00Z`` (``end_of_day``), and ``due_day`` gives the date back.

Standard library only: the pure engine imports this module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

__all__ = [
    "UTC",
    "due_day",
    "end_of_day",
    "format_instant",
    "format_instant_seconds",
    "parse_instant",
    "start_of_day",
    "to_utc",
]


def to_utc(instant: datetime) -> datetime:
    """``instant`` in UTC; a naive one is taken to be UTC already (certops never builds
    naive instants, but a caller's mistake must not shift times by the local zone)."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """The aware UTC instant written as ISO 8601 (``Z``/``z`` or an offset; none: UTC).

    Microseconds are kept. Raises ``ValueError`` when ``text`` is not ISO 8601, and
    ``OverflowError`` when it is but falls outside the years 1-9999 once in UTC (e.g.
    ``0001-01-01T00:00:00+14:00``)."""
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(text))


def format_instant(instant: datetime) -> str:
    """``instant`` as ISO 8601 UTC with a ``Z`` suffix; microseconds only when non-zero."""
    return to_utc(instant).isoformat().replace("+00:00", "Z")


def format_instant_seconds(instant: datetime) -> str:
    """``instant`` as ISO 8601 UTC with a ``Z`` suffix, to the second (microseconds are
    dropped, not rounded: what the LMS stores)."""
    return to_utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_of_day(d: date) -> datetime:
    """The instant 00:00:00Z of calendar date ``d``."""
    return datetime.combine(d, time(0, 0), tzinfo=UTC)


def end_of_day(d: date) -> datetime:
    """The exclusive deadline instant for calendar date ``d``: ``d + 1 day, 00:00:00Z``."""
    return start_of_day(d) + timedelta(days=1)


def due_day(deadline: datetime) -> date:
    """The inclusive calendar date of an exclusive deadline instant (``end_of_day``'s
    inverse): ``2027-01-01T00:00:00Z`` is due ``2026-12-31``."""
    return (deadline - timedelta(days=1)).date()
