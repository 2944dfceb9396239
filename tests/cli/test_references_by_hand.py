"""Typos in references block (located, with a suggestion, nothing written), and statuses
set by hand in the LMS are shown apart and block under the default safety settings."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from certops.sandbox import create_app, init_sandbox, read_credentials
from tests.cli.conftest import Served, Workspace
from tests.support import serve_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

TYPOS = {
    # file, the correct text, the typo, the expected message
    "extension": (
        "gadget-max.yaml",
        "{user: jdoe, period",
        "{user: jdooe, period",
        "extension names user 'jdooe', who is not in the LMS (did you mean 'jdoe'?)",
    ),
    "reinstatement": (
        "gadget-max.yaml",
        "{user: asmith, at",
        "{user: asmiht, at",
        "reinstatement names user 'asmiht', who is not in the LMS (did you mean 'asmith'?)",
    ),
    "revocation": (
        "gadget-max.yaml",
        "{user: bcole, at",
        "{user: bcoel, at",
        "revocation names user 'bcoel', who is not in the LMS (did you mean 'bcole'?)",
    ),
    "initial course": (
        "widget-pro.yaml",
        "all_of: [WP-101, WP-102]",
        "all_of: [WP-101, WP-1O2]",
        "initial path 'classic' names course 'WP-1O2', which is not in the LMS "
        "(did you mean 'WP-102'?)",
    ),
}


def _demo(ws: Workspace) -> Path:
    init_sandbox(ws.db, demo=True, overwrite=True)
    target = ws.root / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


def _line_col(path: Path, text: str) -> tuple[int, int]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} not in {path}")


@contextmanager
def _served_demo(ws: Workspace) -> Iterator[Served]:
    """The demo sandbox served over HTTP (its call log shows every request certops made)."""
    saved = dict(ws.env)
    with serve_app(create_app(ws.db)) as url:
        creds = read_credentials(ws.db)
        ws.env.update(
            CERTOPS_LMS=url,
            DOCEBO_CLIENT_ID=creds.client_id,
            DOCEBO_CLIENT_SECRET=creds.client_secret,
            DOCEBO_USERNAME=creds.username,
            DOCEBO_PASSWORD=creds.password,
        )
        try:
            yield Served(ws, url)
        finally:
            ws.env = saved  # back to the in-process sandbox once the server is gone


def _writes(served: Served) -> list[tuple[str, str]]:
    return [
        (c["method"], c["path"])
        for c in served.calls()
        if c["method"] != "GET" and c["path"] != "/oauth2/token"
    ]


def test_each_typo_blocks_plan_and_apply_with_a_located_suggestion(ws: Workspace) -> None:
    conf = _demo(ws)
    with _served_demo(ws) as served:
        _typos_block(ws, conf, served)


def _typos_block(ws: Workspace, conf: Path, served: Served) -> None:
    expected: list[str] = []
    for file, good, bad, message in TYPOS.values():
        path = conf / file
        text = path.read_text(encoding="utf-8")
        assert good in text
        path.write_text(text.replace(good, bad), encoding="utf-8")
        word = bad.split("user: ")[-1].split(",")[0] if "user" in bad else "WP-1O2"
        line, col = _line_col(path, word)
        expected.append(f"examples/{file}:{line}:{col}: {message}")
    served.clear_calls()
    for command in (["plan"], ["apply", "--yes"]):
        ran = ws.run(*command, "examples", "--at", "2026-12-01")
        assert ran.code == 1, ran.output
        # All four problems in one run, each located, sorted by file and line.
        found = [line for line in ran.stderr.splitlines() if line.startswith("examples/")]
        assert found == sorted(expected), ran.stderr
        assert "nothing was changed" in ran.stderr
    assert _writes(served) == []
    ran = ws.run("validate", "examples", "--lms", served.url)
    assert ran.code == 1
    assert sorted(line for line in ran.stdout.splitlines() if line) == sorted(expected)
    assert _writes(served) == []
    # Offline validation cannot know: it still passes.
    assert ws.run("validate", "examples").code == 0


def test_a_deactivated_user_is_fine_and_warned_only_when_it_cannot_matter(
    ws: Workspace,
) -> None:
    conf = _demo(ws)
    path = conf / "gadget-max.yaml"
    text = path.read_text(encoding="utf-8")
    # learner0037 is deactivated in the demo and never took a Gadget Max course.
    extra = '      - {user: learner0037, at: 2026-06-01T00:00:00Z, reason: "left"}\n'
    path.write_text(text + extra, encoding="utf-8")
    ran = ws.run("plan", "examples", "--at", "2026-12-01", "--format", "json")
    assert ran.code == 0, ran.output
    messages = [w["message"] for w in ran.json()["warnings"]]
    assert any(
        "revocation names user 'learner0037', who is deactivated" in m
        and "changes nothing" in m
        and m.startswith("examples/gadget-max.yaml:")
        for m in messages
    ), messages


def test_a_status_set_by_hand_is_shown_apart_and_blocks(ws: Workspace) -> None:
    _demo(ws)
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0
    assert ws.run("apply", "examples", "--yes", "--at", "2027-01-02").code == 0
    before = ws.lms_state()
    suspended = sorted(u for c, u, s in before.enrollments if c == "CERT-WP" and s == "suspended")
    learner = next(u for u in suspended if u.startswith("learner"))
    # An admin reinstates the learner by hand in Docebo on 2027-01-05.
    ws.load(
        {
            "enrollments": [
                {
                    "user": learner,
                    "course": "CERT-WP",
                    "status": "completed",
                    "enrolled_at": "2026-12-01T00:00:00Z",
                    "completed_at": "2027-01-05T10:00:00Z",
                }
            ]
        }
    )
    ran = ws.run("plan", "examples", "--at", "2027-01-06")
    assert ran.code == 3, ran.output
    text = ran.stdout
    assert "Differs from the rules: set by hand? (1)" in text
    assert (
        f"widget-pro: {learner}: the LMS says completed, the rules say suspended "
        "(did not complete MOC-WP-20"
    ) in text
    assert f'- {{user: "{learner}", at: "2027-01-05T10:00:00Z", reason: ' in text
    assert "settings.safety.max_reverted_manual" in text
    plan = json.loads(ws.run("plan", "examples", "--at", "2027-01-06", "--format", "json").stdout)
    assert plan["summary"]["blocked"] is True
    [mark] = plan["by_hand"]
    assert mark["user"] == learner and mark["add_to"] == "reinstatements"
    assert mark["lms_status"] == "completed" and mark["rules_status"] == "suspended"
    assert [s["limit"] for s in plan["safety"]] == ["max_reverted_manual"]
    # The change itself still follows the rules.
    change = next(c for c in plan["changes"] if c["address"] == f"enrollment.CERT-WP.{learner}")
    assert change["after"] == {"status": "suspended"}
    markdown = ws.run("plan", "examples", "--at", "2027-01-06", "--format", "markdown").stdout
    assert "**Differs from the rules: set by hand?** (1)" in markdown
    # apply refuses without --force and writes nothing.
    blocked = ws.run("apply", "examples", "--yes", "--at", "2027-01-06")
    assert blocked.code == 3
    assert ws.lms_state().status("CERT-WP", learner) == "completed"
    # Adding the suggested entry makes the hand-made status official: nothing to undo.
    path = ws.root / "examples" / "widget-pro.yaml"
    entry = mark["entry"]
    text = path.read_text(encoding="utf-8").replace(
        "    enrollment_rule:",
        "    reinstatements:\n"
        f'      - {{user: {entry["user"]}, at: {entry["at"]}, reason: "{entry["reason"]}"}}\n'
        "    enrollment_rule:",
    )
    path.write_text(text, encoding="utf-8")
    after = ws.run("plan", "examples", "--at", "2027-01-06", "--format", "json")
    assert after.code == 0, after.output
    assert after.json()["by_hand"] == []
    assert not any(c["address"] == f"enrollment.CERT-WP.{learner}" for c in after.json()["changes"])


def test_the_limit_and_force_let_it_through(ws: Workspace) -> None:
    _demo(ws)
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0
    certified = sorted(
        u for c, u, s in ws.lms_state().enrollments if c == "CERT-GM" and s == "completed"
    )
    # An admin suspends a certified learner by hand (no exception names them).
    learner = next(u for u in certified if u not in ("jdoe", "asmith", "bcole"))
    ws.load({"enrollments": [{"user": learner, "course": "CERT-GM", "status": "suspended"}]})
    plan = ws.run("plan", "examples", "--at", "2026-12-02", "--format", "json")
    assert plan.code == 3
    [mark] = plan.json()["by_hand"]
    assert (mark["user"], mark["add_to"]) == (learner, "revocations")
    assert mark["entry"]["at"] == "2026-12-02T00:00:00Z"
    forced = ws.run("apply", "examples", "--yes", "--force", "--at", "2026-12-02")
    assert forced.code == 0, forced.output
    assert ws.lms_state().status("CERT-GM", learner) == "completed"
