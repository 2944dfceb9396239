"""Parsing and formatting of the scalar values the sandbox accepts and returns.

Docebo's dates are ``YYYY-MM-DD HH:MM:SS`` strings in UTC, with zero dates meaning "none";
the sandbox stores them in exactly that form, so stored values sort as text and go out
unchanged. Parsers raise ``ValueError`` with a message that says what is expected; the
callers turn it into a 400 naming the field, a row error, or a located dataset problem.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"
ZERO_DATE = "0000-00-00"
ZERO_DATETIME = "0000-00-00 00:00:00"
_ZEROS = {"", ZERO_DATE, ZERO_DATETIME}

DATETIME_EXPECTED = "a date 'YYYY-MM-DD' or date-time 'YYYY-MM-DD HH:MM:SS' (UTC)"


def to_wire(moment: datetime) -> str:
    """Returns ``moment`` as a Docebo date-time string in UTC."""
    return moment.astimezone(UTC).strftime(WIRE_FORMAT)


def from_wire(text: str) -> datetime:
    """Returns the aware UTC instant of a stored ``YYYY-MM-DD HH:MM:SS`` string."""
    return datetime.strptime(text, WIRE_FORMAT).replace(tzinfo=UTC)


def parse_datetime(value: object, *, end_of_day: bool = False) -> str | None:
    """Returns ``value`` normalised to ``YYYY-MM-DD HH:MM:SS`` UTC, or None for "none".

    Accepts Docebo's form, ISO 8601 (``T`` separator, ``Z`` or an offset) and a bare date,
    which means 00:00:00, or 23:59:59 with ``end_of_day`` (how validity ends are written).
    ``None``, ``""`` and zero dates mean none.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return to_wire(moment)
    if isinstance(value, date):
        return _date_only(value, end_of_day)
    if not isinstance(value, str):
        raise ValueError(f"expected {DATETIME_EXPECTED}, got {value!r}")
    text = value.strip()
    if text in _ZEROS:
        return None
    if len(text) == 10:
        try:
            return _date_only(date.fromisoformat(text), end_of_day)
        except ValueError:
            raise ValueError(f"expected {DATETIME_EXPECTED}, got {value!r}") from None
    if len(text) in (19, 20) and text[10] in "T " and (len(text) == 19 or text[19] in "Zz"):
        # Fast path for the common UTC forms (large datasets): validate, then reformat.
        try:
            datetime.fromisoformat(text[:19])
        except ValueError:
            raise ValueError(f"expected {DATETIME_EXPECTED}, got {value!r}") from None
        return f"{text[:10]} {text[11:19]}"
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"expected {DATETIME_EXPECTED}, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_wire(moment)


def _date_only(day: date, end_of_day: bool) -> str:
    clock = "23:59:59" if end_of_day else "00:00:00"
    return f"{day.isoformat()} {clock}"


def parse_instant(value: object) -> datetime:
    """Returns an aware UTC instant from ISO 8601 text (a bare date is 00:00:00Z)."""
    wire = parse_datetime(value)
    if wire is None:
        raise ValueError(
            f"expected an ISO 8601 instant such as 2026-11-01T09:00:00Z, got {value!r}"
        )
    return from_wire(wire)


def show_datetime(stored: str | None, *, zero: bool) -> str | None:
    """Returns a stored date-time for output: as is, or for "none" a zero date or null."""
    if stored:
        return stored
    return ZERO_DATETIME if zero else None


def show_date(stored: str | None) -> str:
    """Returns the date part of a stored date-time, or Docebo's zero date."""
    return stored[:10] if stored else ZERO_DATE


def show_epoch_ms(stored: str | None) -> str | None:
    """Returns a stored date-time as a string of epoch milliseconds (UTC), or null."""
    if not stored:
        return None
    instant = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return str(int(instant.timestamp()) * 1000)


def iso_instant(stored: str | None) -> str | None:
    """Returns a stored date-time as ISO 8601 UTC (``...Z``), for the ``/_sandbox/`` API."""
    return stored.replace(" ", "T") + "Z" if stored else None


def parse_bool(value: object) -> bool:
    """Returns the boolean meant by true/false, 1/0, "1"/"0", "true"/"false", yes/no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise ValueError(f"expected true or false (or 1/0), got {value!r}")


_BOOL_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


MAX_ID = 2**63 - 1  # SQLite's INTEGER range


def parse_int(value: object) -> int:
    """Returns an integer given as a number or a decimal string (Docebo sends both)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    if number is None:
        raise ValueError(f"expected an integer, got {value!r}")
    if abs(number) > MAX_ID:
        raise ValueError(f"{number} is out of range")
    return number


def like_pattern(text: str) -> str:
    """Returns a SQL ``LIKE ... ESCAPE '\\'`` pattern matching ``text`` as a substring."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def parse_choice(value: object, choices: dict[str, int] | tuple[str, ...]) -> object:
    """Returns ``value`` if it is one of ``choices`` (mapped through them if a dict)."""
    key = value.strip().lower() if isinstance(value, str) else value
    # A list or an object is never a choice (and cannot even be looked up in a dict).
    if isinstance(key, str | int | float | bool | None) and key in choices:
        if isinstance(choices, dict):
            # A dict's keys are all strings, so only a string can be one of them.
            assert isinstance(key, str)
            return choices[key]
        return key
    names = ", ".join(str(c) for c in choices)
    raise ValueError(f"expected one of {names}, got {value!r}")


def plus_seconds(moment: datetime, seconds: float) -> datetime:
    """Returns ``moment`` shifted by ``seconds``."""
    return moment + timedelta(seconds=seconds)
