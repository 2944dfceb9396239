"""Issue 5's acceptance run: the examples on a fresh demo sandbox, as the README tells it."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from pathlib import Path

from certops.config import load_config
from certops.connection import connect_reader
from certops.engine.facts import managed_codes
from certops.live import read_live
from certops.sandbox import init_sandbox
from tests.cli.conftest import LMSState, Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "2026-11-28T00:00:00Z"  # after the demo data (all at or before 2026-11-01)
# The maintenance courses desired at NOW (every period opened by then, plus the next one
# to open): each gets one visibility check, as the API cannot read visibility back.
VISIBILITY_CHECKS = {
    "course.MOC-GM-2026",
    "course.MOC-GM-2027",
    "course.MOC-SP-2026",
    "course.MOC-WP-2025",
    "course.MOC-WP-2026",
    "course.MOC-WP-2027",
}
# The demo's enrollment rules and notifications (one manual step each, 8) and the
# monthly digest rung that starts 90 days before the 2026 deadline (Widget Pro, Gadget Max).
RULES_AND_NOTIFICATIONS = 10


def plan_json(ws: Workspace, *args: str) -> dict:
    ran = ws.run("plan", "examples", "--format", "json", *args)
    assert ran.code in (0, 3), ran.output
    return json.loads(ran.stdout)


def demo(ws: Workspace) -> None:
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")
    ws.env["CERTOPS_AT"] = NOW


def test_examples_on_the_demo_sandbox(ws: Workspace) -> None:
    demo(ws)
    # 1. The first plan shows the whole setup. (Counts depend on the demo data; the shape
    # does not.)
    first = ws.run("plan", "examples")
    assert first.code == 0, first.output
    heads = first.stdout.splitlines()[:3]
    assert [h.split(":")[0] for h in heads] == ["gadget-max", "sprocket", "widget-pro"]
    assert all(" to create" in h for h in heads)
    summary = plan_json(ws)["summary"]
    # 8 setup steps, and on 2026-11-28 (33 days before the 2026 deadline) the monthly rung
    # of Widget Pro's and Gadget Max's digest ladders (Sprocket names no digest), plus one
    # visibility check per maintenance course.
    assert summary["create"] > 100
    assert summary["manual"] == RULES_AND_NOTIFICATIONS + len(VISIBILITY_CHECKS)  # 10 + 6
    assert "! notification.Maintenance of certification not yet completed.schedule.monthly" in (
        first.stdout
    )
    for address in (
        "+ course.CERT-GM",
        "+ course.MOC-GM-2027",
        "+ course.CERT-SP",
        "course.MOC-WP-2026",  # created, or put in shape if made by hand
        "+ catalog_item.SF-SYNC.CERT-WP",
        "+ group.Certified: Widget Pro",
        "! enrollment_rule.Certified: Gadget Max courses",
        "! notification.New Widget Pro certification",
        "! course.MOC-WP-2027",
    ):
        assert address in first.stdout, address
    # 2. Apply creates it.
    applied = ws.run("apply", "examples", "--yes")
    assert applied.code == 0, applied.output
    writes = summary["create"] + summary["update"]
    assert f"Apply: {writes} applied, 0 failed, 0 skipped, 16 manual" in applied.stdout
    # 3. The second plan has only manual steps, which can be acknowledged...
    second = plan_json(ws)
    # Steps already asked for at the apply's instant and not done yet: config.
    assert second["summary"] == {
        "create": 0,
        "update": 0,
        "manual": 16,
        "blocked": False,
        "classes": {"drift": 0, "schedule": 0, "config": 16},
        "effects": {
            "suspend": 0,
            "reinstate": 0,
            "certify": 0,
            "maintenance": 0,
            "deadline": 0,
            "create": 0,
            "update": 0,
            "manual": 16,
        },
    }
    manual = [c["address"] for c in second["changes"]]
    checks = {a for a in manual if a.startswith("course.")}
    assert checks == VISIBILITY_CHECKS
    rules = [a for a in manual if a not in checks]
    assert len(rules) == RULES_AND_NOTIFICATIONS
    assert all(a.startswith(("enrollment_rule.", "notification.")) for a in rules)
    acked = ws.run("ack", "--config", "examples", *manual)
    assert acked.code == 0, acked.output
    assert f"Acknowledged {len(manual)} step(s)" in acked.stdout
    # ...and then there is nothing left to do.
    assert ws.run("plan", "examples", "--detailed-exitcode").code == 0
    # 4. In the next period the plan shows the manual rollover switch.
    rollover = ws.run("plan", "examples", "--at", "2027-01-02")
    text = rollover.stdout
    assert "! enrollment_rule.Certified: Gadget Max courses" in text
    assert "Set the target courses to CERT-GM and MOC-GM-2027; remove MOC-GM-2026" in text
    assert "Set the target courses to CERT-WP and MOC-WP-2027" in text
    assert "Under Courses, select MOC-GM-2027" in text
    # Whether the suspensions trip the safety limit depends on how many demo learners did
    # their 2026 maintenance; either way the plan is shown in full.
    assert rollover.code in (0, 3), rollover.output
    # 5. The rollover itself (forced if blocked); after it, only the manual switch is left.
    rolled = ws.run("apply", "examples", "--yes", "--at", "2027-01-02")
    if rollover.code == 3:
        assert rolled.code == 3 and "nothing was applied" in rolled.stderr
        rolled = ws.run("apply", "examples", "--yes", "--force", "--at", "2027-01-02")
    assert rolled.code == 0, rolled.output
    assert ", 0 failed, 0 skipped" in rolled.stdout
    after = plan_json(ws, "--at", "2027-01-02")
    assert {c["action"] for c in after["changes"]} == {"manual"}
    # 6. Later exceptions take effect: jdoe's extension ends, asmith is reinstated.
    later = {c["address"]: c for c in plan_json(ws, "--at", "2027-02-15")["changes"]}
    assert later["enrollment.CERT-GM.asmith"]["after"] == {"status": "completed"}
    assert later["enrollment.CERT-GM.jdoe"]["after"] == {"status": "suspended"}
    assert later["enrollment.MOC-GM-2027.asmith"]["action"] == "create"


def test_replan_right_after_the_demo_apply_changes_nothing(ws: Workspace) -> None:
    """The README's apply at 2026-12-01, then the same plan again: every write was read back
    and is what the plan compares, so nothing is planned twice; only the manual steps are
    left, and once they are recorded the plan is empty."""
    demo(ws)
    at = "2026-12-01"
    first = plan_json(ws, "--at", at)["summary"]
    # 16 manual steps: the 8 rules and notifications, the weekly digest rung of Widget Pro
    # and Gadget Max (30 days before the 2026 deadline), and the 6 visibility checks (the
    # same maintenance courses are desired on 2026-12-01 as on 2026-11-28).
    manual_steps = RULES_AND_NOTIFICATIONS + len(VISIBILITY_CHECKS)
    assert manual_steps == 16 and first["manual"] == manual_steps
    applied = ws.run("apply", "examples", "--yes", "--at", at)
    assert applied.code == 0, applied.output
    writes = first["create"] + first["update"]
    assert f"Apply: {writes} applied, 0 failed, 0 skipped, 16 manual" in applied.stdout
    again = plan_json(ws, "--at", at)
    assert again["summary"] == {
        "create": 0,
        "update": 0,
        "manual": 16,
        "blocked": False,
        # Manual steps waiting for a person are config (nothing in the LMS drifted).
        "classes": {"config": 16, "drift": 0, "schedule": 0},
        "effects": {
            "suspend": 0,
            "reinstate": 0,
            "certify": 0,
            "maintenance": 0,
            "deadline": 0,
            "create": 0,
            "update": 0,
            "manual": 16,
        },
    }
    assert [c for c in again["changes"] if c["action"] != "manual"] == []
    manual = [c["address"] for c in again["changes"]]
    assert {a for a in manual if a.startswith("course.")} == VISIBILITY_CHECKS
    assert "notification.Maintenance of certification not yet completed.schedule.weekly" in manual
    acked = ws.run("ack", "--config", "examples", "--at", at, *manual)
    assert acked.code == 0, acked.output
    assert "Acknowledged 16 step(s)" in acked.stdout
    clean = ws.run("plan", "examples", "--at", at, "--detailed-exitcode")
    assert clean.code == 0, clean.output
    assert plan_json(ws, "--at", at)["changes"] == []


def test_markdown_of_the_demo_plan_fits_a_pull_request_comment(ws: Workspace) -> None:
    demo(ws)
    ran = ws.run("plan", "examples", "--format", "markdown")
    assert ran.code == 0, ran.output
    md = ran.stdout
    assert len(md.encode("utf-8")) <= 64_000
    table = md.index(
        "| product | suspend | reinstate | certify | maintenance | deadline | create | update "
        "| manual |"
    )
    assert table < md.index("<details>")
    assert "| widget-pro | " in md and "| sprocket | " in md
    assert md.count("<details>") == md.count("</details>") >= 3


def test_api_calls_of_a_plan_on_the_demo_sandbox(ws: Workspace) -> None:
    """The whole read costs a handful of calls, independent of the number of changes."""
    demo(ws)
    config = load_config([str(ws.root / "examples")])

    async def read() -> dict[str, int]:
        connection = connect_reader(ws.address)
        async with connection as reader:
            await read_live(reader, config)
        return connection.call_counts

    managed = {c for p in config.products for c in managed_codes(p)}
    users, enrollments = len(ws.lms_state().users), len(ws.lms_state().enrollments)

    def expected(state: LMSState) -> dict[str, int]:
        counts = {
            "POST /oauth2/token": 1,  # one token for the whole read
            "GET /learn/v1/courses": 1,  # every course, to map codes to ids
            "GET /learn/v1/courses/{id}": len(managed & set(state.course_codes)),
            "GET /learn/v1/catalog": 1,
            "GET /learn/v1/catalog/{id}": 1,  # the Salesforce catalog's items
            "GET /audiences/v1/audience": 1,
            "GET /audiences/v1/audience/{id}": len(state.group_names),  # the products' groups
            "GET /manage/v1/user": math.ceil(users / 200),  # 200 a page
        }
        return {k: v for k, v in counts.items() if v}

    for step in ("fresh", "set up"):
        if step == "set up":
            assert ws.run("apply", "examples", "--yes").code == 0
        state = ws.lms_state()
        counts = asyncio.run(read())
        pages = counts.pop("GET /course/v1/courses/enrollments")
        assert counts == expected(state), step
        # The enrollments of the named courses, 200 a page, the only call that grows with
        # the number of learners besides the user list.
        assert pages <= math.ceil(len(state.enrollments) / 200) + 1
        assert sum(counts.values()) + pages <= 30
    assert enrollments < len(ws.lms_state().enrollments)
