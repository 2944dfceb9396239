"""Initial paths guessed from completions when no group holds them."""

from __future__ import annotations

from certops.adopt.paths import guess_paths


def test_two_course_path_and_single_exam_path() -> None:
    completed: dict[str, set[str]] = {}
    certified: set[str] = set()
    for n in range(20):  # both courses of the classic path
        completed[f"c{n}"] = {"A-101", "A-102"}
        certified.add(f"c{n}")
    for n in range(8):  # the exam alone
        completed[f"e{n}"] = {"A-EXAM"}
        certified.add(f"e{n}")
    for n in range(9):  # started the classic path, not certified
        completed[f"p{n}"] = {"A-101"}
    assert guess_paths(["A-101", "A-102", "A-EXAM"], completed, certified) == (
        ("A-101", "A-102"),
        ("A-EXAM",),
    )


def test_no_path_without_enough_evidence() -> None:
    completed = {"u1": {"A-101"}, "u2": {"A-101"}}
    assert guess_paths(["A-101"], completed, {"u1", "u2"}) == ()
    many = {f"u{n}": {"A-101"} for n in range(10)}
    assert guess_paths(["A-101"], many, {"u1"}) == ()  # completers rarely certified
