"""The date and scalar parsing every sandbox write goes through."""

from __future__ import annotations

import pytest

from certops.sandbox.values import parse_bool, parse_choice, parse_datetime, parse_int


@pytest.mark.parametrize(
    ("given", "end_of_day", "expected"),
    [
        ("2025-01-10T09:00:00Z", False, "2025-01-10 09:00:00"),
        ("2025-01-10 09:00:00", False, "2025-01-10 09:00:00"),
        ("2025-01-10T09:00:00+02:00", False, "2025-01-10 07:00:00"),
        ("2025-01-10T09:00:00.750Z", False, "2025-01-10 09:00:00"),
        ("2025-01-10", False, "2025-01-10 00:00:00"),
        ("2025-01-10", True, "2025-01-10 23:59:59"),
        ("0000-00-00", False, None),
        ("0000-00-00 00:00:00", True, None),
        ("", False, None),
        (None, False, None),
    ],
)
def test_parse_datetime(given, end_of_day, expected):
    assert parse_datetime(given, end_of_day=end_of_day) == expected


@pytest.mark.parametrize("given", ["2025-13-10T09:00:00Z", "2025-02-30", "tomorrow", 20250101])
def test_parse_datetime_rejects_with_the_expected_form(given):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_datetime(given)


def test_parse_int_and_bool():
    assert parse_int("42") == 42 and parse_int(7.0) == 7 and parse_int(-3) == -3
    for bad in ("4.5", True, None, "9" * 25):
        with pytest.raises(ValueError):
            parse_int(bad)
    assert parse_bool("1") is True and parse_bool("false") is False and parse_bool(0) is False
    with pytest.raises(ValueError, match="true or false"):
        parse_bool("maybe")


def test_a_list_or_an_object_is_no_choice():
    for value in ([], ["elearning"], {"a": 1}):
        with pytest.raises(ValueError, match="expected one of"):
            parse_choice(value, ("elearning", "classroom"))
        with pytest.raises(ValueError, match="expected one of"):
            parse_choice(value, {"published": 2})
