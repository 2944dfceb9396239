"""``certops extend``, ``reinstate`` and ``revoke``: the entry lands in the product's file
with every comment kept, the next plan shows exactly the intended change, and a missing
reason, an unknown learner or a bad date changes nothing."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import WIDGET, Workspace

# The workspace's widget product, commented as people comment their files.
COMMENTED = "# Widget certification: owned by the training team.\n" + WIDGET.replace(
    "    maintenance:\n",
    "    # Yearly maintenance, reviewed every autumn.\n    maintenance:\n",
).replace(
    "          due: 2026-12-31\n",
    "          due: 2026-12-31               # inclusive, UTC\n",
)


def _commented(ws: Workspace) -> Path:
    path = ws.conf / "widget.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    return path


def _changes(ws: Workspace) -> dict[str, dict]:
    ran = ws.run("plan", "conf", "--format", "json")
    assert ran.code == 0, ran.output
    return {c["address"]: c for c in ran.json()["changes"] if c["action"] != "manual"}


def _comments(text: str) -> list[str]:
    return [line[line.index("#") :] for line in text.splitlines() if "#" in line]


def test_extend_by_email_keeps_every_comment_and_plans_exactly_the_extension(
    ws: Workspace,
) -> None:
    path = _commented(ws)
    before = _changes(ws)
    ran = ws.run(
        "extend", "bob@example.com", "--product", "widget", "--until", "2027-01-31",
        "--reason", "parental leave", "--config", "conf",
    )  # fmt: skip
    assert ran.code == 0, ran.output
    text = path.read_text(encoding="utf-8")
    assert _comments(text) == _comments(COMMENTED)
    # The learner is written by username; the rest of the file is as it was.
    added = '      - {user: bob, period: "2026", until: 2027-01-31, reason: "parental leave"}'
    assert added in text.splitlines()
    assert [line for line in text.splitlines() if line not in COMMENTED.splitlines()] == [
        "    extensions:",
        added,
    ]
    assert "conf/widget.yaml: added: extension of bob: period 2026 until 2027-01-31" in ran.stdout
    assert "valid_until" in ran.stdout and "[config]" in ran.stdout
    after = _changes(ws)
    differ = sorted(a for a in set(before) | set(after) if before.get(a) != after.get(a))
    assert differ == ["enrollment.MOC-W-2026.bob"]
    assert before[differ[0]]["after"]["valid_until"] == "2027-01-01T00:00:00Z"
    assert after[differ[0]]["after"]["valid_until"] == "2027-02-01T00:00:00Z"
    # Asked again with a later date: the entry is updated in place, never duplicated.
    again = ws.run(
        "extend", "bob", "--product", "widget", "--until", "2027-02-28",
        "--reason", "longer leave", "--config", "conf",
    )  # fmt: skip
    assert again.code == 0, again.output
    assert "updated: extension of bob" in again.stdout
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if "user: bob" in line] == [
        '      - {user: bob, period: "2026", until: 2027-02-28, reason: "longer leave"}'
    ]


def test_a_missing_or_blank_reason_is_refused_and_nothing_is_written(ws: Workspace) -> None:
    path = _commented(ws)
    for reason in ((), ("--reason", "   ")):
        ran = ws.run(
            "extend", "bob", "--product", "widget", "--until", "2027-01-31", *reason,
            "--config", "conf",
        )  # fmt: skip
        assert ran.code == 1
        assert "reason" in ran.stderr
        assert path.read_text(encoding="utf-8") == COMMENTED


def test_revoke_and_reinstate_plan_the_status_they_mean(ws: Workspace) -> None:
    _commented(ws)
    ran = ws.run(
        "revoke", "alice", "--product", "widget", "--from", "2026-05-01",
        "--reason", "misconduct", "--config", "conf",
    )  # fmt: skip
    assert ran.code == 0, ran.output
    assert '{user: alice, at: "2026-05-01T00:00:00Z", reason: "misconduct"}' in (
        ws.conf / "widget.yaml"
    ).read_text(encoding="utf-8")
    cert = _changes(ws)["enrollment.CERT-W.alice"]
    assert (cert["after"]["status"], cert["reason"]) == ("suspended", "revoked: misconduct")
    back = ws.run(
        "reinstate", "alice@example.com", "--product", "widget", "--from", "2026-05-20",
        "--reason", "appeal upheld", "--config", "conf",
    )  # fmt: skip
    assert back.code == 0, back.output
    cert = _changes(ws)["enrollment.CERT-W.alice"]
    assert (cert["after"]["status"], cert["reason"]) == ("completed", "reinstated: appeal upheld")


def test_many_learners_from_a_csv_file(ws: Workspace) -> None:
    _commented(ws)
    (ws.root / "leave.csv").write_text(
        "# learners on leave this winter\nuser,until,reason\n"
        'bob,2027-01-31,parental leave\nerin@example.com,2027-02-15,"sick leave, long"\n',
        encoding="utf-8",
    )
    ran = ws.run("extend", "--users", "leave.csv", "--product", "widget", "--config", "conf")
    assert ran.code == 0, ran.output
    text = (ws.conf / "widget.yaml").read_text(encoding="utf-8")
    assert '- {user: bob, period: "2026", until: 2027-01-31, reason: "parental leave"}' in text
    assert '- {user: erin, period: "2026", until: 2027-02-15, reason: "sick leave, long"}' in text
    after = _changes(ws)
    assert after["enrollment.MOC-W-2026.erin"]["after"]["valid_until"] == "2027-02-16T00:00:00Z"


def test_every_problem_is_located_and_nothing_is_written(ws: Workspace) -> None:
    path = _commented(ws)
    (ws.root / "leave.csv").write_text(
        "user,until,reason\nbbo,2027-01-31,leave\nerin,2027-13-01,leave\ncarol,2027-01-31,\n",
        encoding="utf-8",
    )
    ran = ws.run(
        "extend", "alice", "--users", "leave.csv", "--product", "widget", "--until", "2026-11-30",
        "--reason", "x", "--config", "conf",
    )  # fmt: skip
    assert ran.code == 1
    lines = ran.stderr.splitlines()
    assert (
        "USER 'alice': until 2026-11-30 is before period '2026' is due (2026-12-31); "
        "an extension can only move a deadline later" in lines
    )
    assert (
        "leave.csv:2:1: no user 'bbo' in the LMS (looked up by username and e-mail) "
        "(did you mean 'bob'?)" in lines
    )
    assert "leave.csv:3:6: until '2027-13-01' is not a date; expected YYYY-MM-DD" in lines
    # carol's row has no reason of its own, so --reason gives it one: no problem there.
    assert not any("carol" in line for line in lines)
    assert lines[-1] == "Error: 3 problems; nothing was written."
    assert path.read_text(encoding="utf-8") == COMMENTED


def test_an_exception_that_changes_nothing_says_so(ws: Workspace) -> None:
    _commented(ws)
    # carol never completed W-101: nothing to extend.
    ran = ws.run(
        "extend", "carol", "--product", "widget", "--until", "2027-01-31",
        "--reason", "leave", "--config", "conf",
    )  # fmt: skip
    assert ran.code == 0, ran.output
    assert (
        "extension of carol changes nothing: the learner has not completed an initial path "
        "of Widget" in ran.stdout
    )


def test_a_product_must_be_named_when_there_are_several(ws: Workspace) -> None:
    ran = ws.run("revoke", "bob", "--reason", "misconduct", "--config", "conf")
    assert ran.code == 1
    assert "name the product with --product ID (configured: " in ran.stderr
    assert ran.stdout == ""


def test_a_csv_header_with_an_unknown_column_is_located(ws: Workspace) -> None:
    path = _commented(ws)
    (ws.root / "leave.csv").write_text("user,until,why\nbob,2027-01-31,leave\n")
    ran = ws.run("extend", "--users", "leave.csv", "--product", "widget", "--config", "conf")
    assert ran.code == 1
    assert (
        "leave.csv:1:12: unknown column 'why'; expected user, period, until, from, reason"
        in ran.stderr
    )
    assert path.read_text(encoding="utf-8") == COMMENTED
