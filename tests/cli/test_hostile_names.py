"""Tenant text cannot be turned against the person reading certops' output: a username
that looks like a formula stays text in a spreadsheet, one that holds Markdown stays
literal in a pull-request comment, one that holds escape sequences never reaches the
terminal as such."""

from __future__ import annotations

import csv
import io
from typing import Any

from certops.escape import csv_text, markdown_code, markdown_text, visible
from certops.plan.markdown import render_markdown
from certops.plan.model import Plan
from certops.plan.render import render_text
from tests.changes import enrollment_create
from tests.cli.conftest import AT, Workspace
from tests.plan.plan_samples import AT as PLAN_AT

FORMULAS = ['=HYPERLINK("http://evil.example")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]
MARKUP = [
    "eve\n# Heading",
    "[click](http://evil.example)",
    "<img src=x onerror=alert(1)>",
    "**bold**|cell",
    "@octocat",
    "`tick`",
]
ESCAPES = ["mal\x1b[2J\x1b[31mlory", "bidi\u202eevil", "nul\x00x"]


def _users(names: list[str]) -> list[dict[str, Any]]:
    return [{"username": n, "email": f"u{i}@example.com"} for i, n in enumerate(names)]


def _completions(names: list[str]) -> list[dict[str, Any]]:
    return [
        {"user": n, "course": "W-101", "status": "completed",
         "enrolled_at": "2025-03-01T09:00:00Z", "completed_at": "2025-03-01T12:00:00Z"}
        for n in names
    ]  # fmt: skip


def test_csv_cells_that_look_like_formulas_stay_text(ws: Workspace) -> None:
    names = [n for n in FORMULAS if not n[0].isspace()]
    ws.load({"users": _users(names), "enrollments": _completions(names)})
    for args in (("report", "conf", "--format", "csv"),
                 ("status", "--config", "conf", "--format", "csv", "--", *names)):  # fmt: skip
        ran = ws.run(*args)
        assert ran.code == 0, ran.output
        rows = list(csv.DictReader(io.StringIO(ran.stdout)))
        users = {row["username"] for row in rows}
        for name in names:
            assert "'" + name in users, (args[0], name, users)
        # No cell of the output starts a formula.
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "@")), (args[0], value)
    assert csv_text("\tx") == "'\tx" and csv_text("\rx") == "'\rx" and csv_text("ok") == "ok"


def test_markdown_shows_tenant_markup_literally() -> None:
    changes = tuple(
        enrollment_create("MOC-WP-2027", name, valid_until=PLAN_AT, user_id=i)
        for i, name in enumerate(MARKUP + ESCAPES)
    )
    plan = Plan(at=PLAN_AT, lms="sandbox:x", changes=changes, products=("widget-pro",))
    text = render_markdown(plan)
    for raw in ("\n# Heading", "[click](http", "<img", "**bold**", "@octocat", "\x1b"):
        assert raw not in text, raw
    assert text.count("|cell") == text.count("\\|cell") > 0  # never a table cell
    # A code span that no backtick inside it can end.
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_text("[x](y)") == "\\[x\\](y)"


def test_no_escape_sequence_reaches_the_terminal(ws: Workspace) -> None:
    ws.load({"users": _users(ESCAPES), "enrollments": _completions(ESCAPES)})
    ran = ws.run("status", ESCAPES[0], "--config", "conf")
    assert ran.code == 0, ran.output
    assert "\x1b" not in ran.stdout and "\\u001b[2J" in ran.stdout
    planned = ws.run("plan", "conf", "--at", AT)
    assert planned.code == 0, planned.output
    assert "\x1b" not in planned.stdout and "\u202e" not in planned.stdout
    assert "\x00" not in planned.stdout
    plan = Plan(
        at=PLAN_AT,
        lms="sandbox:x",
        changes=(enrollment_create("CERT-WP", ESCAPES[0]),),
        products=("widget-pro",),
    )
    assert "\x1b[2J" not in render_text(plan, color=True)
    assert visible("a\x1b[31mb") == "a\\u001b[31mb"
