"""A learner may be named by e-mail address wherever one is named: in the configuration's
exceptions (plan, apply, status, report, validate --lms), on the command line (status,
report --user, history); and an exception that cannot change anything is a warning."""

from __future__ import annotations

from tests.cli.conftest import WIDGET, Workspace

REVOKE_BOB = (
    "    revocations:\n"
    '      - {user: BOB@Example.com, at: 2026-05-01T00:00:00Z, reason: "misconduct"}\n'
)


def _widget(ws: Workspace, extra: str) -> None:
    text = WIDGET.replace("settings:", extra + "settings:")
    (ws.conf / "widget.yaml").write_text(text, encoding="utf-8")


def test_an_exception_naming_an_email_applies_to_its_user(ws: Workspace) -> None:
    _widget(ws, REVOKE_BOB)
    plan = ws.run("plan", "conf", "--format", "json")
    assert plan.code == 0, plan.output
    bob = [c for c in plan.json()["changes"] if c["address"] == "enrollment.CERT-W.bob"]
    assert [(c["action"], c["after"]["status"], c["reason"]) for c in bob] == [
        ("create", "suspended", "revoked: misconduct")
    ]
    assert ws.run("apply", "conf", "--yes").code == 0
    status = ws.run("status", "bob@example.com", "--config", "conf", "--format", "json")
    assert status.code == 0, status.output
    assert status.json()["products"]["widget"]["state"] == "revoked"
    report = ws.run("report", "conf", "--user", "BOB@EXAMPLE.COM", "--format", "json")
    [row] = [r for r in report.json()["rows"] if r["product"] == "widget"]
    assert (row["username"], row["state"], row["last_change_reason"]) == (
        "bob",
        "revoked",
        "revoked: misconduct",
    )
    checked = ws.run("validate", "conf", "--lms", ws.lms)
    assert checked.code == 0, checked.output
    # certops wrote to bob's enrollment: history finds it by e-mail too.
    history = ws.run("history", "bob@example.com", "--config", "conf")
    assert history.code == 0, history.output
    assert "widget: created CERT-W enrollment" in history.stdout
    assert "why: revoked: misconduct" in history.stdout


def test_an_email_nobody_has_is_a_located_error(ws: Workspace) -> None:
    _widget(ws, REVOKE_BOB.replace("BOB@Example.com", "bobby@example.com"))
    ran = ws.run("plan", "conf")
    assert ran.code == 1
    assert (
        "conf/widget.yaml:21:16: revocation names user 'bobby@example.com', who is not in "
        "the LMS" in ran.stderr
    )


def test_an_exception_that_changes_nothing_is_a_warning(ws: Workspace) -> None:
    # carol never completed W-101; alice was certified throughout, so reinstating her
    # on 2026-04-01 changes nothing.
    extra = (
        "    extensions:\n"
        '      - {user: carol, period: "2026", until: 2027-01-31, reason: "leave"}\n'
        "    reinstatements:\n"
        '      - {user: alice@example.com, at: 2026-04-01T00:00:00Z, reason: "fee paid"}\n'
    )
    _widget(ws, extra)
    ran = ws.run("plan", "conf", "--format", "json")
    assert ran.code == 0, ran.output
    messages = [w["message"] for w in ran.json()["warnings"]]
    assert (
        "conf/widget.yaml:21:16: extension of carol changes nothing: the learner has not "
        "completed an initial path of Widget" in messages
    )
    assert (
        "conf/widget.yaml:23:16: reinstatement of alice changes nothing: the learner was "
        "neither suspended nor revoked when it applies" in messages
    )
    text = ws.run("plan", "conf")
    assert "reinstatement of alice changes nothing" in text.stdout
