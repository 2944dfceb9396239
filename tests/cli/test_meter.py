"""The progress of a long run: a display on a terminal, plain lines in CI, nothing on a
short run."""

from __future__ import annotations

import io

import pytest

from certops.cli.meter import Meter, interactive


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_at_most_every_interval_with_the_time_left(capsys):
    clock = Clock()
    with Meter(io.StringIO(), live=False, interval=10, clock=clock) as meter:
        for _ in range(5):
            meter.call("GET /learn/v1/courses")
        meter.call("POST /oauth2/token")  # not a read
        assert capsys.readouterr().err == ""  # a short run prints nothing
        clock.now = 10.0
        meter.call("GET /manage/v1/user")
        assert capsys.readouterr().err == "certops: progress: 6 API reads\n"
        meter.writing(400)
        clock.now = 15.0
        meter.settled(100)  # 100 in 5 s: 300 more need about 15 s
        assert capsys.readouterr().err == ""  # within the interval
        clock.now = 20.0
        meter.settled(100)  # 200 in 10 s: 200 more need about 10 s
    assert capsys.readouterr().err == (
        "certops: progress: 6 API reads; 200 of 400 changes written, about 10 s left\n"
    )


def test_on_a_terminal_a_display_and_messages_above_it():
    screen = Terminal()
    with Meter(screen, live=True) as meter:
        meter.call("GET /learn/v1/courses")
        meter("reading enrollments")
        meter.writing(3)
        meter.settled(1)
    shown = screen.getvalue()
    assert "reading enrollments" in shown
    assert "writing changes" in shown or "reading the LMS" in shown


@pytest.mark.parametrize(
    ("env", "no_color", "expected"),
    [({}, False, True), ({"CI": "true"}, False, False), ({"NO_COLOR": "1"}, False, False),
     ({}, True, False)],
)  # fmt: skip
def test_a_display_only_for_a_person_at_a_terminal(monkeypatch, env, no_color, expected):
    for name in ("CI", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert interactive(Terminal(), no_color) is expected
    assert interactive(io.StringIO(), no_color) is False
