"""``certops status`` for several users, and as CSV through the report's row code."""

from __future__ import annotations

import json
from pathlib import Path

from tests.report.conftest import Demo

AT = ("--at", "2027-01-02")


def test_status_csv_of_several_users_is_the_reports_rows(demo: Demo) -> None:
    status = demo.run("status", "jdoe", "asmith", "--config", demo.examples, "--format", "csv", *AT)
    assert status.code == 0, status.output
    report = demo.run(
        "report", demo.examples, "--format", "csv", "--user", "jdoe", "--user", "asmith", *AT
    )
    assert report.code == 0, report.output
    lines, expected = status.stdout.splitlines(), report.stdout.splitlines()
    assert lines[0] == expected[0]
    assert sorted(lines[1:]) == sorted(expected[1:]) and len(lines) == 7
    # In the order asked: each user's products together.
    assert [line.split(",")[0] for line in lines[1:]] == ["jdoe"] * 3 + ["asmith"] * 3


def test_status_reads_users_from_a_file(demo: Demo, tmp_path: Path) -> None:
    listed = tmp_path / "users.txt"
    listed.write_text("# the named users\njdoe\n\n  bcole@example.com  # by e-mail\njdoe\n")
    ran = demo.run(
        "status", "asmith", "--users", str(listed), "--config", demo.examples,
        "--format", "json", *AT,
    )  # fmt: skip
    assert ran.code == 0, ran.output
    docs = json.loads(ran.stdout)
    assert [d["user"] for d in docs] == ["asmith", "jdoe", "bcole"]
    assert docs[2]["products"]["gadget-max"]["state"] == "revoked"
    assert all(d["at"] == "2027-01-02T00:00:00Z" for d in docs)


def test_status_text_of_several_users_and_errors(demo: Demo, tmp_path: Path) -> None:
    ran = demo.run("status", "jdoe", "asmith", "--config", demo.examples, *AT)
    assert ran.code == 0, ran.output
    blocks = ran.stdout.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [
        "jdoe at 2027-01-02T00:00:00Z",
        "asmith at 2027-01-02T00:00:00Z",
    ]
    assert "owes period 2026, due 2027-01-31 (UTC), extended (parental leave)" in blocks[0]
    one = demo.run("status", "jdoe", "--config", demo.examples, "--format", "json", *AT)
    assert json.loads(one.stdout)["user"] == "jdoe"  # one user: the document, not a list

    missing = demo.run("status", "jdoe", "ghost", "nobody@x", "--config", demo.examples)
    assert missing.code == 1 and missing.stdout == ""
    assert "no user 'ghost', 'nobody@x' in the LMS" in missing.stderr
    none = demo.run("status", "--config", demo.examples)
    assert none.code == 1 and "name at least one USER" in none.stderr
    unreadable = demo.run("status", "--users", str(tmp_path / "nope.txt"))
    assert unreadable.code == 1 and "cannot read" in unreadable.stderr
