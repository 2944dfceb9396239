"""Change classes through the CLI: a hand edit in the LMS is drift, a passed deadline is
schedule, a YAML edit is config; ``plan --drift-only`` fails only on drift; without an
audit log the classes follow the documented fallback."""

from __future__ import annotations

import json
from typing import Any

import httpx

from certops.sandbox import read_credentials
from tests.cli.conftest import Served, Workspace


def plan_json(ws: Workspace, *args: str) -> dict[str, Any]:
    ran = ws.run("plan", "conf", "--format", "json", *args)
    assert ran.code in (0, 3), ran.output
    return ran.json()


def classes(data: dict[str, Any], *, manual: bool = False) -> dict[str, str]:
    """Class by address, of the writes (or of the manual steps: a visibility check shares
    its course's address)."""
    return {
        c["address"]: c["class"] for c in data["changes"] if (c["action"] == "manual") is manual
    }


def api(served: Served, method: str, path: str, body: Any = None) -> Any:
    """Calls the sandbox's Docebo API with its own admin token (not through certops)."""
    creds = read_credentials(served.ws.db)
    token = httpx.post(
        f"{served.url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "api",
        },
        timeout=10,
    ).json()["access_token"]
    response = httpx.request(
        method,
        f"{served.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def course_id(served: Served, code: str) -> int:
    items = api(served, "GET", "/learn/v1/courses?page_size=200")["data"]["items"]
    return next(int(c["id_course"]) for c in items if c["code"] == code)


def test_without_a_log_setup_is_config_and_enrollments_schedule(ws: Workspace) -> None:
    data = plan_json(ws)
    found = classes(data)
    assert found["course.MOC-W-2026"] == "config"  # create
    assert found["course.CERT-W"] == "config"  # a hand-made course put in shape
    assert found["enrollment.CERT-W.alice"] == "schedule"
    steps = classes(data, manual=True)
    assert steps["enrollment_rule.Certified: Widget courses"] == "schedule"
    assert steps["course.MOC-W-2026"] == "config"  # the visibility check
    assert "drift" not in {*found.values(), *steps.values()}  # never without a log


def test_hand_edit_is_drift_and_drift_only_fails_on_it(served: Served) -> None:
    ws = served.ws
    assert ws.run("apply", "conf", "--yes").code == 0
    # Right after the apply only the pending manual steps remain: not drift.
    after = plan_json(ws)
    assert classes(after) == {}
    assert set(classes(after, manual=True).values()) == {"config"}
    quiet = ws.run("plan", "conf", "--drift-only", "--detailed-exitcode")
    assert quiet.code == 0, quiet.output
    assert "No changes." in quiet.stdout

    # Someone turns the soft deadline on in the UI, and completes a certification by hand.
    api(
        served,
        "PUT",
        f"/learn/v1/courses/{course_id(served, 'MOC-W-2026')}",
        {"soft_deadline": True},
    )
    moved = plan_json(ws)
    found = classes(moved)
    assert found["course.MOC-W-2026"] == "drift"
    assert moved["summary"]["classes"]["drift"] == 1
    loud = ws.run("plan", "conf", "--drift-only", "--detailed-exitcode")
    assert loud.code == 2, loud.output
    assert "[drift] 1" in loud.stdout and "course.MOC-W-2026" in loud.stdout
    assert "enrollment_rule" not in loud.stdout  # only drift is shown
    md = ws.run("plan", "conf", "--drift-only", "--format", "markdown").stdout
    assert "#### Drift (1)" in md and "`course.MOC-W-2026`" in md
    # --out still saves the whole plan (a drift-only file could never be applied).
    saved = ws.run("plan", "conf", "--drift-only", "--out", "full.json")
    assert saved.code == 0, saved.output
    full = json.loads((ws.root / "full.json").read_text(encoding="utf-8"))
    assert len(full["changes"]) == len(moved["changes"]) > 1
    # Setting back a value certops wrote that someone changed since needs consent: the
    # plan is blocked by max_reverted_drift (the audit log's evidence, not the class), and
    # apply sends nothing.
    assert moved["summary"]["blocked"] is True
    [trip] = moved["safety"]
    assert (trip["limit"], trip["value"], trip["threshold"]) == ("max_reverted_drift", 1, 0)
    assert ws.run("plan", "conf", "--detailed-exitcode").code == 3
    before = ws.lms_state()
    refused = ws.run("apply", "conf", "--yes")
    assert refused.code == 3 and "max_reverted_drift" in refused.stdout
    assert ws.lms_state() == before
    # The configuration's opt-in lets it through; the exit code then counts every change.
    conf = ws.root / "conf" / "widget.yaml"
    text = conf.read_text(encoding="utf-8")
    conf.write_text(text.replace("min_population: 2}", "min_population: 2, "
                                 "max_reverted_drift: 1}"), encoding="utf-8")  # fmt: skip
    assert ws.run("plan", "conf", "--detailed-exitcode").code == 2
    assert ws.run("apply", "conf", "--yes").code == 0
    assert classes(plan_json(ws)) == {}


def test_passed_deadline_is_schedule_and_yaml_edit_is_config(ws: Workspace) -> None:
    assert ws.run("apply", "conf", "--yes").code == 0
    later = plan_json(ws, "--at", "2027-01-05T00:00:00Z")
    found = classes(later)
    # alice and bob did not complete MOC-W-2026 by 2026-12-31: suspended, due to the date.
    assert found["enrollment.CERT-W.alice"] == "schedule"
    assert found["enrollment.CERT-W.bob"] == "schedule"
    assert "drift" not in found.values()

    widget = ws.conf / "widget.yaml"
    widget.write_text(
        widget.read_text(encoding="utf-8").replace(
            "Your Widget certification status.", "Your Widget certification, as of today."
        ),
        encoding="utf-8",
    )
    edited = plan_json(ws)
    assert classes(edited)["course.CERT-W"] == "config"


def test_classes_do_not_change_the_digest(ws: Workspace) -> None:
    without = plan_json(ws, "--audit-log", "no-such-log.jsonl")
    assert ws.run("apply", "conf", "--yes").code == 0
    # Same changes planned with and without a log hash the same: the class only explains.
    again = plan_json(ws, "--audit-log", "no-such-log.jsonl")
    with_log = plan_json(ws)
    assert again["digest"] == with_log["digest"]
    # The rule step: schedule without a log, config with it (already asked at the apply).
    rule = "enrollment_rule.Certified: Widget courses"
    assert classes(again, manual=True)[rule] == "schedule"
    assert classes(with_log, manual=True)[rule] == "config"
    assert without["digest"] != again["digest"]  # the apply changed the LMS


def test_status_set_by_hand_is_drift(served: Served) -> None:
    ws = served.ws
    assert ws.run("apply", "conf", "--yes").code == 0
    users = api(served, "GET", "/manage/v1/user?page_size=200")["data"]["items"]
    alice = next(int(u["user_id"]) for u in users if u["username"] == "alice")
    # An admin suspends alice's Widget certification in the UI: certops set it completed.
    cert = course_id(served, "CERT-W")
    api(served, "PUT", f"/learn/v1/enrollments/{cert}/{alice}", {"status": 3})  # 3: suspended
    found = classes(plan_json(ws))
    assert found == {"enrollment.CERT-W.alice": "drift"}
